#!/usr/bin/env bash
# The hardening stage of CI (issue "Hardening"; docs/reliability.md):
#
#   build     the library, CLI, C tests and benchmarks (-Werror), and the
#             libFuzzer targets (clang, ASan + UBSan)
#   fuzz      every fuzz target for $PZ_FUZZ_SECONDS (25) seconds from its
#             seed corpus, two at a time; every input under
#             fuzz/regressions/ replayed first
#   valgrind  the whole C suite (pz_tests, and the parzen processes it
#             starts) under valgrind memcheck: zero reports
#   faults    python/tests/test_faults.py with the long tests on (driver
#             SIGKILL cycles, 16 concurrent runs for $PZ_FAULT_SECONDS)
#   bench     bench_100k --quick: memory and latency of a 100,000-trial
#             study against its budgets (time budgets only reported:
#             --soft-time; PZ_STRICT_BUDGETS=1 makes them fatal)
#
# Usage: scripts/hardening.sh [STEP...]      (default: every step)
# Budget: about 10 minutes on 2 cores. Longer fuzzing, e.g. before a
# release: PZ_FUZZ_SECONDS=3600 scripts/hardening.sh build fuzz.
# Environment: PZ_HARD_BUILD (build/hardening/c), PZ_HARD_FUZZ_BUILD
# (build/hardening/fuzz), PZ_HARD_OUT (build/hardening/out: logs, grown
# corpora, crash artifacts), PZ_JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${PZ_JOBS:-2}
build=${PZ_HARD_BUILD:-$root/build/hardening/c}
fuzz_build=${PZ_HARD_FUZZ_BUILD:-$root/build/hardening/fuzz}
out=${PZ_HARD_OUT:-$root/build/hardening/out}
fuzz_s=${PZ_FUZZ_SECONDS:-25}
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(build fuzz valgrind faults bench)

mkdir -p "$out"
t_start=$(date +%s)
summary=()
step() { printf '\n== hardening: %s\n' "$*" >&2; }
took() { summary+=("$(printf '%-9s %4d s  %s' "$1" $(($(date +%s) - $2)) "$3")"); }

do_build() {
    local t0
    t0=$(date +%s)
    step "build ($build, $fuzz_build)"
    cmake -S . -B "$build" -DPZ_WERROR=ON >/dev/null
    cmake --build "$build" -j"$jobs" >/dev/null
    CC=clang cmake -S . -B "$fuzz_build" -DPZ_FUZZ=ON -DPZ_TESTS=OFF \
        -DPZ_BENCH=OFF >/dev/null
    cmake --build "$fuzz_build" -j"$jobs" >/dev/null
    took build "$t0" ok
}

# target name, corpus/regression directory, dictionary (or "")
fuzz_targets=(
    "fuzz_space_json space_json space_json.dict"
    "fuzz_result result result.dict"
    "fuzz_store_open store -"
    "fuzz_cli_args cli_args cli_args.dict"
)

fuzz_one() { # target dir dict
    local target=$1 dir=$2 dict=$3 work="$out/corpus/$2" log="$out/fuzz-$2.log"
    local art="$out/artifacts/$2/" args=()
    mkdir -p "$work" "$art"
    [ "$dict" = - ] || args+=("-dict=fuzz/$dict")
    # Regressions first: each input once (a crash here is a regression).
    if ! "$fuzz_build/$target" fuzz/regressions/"$dir"/* >"$log" 2>&1; then
        echo "FAIL $target: a regression input crashes again (see $log)"
        return 1
    fi
    if ! "$fuzz_build/$target" -max_total_time="$fuzz_s" -timeout=20 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" \
        "${args[@]}" "$work" "fuzz/corpus/$dir" >>"$log" 2>&1; then
        echo "FAIL $target: crash, leak or timeout; input saved in $art" \
            "(add it to fuzz/regressions/$dir/ with the fix; log $log)"
        return 1
    fi
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "ok   $target: ${execs:-?} executions in ${fuzz_s} s, no finding"
}

do_fuzz() {
    local t0 pids=() results=() rc=0
    t0=$(date +%s)
    step "fuzz: ${#fuzz_targets[@]} targets x ${fuzz_s} s, 2 at a time"
    for i in "${!fuzz_targets[@]}"; do
        # shellcheck disable=SC2086
        fuzz_one ${fuzz_targets[$i]} >"$out/fuzz-result-$i.txt" &
        pids+=($!)
        if [ ${#pids[@]} -eq 2 ]; then
            wait "${pids[0]}" || rc=1
            pids=("${pids[1]}")
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    for i in "${!fuzz_targets[@]}"; do cat "$out/fuzz-result-$i.txt"; done
    took fuzz "$t0" "$([ $rc -eq 0 ] && echo ok || echo FAILED)"
    return $rc
}

do_valgrind() {
    local t0 logs="$out/valgrind" bad
    t0=$(date +%s)
    step "valgrind memcheck over the C suite"
    command -v valgrind >/dev/null || { echo "valgrind not installed"; return 1; }
    rm -rf "$logs" && mkdir -p "$logs"
    # Criterion runs each test in a worker process: --trace-children
    # follows them (and the parzen CLI the tests start); system programs
    # the runner tests spawn (sh, sleep, awk) are skipped. Reports go to
    # one file per process; -q leaves a file empty unless it has errors.
    # Leaks: definite and indirect (a fork child that _exit()s on purpose
    # to play a crash holds "possibly lost" blocks, not a leak).
    (cd "$build" && valgrind --trace-children=yes \
        --trace-children-skip='/bin/*,/usr/bin/*,/usr/local/bin/*,/sbin/*' \
        --log-file="$logs/vg.%p" -q --leak-check=full \
        --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect \
        ./pz_tests --jobs "$jobs" >"$logs/pz_tests.out" 2>&1) || {
        tail -20 "$logs/pz_tests.out"
        took valgrind "$t0" "FAILED (tests)"
        return 1
    }
    grep -h "Synthesis" "$logs/pz_tests.out" || true
    bad=$(find "$logs" -name 'vg.*' -size +0 | wc -l)
    if [ "$bad" -ne 0 ]; then
        find "$logs" -name 'vg.*' -size +0 -exec head -40 {} \;
        took valgrind "$t0" "FAILED ($bad processes with reports, $logs)"
        return 1
    fi
    took valgrind "$t0" "ok: $(ls "$logs" | grep -c '^vg\.') processes, 0 reports"
}

do_faults() {
    local t0 py="$root/.venv/bin/python"
    t0=$(date +%s)
    step "fault injection (python/tests/test_faults.py, long tests on)"
    [ -x "$py" ] || bash scripts/setup-python.sh
    PZ_LONG_FAULTS=1 PZ_FAULT_SECONDS=${PZ_FAULT_SECONDS:-20} \
        PARZEN_CLI="$build/parzen" \
        "$py" -m pytest -q -p no:cacheprovider python/tests/test_faults.py || {
        took faults "$t0" FAILED
        return 1
    }
    took faults "$t0" ok
}

do_bench() {
    local t0 soft=--soft-time
    t0=$(date +%s)
    step "100,000-trial study against its budgets (bench_100k --quick)"
    [ "${PZ_STRICT_BUDGETS:-0}" = 1 ] && soft=
    "$build/bench_100k" --quick $soft | tee "$out/bench_100k.md" || {
        took bench "$t0" FAILED
        return 1
    }
    took bench "$t0" ok
}

rc=0
for s in "${steps[@]}"; do
    case $s in
    build) do_build ;;
    fuzz) do_fuzz || rc=1 ;;
    valgrind) do_valgrind || rc=1 ;;
    faults) do_faults || rc=1 ;;
    bench) do_bench || rc=1 ;;
    *) echo "unknown step '$s' (build fuzz valgrind faults bench)" >&2; exit 2 ;;
    esac
done
printf '\n== hardening summary (%d s)\n' $(($(date +%s) - t_start))
printf '%s\n' "${summary[@]}"
exit $rc
