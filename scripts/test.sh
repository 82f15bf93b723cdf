#!/usr/bin/env bash
# Run every parzen test from a fresh checkout: system packages, the C
# library and CLI (warnings as errors), the C and CLI suites plain and
# under ASan+UBSan, the format check, the hardening stage
# (scripts/hardening.sh: fuzzing, valgrind, long fault tests, 100k-trial
# budgets; 5-9 minutes on 2 cores), the wheel a user installs
# (scripts/test-wheel.sh, about 2-4 minutes), the mutation check of the
# Python suite's sampler claims (scripts/mutation-check.sh), hyperopt's own
# unit tests against parzen (scripts/conformance-hyperopt-unit.sh) and the
# Python suite in .venv (failing on any skip not allowed in
# python/tests/conftest.py).
# PZ_SKIP_HARDENING=1 leaves the hardening stage out; PZ_HARDENING_TIMEOUT
# (1200 s) bounds it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${PZ_JOBS:-2}

step() { printf '\n== %s\n' "$*" >&2; }

step "system packages"
bash scripts/deps.sh

step "format check (clang-format)"
clang-format --dry-run -Werror src/*.c src/*.h cli/*.c cli/*.h include/*.h \
    tests/*.c fuzz/*.c fuzz/*.h $(ls tests/*.h bench/*.c bench/*.h python/_core/*.c python/_core/*.h 2>/dev/null)

build_and_test() { # dir, extra cmake args...
    local dir=$1
    shift
    cmake -S . -B "$dir" -DPZ_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    (cd "$dir" && ctest --output-on-failure -j1)
}

step "C library, CLI and tests (-Werror)"
build_and_test build/ci

step "C tests under AddressSanitizer + UBSan"
ASAN_OPTIONS=detect_leaks=1 build_and_test build/asan -DPZ_SANITIZE=ON \
    -DPZ_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug

# Before the hardening stage: its fault tests import the extension, which
# must be built from these sources.
if [ -f pyproject.toml ]; then
    step "Python package (.venv)"
    bash scripts/setup-python.sh
fi

# The hardening stage, bounded: timeout gives it a process group of its
# own and kills all of it (fuzzers, valgrind, pytest) when the limit
# passes. Out of the terminal's foreground group, it gets Ctrl-C from the
# trap (as SIGTERM: the fuzzers run in the background, ignoring SIGINT).
# It reuses build/ci (the same configuration) for the library, tests and
# benchmarks, and builds the fuzz targets in build/hardening/fuzz.
if [ "${PZ_SKIP_HARDENING:-0}" != 1 ]; then
    limit=${PZ_HARDENING_TIMEOUT:-1200}
    step "hardening stage (scripts/hardening.sh, at most $limit s)"
    PZ_HARD_BUILD=$root/build/ci timeout -k 30 "$limit" \
        bash scripts/hardening.sh &
    hard=$!
    interrupted=0
    trap 'interrupted=1; kill -TERM "$hard" 2>/dev/null || true' INT
    hard_rc=0
    wait "$hard" || hard_rc=$?
    while kill -0 "$hard" 2>/dev/null; do # a trap ended the wait early
        hard_rc=0
        wait "$hard" || hard_rc=$?
    done
    trap - INT
    if [ "$interrupted" = 1 ]; then
        exit 130
    elif [ "$hard_rc" = 124 ]; then
        echo "hardening stage: stopped after $limit s" >&2
    fi
    [ "$hard_rc" = 0 ] || exit "$hard_rc"
fi

if [ -f pyproject.toml ]; then
    step "wheel: sdist -> repaired wheel -> fresh venv, system libs hidden"
    bash scripts/test-wheel.sh

    # Each sampler claim must fail with the samplers broken on purpose.
    step "mutation check (scripts/mutation-check.sh)"
    bash scripts/mutation-check.sh

    # hyperopt's own unit tests against parzen as `hyperopt`.
    step "conformance: hyperopt's unit tests (scripts/conformance-hyperopt-unit.sh)"
    bash scripts/conformance-hyperopt-unit.sh

    # Last, so that its summary closes the log. The command-line tests run
    # the binary built above. Skips are listed with their reasons (-rs);
    # one not on ALLOWED_SKIPS (python/tests/conftest.py) fails the run.
    step "Python tests"
    PARZEN_CLI=$root/build/ci/parzen "$root/.venv/bin/python" -m pytest -q \
        -rs python/tests
fi
