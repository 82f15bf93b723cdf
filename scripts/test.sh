#!/usr/bin/env bash
# Run every parzen test from a fresh checkout: system packages, the C
# library and CLI (warnings as errors), the C and CLI suites plain and
# under ASan+UBSan, the format check, and the Python suite in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${PZ_JOBS:-2}

step() { printf '\n== %s\n' "$*" >&2; }

step "system packages"
bash scripts/deps.sh

step "format check (clang-format)"
clang-format --dry-run -Werror src/*.c src/*.h cli/*.c cli/*.h include/*.h \
    tests/*.c fuzz/*.c fuzz/*.h $(ls tests/*.h bench/*.c python/_core/*.c python/_core/*.h 2>/dev/null)

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

if [ -f pyproject.toml ]; then
    step "Python package and tests"
    bash scripts/setup-python.sh
    "$root/.venv/bin/python" -m pytest -q python/tests
fi
