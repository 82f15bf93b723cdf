#!/bin/sh
# Tests of pruning in 'parzen run' (docs/cli.md, "Pruning"): commands that
# append "STEP VALUE" lines to $PARZEN_REPORT_FILE; trials stopped by
# --pruner recorded PRUNED and their process group terminated; a
# malformed line and a step going backwards named in the trial's error
# while the run goes on; a non-finite value a warning; show/export with
# the reports; resuming a store with pruned trials; --pruner-opt errors.
#
#   tests/cli/run_prune.sh PATH/TO/parzen
#
# Nothing depends on timing beyond generous sleeps: a trial that is not
# pruned sleeps 2 s after its last report, which a pruned one never
# finishes (its marker file tells). Plain POSIX sh; the last line is
# "N passed, N failed".

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/parzen" >&2
    exit 2
fi
case $1 in
/*) parzen=$1 ;;
*) parzen=$(pwd)/$1 ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/parzen-prune.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
cd "$tmp" || exit 2
TMPDIR=$tmp
export TMPDIR

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok - %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL - %s: %s\n' "$1" "$2"; }

run() {
    name=$1
    shift
    "$parzen" "$@" </dev/null >"$name.out" 2>"$name.err"
    echo $? >"$name.status"
}
status_is() { [ "$(cat "$1.status")" = "$2" ] || { fail "$1" "exit status $(cat "$1.status"), expected $2: $(cat "$1.err")"; return 1; }; }
has() { grep -q -- "$2" "$1" || { fail "$3" "'$2' not in $1: $(head -c 600 "$1")"; return 1; }; }

printf '{"x": {"hp": "uniform", "low": 0, "high": 1}}\n' >space.json

# curve.sh X: loss x + 1/(step+1) at steps 0..3, then 2 s, then done.
cat >curve.sh <<'SH'
#!/bin/sh
x=$1
for s in 0 1 2 3; do
    awk -v x="$x" -v s="$s" 'BEGIN { print s, x + 1 / (s + 1) }' \
        >>"$PARZEN_REPORT_FILE"
done
sleep 2
touch "finished.$PARZEN_TRIAL_ID"
awk -v x="$x" 'BEGIN { print x + 0.25 }'
SH
chmod +x curve.sh

# ------------------------------------------------- sha prunes and kills
run sha run space.json --max-evals 6 --store p.db --algo rand --seed 3 \
    --pruner sha --pruner-opt reduction_factor=2 --json -- ./curve.sh '{x}'
if status_is sha 0; then
    n_pruned=$(grep -c '"state": "pruned"' sha.out)
    n_done=$(grep -c '"state": "done"' sha.out)
    if [ "$n_pruned" -ge 1 ] && [ $((n_pruned + n_done)) -eq 6 ]; then
        pass "sha: $n_pruned of 6 trials pruned, the rest done"
    else
        fail "sha" "$n_pruned pruned, $n_done done: $(cat sha.out)"
    fi
    has sha.out '"pruned": '"$n_pruned" "sha end event"
    # a pruned trial was stopped before its end: no marker
    ok=1
    for id in $(grep '"state": "pruned"' sha.out |
                sed 's/.*"id": \([0-9]*\),.*/\1/'); do
        [ -e "finished.$id" ] && ok=0
    done
    for id in $(grep '"state": "done"' sha.out |
                sed 's/.*"id": \([0-9]*\),.*/\1/'); do
        [ -e "finished.$id" ] || ok=0
    done
    [ $ok = 1 ] && pass "pruned trials were terminated, done ones ran to the end" ||
        fail "terminated" "markers: $(ls finished.* 2>/dev/null | tr '\n' ' ')"
    # the first trial is always promoted (nobody to compare with)
    has sha.out '"event": "finish", "id": 0, .*"state": "done"' "trial 0 done"
fi

# ------------------------------------------------------- show and export
run show show --store p.db
has show.out 'pruned' "show lists pruned trials" && pass "show lists pruned trials"
pid=$(grep '"state": "pruned"' sha.out | head -1 | sed 's/.*"id": \([0-9]*\),.*/\1/')
if [ -n "$pid" ]; then
    run detail show --store p.db --trial "$pid"
    has detail.out 'state     pruned' "detail state" &&
        has detail.out 'reports   ' "detail reports" &&
        has detail.out 'pruned at step' "detail error" &&
        pass "show --trial $pid: state, reports and why"
    run jsonl export --store p.db --format jsonl
    line=$(grep "^{\"id\": $pid," jsonl.out)
    case $line in
    *'"state": "pruned"'*'"intermediate_values": [[0, '*) pass "export jsonl: pruned with its intermediate values" ;;
    *) fail "export jsonl" "$line" ;;
    esac
fi

# ------------------------------------------------- resume with pruned trials
run resume run space.json --max-evals 8 --store p.db --pruner sha \
    --pruner-opt reduction_factor=2 --json -- ./curve.sh '{x}'
if status_is resume 0; then
    n_new=$(grep -c '"event": "finish"' resume.out)
    [ "$n_new" = 2 ] && pass "resume: pruned trials count, 2 more trials run" ||
        fail "resume" "$n_new trials run: $(cat resume.out)"
    has resume.err 'resuming study' "resume announce"
fi

# ------------------------------------------------------------ bad lines
cat >bad.sh <<'SH'
#!/bin/sh
case $PARZEN_TRIAL_ID in
0) printf '0 1.5\nnot a report\n' >>"$PARZEN_REPORT_FILE" ;;
1) printf '5 1.0\n3 0.5\n' >>"$PARZEN_REPORT_FILE" ;;
2) printf '0 nan\n1 0.5\n' >>"$PARZEN_REPORT_FILE" ;;
esac
sleep 1
echo 0.5
SH
chmod +x bad.sh
run bad run space.json --max-evals 3 --store bad.db --algo rand --json -- ./bad.sh
if status_is bad 0; then
    has bad.out "\"id\": 0, .*\"state\": \"error\".*report file line 2: 'not a report': expected 'STEP VALUE'" "malformed line" &&
        pass "a malformed line fails its trial, naming line and text"
    has bad.out "\"id\": 1, .*\"state\": \"error\".*report file line 2: '3 0.5': trial 1: step 3 reported after step 5" "backwards" &&
        pass "a step going backwards fails its trial, naming both steps"
    has bad.out '"id": 2, .*"state": "done"' "nan trial done" &&
        has bad.err 'warning: trial 2: non-finite value nan at step 0 ignored' "nan warning" &&
        pass "a non-finite value is ignored with a warning naming the trial"
    has bad.out '"event": "end", "reason": "max_trials"' "run goes on" &&
        pass "the run goes on after bad reports"
fi

# ------------------------------------------------------------ bad options
run opt1 run space.json --max-evals 2 --store o.db --pruner median \
    --pruner-opt n_startup=3 -- true
status_is opt1 2 && has opt1.err "pruner 'median': unknown option 'n_startup'" "opt key" &&
    pass "an unknown --pruner-opt names the key"
run opt2 run space.json --max-evals 2 --store o.db --pruner sha \
    --pruner-opt reduction_factor=1 -- true
status_is opt2 2 && has opt2.err "option 'reduction_factor' must be an integer >= 2" "opt value" &&
    pass "a bad --pruner-opt value names the key"
run opt3 run space.json --max-evals 2 --store o.db --pruner-opt a=1 -- true
status_is opt3 2 && has opt3.err "needs --pruner" "opt without pruner" &&
    pass "--pruner-opt without --pruner"
run opt4 run space.json --max-evals 2 --store o.db --pruner asha -- true
status_is opt4 2 && has opt4.err "expects median, sha, hyperband or none" "bad pruner" &&
    pass "an unknown --pruner"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
