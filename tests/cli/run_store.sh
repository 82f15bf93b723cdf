#!/bin/sh
# Tests of the store commands of the parzen command: run, show, best,
# export, status.
#
#   tests/cli/run_store.sh PATH/TO/parzen
#
# Golden outputs live in tests/cli/store/ (times, durations and owners are
# masked first, see 'norm'); UPDATE_GOLDEN=1 rewrites them. The objectives
# are the scripts in tests/cli/objectives/. Besides the goldens: every
# usage error of 'run' (exit 2, one line), store errors (exit 3), a
# 'kill -9' of 'parzen run' mid-run then a resume, two 'parzen run' on one
# store at once, Ctrl-C, and shell metacharacters in a parameter value.
# Nothing depends on timing: waits are bounded loops with generous limits.
#
# Plain POSIX sh. The last line is "N passed, N failed"; the exit status
# is non-zero when a test failed.

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/parzen" >&2
    exit 2
fi
case $1 in
/*) parzen=$1 ;;
*) parzen=$(pwd)/$1 ;;
esac
[ -x "$parzen" ] || { echo "$0: $parzen is not an executable" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
obj=$here/objectives
golden=$here/store
space=$golden/space.json
tmp=$(mktemp -d "${TMPDIR:-/tmp}/parzen-store.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
cd "$tmp" || exit 2
# Trial files of runs (a kill -9 leaves its directory behind) go here too.
TMPDIR=$tmp
export TMPDIR

passed=0
failed=0
# printf, not echo: dash's echo would expand the \n of escaped messages.
pass() { passed=$((passed + 1)); printf 'ok - %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL - %s: %s\n' "$1" "$2"; }

# run NAME ARGS...: parzen with stdin closed, into NAME.out/.err/.status
run() {
    name=$1
    shift
    "$parzen" "$@" </dev/null >"$name.out" 2>"$name.err"
    echo $? >"$name.status"
}

lines() { wc -l <"$1" | tr -d ' '; }

# Mask what changes from run to run: times, durations, owners.
norm() {
    sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9.]+Z/TIME/g' \
        -e 's/"duration(_s)?": [0-9.e+-]+/"duration\1": D/g' \
        -e 's/"owner": \{[^}]*\}/"owner": OWNER/' \
        -e 's/TIME,TIME,[0-9.e+-]*,/TIME,TIME,D,/' \
        -e 's/[0-9]+\.[0-9]{2}  ([{])/X.XX  \1/' \
        -e 's/^(  duration +)[0-9.]+ s$/\1D s/'
}

# golden NAME FILE: FILE (normalized) equals store/NAME
golden() {
    norm <"$2" >"$2.norm"
    if [ -n "${UPDATE_GOLDEN:-}" ]; then
        cp "$2.norm" "$golden/$1"
        pass "$1 (golden updated)"
    elif diff -u "$golden/$1" "$2.norm" >"$1.diff"; then
        pass "$1"
    else
        fail "$1" "differs from the golden file:"
        cat "$1.diff"
    fi
}

# expect NAME STATUS: the run NAME exited with STATUS
expect_status() {
    got=$(cat "$1.status")
    [ "$got" = "$2" ] || { fail "$1" "exit status $got, expected $2"; cat "$1.err"; return 1; }
}

# usage_error MESSAGE ARGS...: exit 2, nothing on stdout, exactly
# "parzen: MESSAGE" on stderr.
n_usage=0
usage_error() {
    msg=$1
    shift
    n_usage=$((n_usage + 1))
    name=usage$n_usage
    run "$name" "$@"
    expect_status "$name" 2 || return
    if [ -s "$name.out" ]; then
        fail "$name" "printed on stdout: $(head -c 200 "$name.out")"
    elif [ "$(lines "$name.err")" != 1 ] ||
         [ "$(cat "$name.err")" != "parzen: $msg" ]; then
        fail "$name ($*)" "stderr is '$(cat "$name.err")', expected 'parzen: $msg'"
    else
        pass "usage error: $msg"
    fi
}

# one_line_error NAME STATUS ARGS...: exit STATUS, one line on stderr
one_line_error() {
    name=$1
    status=$2
    shift 2
    run "$name" "$@"
    expect_status "$name" "$status" || return
    if [ -s "$name.out" ] || [ "$(lines "$name.err")" != 1 ]; then
        fail "$name" "not one line on stderr: $(cat "$name.out" "$name.err")"
    else
        pass "$name: $(cat "$name.err")"
    fi
}

sq="$obj/square.sh"

# -------------------------------------------------------------- usage errors
U="usage: parzen run SPACE.json --max-evals N [options] -- COMMAND [ARGS...]"
usage_error "run: missing SPACE.json ($U)" run
usage_error "run: missing SPACE.json ($U)" run --max-evals 3 -- true
usage_error "run: --max-evals N is required ($U)" run "$space" -- true
usage_error "run: missing '-- COMMAND [ARGS...]' after the options" \
    run "$space" --max-evals 3
usage_error "run: missing '-- COMMAND [ARGS...]' after the options" \
    run "$space" --max-evals 3 --
usage_error "--max-evals expects a whole number from 1 to 1000000000, got '0'" \
    run "$space" --max-evals 0 -- true
usage_error "--max-evals expects a whole number from 1 to 1000000000, got 'ten'" \
    run "$space" --max-evals ten -- true
usage_error "--max-evals needs a value" run "$space" --max-evals
usage_error "--max-evals needs a value" run "$space" --max-evals -- true
usage_error "--parallelism expects a whole number from 1 to 4096, got '0'" \
    run "$space" --max-evals 3 --parallelism 0 -- true
usage_error "--algo expects tpe, mtpe, rand, anneal or mix, got 'grid'" \
    run "$space" --max-evals 3 --algo grid -- true
usage_error "--seed expects a whole number from 0 to 18446744073709551615, got '-1'" \
    run "$space" --max-evals 3 --seed -1 -- true
usage_error "--timeout expects a number > 0, got '-5'" \
    run "$space" --max-evals 3 --timeout -5 -- true
usage_error "--trial-timeout expects a number > 0, got '0'" \
    run "$space" --max-evals 3 --trial-timeout 0 -- true
usage_error "--loss-threshold expects a finite number, got 'nan'" \
    run "$space" --max-evals 3 --loss-threshold nan -- true
usage_error "--patience expects a whole number from 1 to 1000000000, got '1.5'" \
    run "$space" --max-evals 3 --patience 1.5 -- true
usage_error "--no-progress expects a whole number from 1 to 1000000000, got '0'" \
    run "$space" --max-evals 3 --no-progress 0 -- true
usage_error "--store expects a non-empty value" \
    run "$space" --max-evals 3 --store "" -- true
usage_error "--study expects a non-empty value" \
    run "$space" --max-evals=3 --study= -- true
usage_error "--quiet takes no value" run "$space" --max-evals 3 --quiet=yes -- true
usage_error "run: unknown option '--max-eval' (try 'parzen run --help')" \
    run "$space" --max-eval 3 -- true
usage_error "run: unexpected argument 'extra' (the command goes after '--')" \
    run "$space" extra --max-evals 3 -- true
usage_error "command not found or not executable: 'no-such-objective'" \
    run "$space" --max-evals 3 -- no-such-objective
usage_error "nope.json: No such file or directory" \
    run nope.json --max-evals 3 -- true
# Control characters of arguments and paths are escaped: still one line.
usage_error "--max-evals expects a whole number from 1 to 1000000000, got '1\n2'" \
    run "$space" --max-evals "$(printf '1\n2')" -- true
usage_error "no\nsuch\t\x1b.json: No such file or directory" \
    run "$(printf 'no\nsuch\t\033.json')" --max-evals 3 -- true
[ ! -e parzen.db ] && pass "usage errors create no store" ||
    fail "usage errors" "a store was created"

run help run --help
expect_status help 0 && grep -q "^usage: parzen run SPACE.json" help.out &&
    pass "run --help" || fail "run --help" "$(cat help.out help.err)"

# ---------------------------------------------------------- a golden study
run first run "$space" --max-evals 6 --algo rand --seed 7 -- "$sq" "{x}" "{opt}"
expect_status first 0 && golden run.stderr first.err
[ -s first.out ] && fail "run stdout" "not empty: $(cat first.out)" ||
    pass "run prints nothing on stdout"
run show show
golden show.txt show.out
run best best
golden best.json best.out
run status status
golden status.txt status.out
run csv export --format csv
golden export.csv csv.out
run jsonl export --format jsonl
golden export.jsonl jsonl.out
run trial show --trial 1
golden trial.txt trial.out

# The same line with a larger target resumes: the first trials are kept.
cp csv.out before.csv
run resume run "$space" --max-evals 9 --algo rand --seed 7 -- "$sq" "{x}" "{opt}"
expect_status resume 0 && golden resume.stderr resume.err
run csv2 export
if [ "$(head -7 csv2.out)" = "$(cat before.csv)" ] &&
   [ "$(lines csv2.out)" = 10 ]; then
    pass "resume keeps the first 6 trials and adds 3"
else
    fail "resume" "$(cat csv2.out)"
fi
run again run "$space" --max-evals 9 -- "$sq" "{x}" "{opt}"
expect_status again 0 && [ "$(lines again.err)" = 2 ] &&
    grep -q "9 of 9 trials evaluated" again.err &&
    pass "a finished study runs nothing more" || fail again "$(cat again.err)"

run events run "$space" --study events --max-evals 3 --algo rand --seed 7 \
    --json --quiet -- "$sq" "{x}" "{opt}"
expect_status events 0 && golden events.jsonl events.out

# mtpe: the default sampler of a new study (and --algo mtpe names it);
# 30 trials run past its startup.
run mtpe run "$space" --study mtpe --max-evals 30 --seed 4 \
    -- "$sq" "{x}" "{opt}"
run mtpe2 run "$space" --study mtpe2 --max-evals 12 --algo mtpe --seed 4 \
    -- "$sq" "{x}" "{opt}"
if expect_status mtpe 0 && grep -q "(sampler mtpe, seed 4)" mtpe.err &&
   grep -q "reached --max-evals): 30 done" mtpe.err &&
   grep -q "(sampler mtpe, seed 4)" mtpe2.err; then
    pass "run: mtpe by default and by --algo mtpe"
else
    fail "run mtpe" "$(cat mtpe.err mtpe2.err)"
fi

# ------------------------------------------------------- mismatches, errors
one_line_error mismatch_seed 2 run "$space" --max-evals 9 --seed 8 -- "$sq"
one_line_error mismatch_algo 2 run "$space" --max-evals 9 --algo tpe -- "$sq"
echo '{"x": {"hp": "uniform", "low": 0, "high": 1}}' >other.json
one_line_error mismatch_space 2 run other.json --max-evals 9 -- "$sq"
grep -q "different space" mismatch_space.err &&
    pass "mismatched space named" || fail mismatch_space "$(cat mismatch_space.err)"
one_line_error missing_store 3 show --store missing.db
grep -qx "parzen: no store at 'missing.db'" missing_store.err &&
    pass "missing store named" || fail missing_store "$(cat missing_store.err)"
one_line_error newline_store 3 show --store "$(printf 'no\nsuch.db')"
[ "$(cat newline_store.err)" = "parzen: no store at 'no\\nsuch.db'" ] &&
    pass "a store path with a newline is escaped" ||
    fail newline_store "$(cat newline_store.err)"
head -c 5000 /dev/urandom >garbage.db
one_line_error garbage_store 3 best --store garbage.db
one_line_error missing_study 1 show --study nope
one_line_error bad_format 2 export --format xml
one_line_error show_bad_option 2 show --trail 3
one_line_error show_bad_trial 2 show --trial x
one_line_error show_no_trial 1 show --trial 99
one_line_error best_extra_arg 2 best extra
one_line_error status_no_study 1 status --study nope

# ----------------------------------------------------- every way to fail
run fails run "$space" --store fails.db --max-evals 10 --parallelism 4 \
    --algo rand --seed 1 --trial-timeout 2 -- "$obj/fails.sh"
expect_status fails 0 && golden fails.stderr fails.err
run fshow show --store fails.db
golden fails.txt fshow.out
run fbig show --store fails.db --trial 7
if grep -q "^--- stdout (last 65536 bytes) ---" fbig.out &&
   [ "$(tail -1 fbig.out)" = 0.5 ]; then
    pass "megabytes of output keep a 64 KiB tail"
else
    fail "output tail" "$(head -c 300 fbig.out)"
fi

# ------------------------------------------- shell metacharacters, literally
cat >meta.json <<'EOF'
{"v": {"hp": "choice", "options": ["; rm -rf ~", "$(touch PWNED)", "`touch PWNED`", "a b"]}}
EOF
cat >record.sh <<'EOF'
#!/bin/sh
printf '%s\n' "$1" >>values.txt
echo 0
EOF
chmod +x record.sh
run meta run meta.json --store meta.db --max-evals 12 --algo rand --seed 3 \
    --quiet -- ./record.sh "{v}"
if expect_status meta 0 && [ ! -e PWNED ] &&
   [ "$(sort -u values.txt)" = "$(printf '%s\n' '$(touch PWNED)' '; rm -rf ~' '`touch PWNED`' 'a b' | sort)" ]; then
    pass "shell metacharacters reach the program literally"
else
    fail "metacharacters" "$(cat values.txt)"
fi

# --------------------------------------- kill -9 mid-run, then resume
export KILL_AT=5 MARKER="$tmp/killed"
run k1 run "$space" --store kill.db --max-evals 12 --parallelism 3 \
    --algo rand --seed 5 -- "$obj/killer.sh" "{x}" "{opt}"
if [ "$(cat k1.status)" = 137 ] && [ -d "$MARKER" ]; then
    pass "parzen run killed with SIGKILL mid-run"
else
    fail "kill -9" "status $(cat k1.status): $(cat k1.err)"
fi
run before_kill export --store kill.db
grep ',done,' before_kill.out >done_before.csv
run k2 run "$space" --store kill.db --max-evals 12 --parallelism 3 \
    -- "$obj/killer.sh" "{x}" "{opt}"
expect_status k2 0 && grep -q "marked [0-9]* lost trials* CANCEL" k2.err &&
    pass "resume marks the dead run's trials lost" || fail k2 "$(cat k2.err)"
run after_kill export --store kill.db
n_done=$(cut -d, -f2 after_kill.out | grep -c -x 'done\|error')
n_ids=$(tail -n +2 after_kill.out | cut -d, -f1 | sort -u | wc -l | tr -d ' ')
n_rows=$(tail -n +2 after_kill.out | wc -l | tr -d ' ')
kept=$(grep -c -F -x -f done_before.csv after_kill.out)
if [ "$n_done" = 12 ] && [ "$n_ids" = "$n_rows" ] &&
   [ "$kept" = "$(lines done_before.csv)" ] &&
   ! grep -q ',running,' after_kill.out; then
    pass "after kill -9 and resume: 12 finished, no duplicate ids, none lost"
else
    fail "kill -9 resume" "done $n_done, ids $n_ids of $n_rows rows, kept $kept of $(lines done_before.csv)"
    cat after_kill.out
fi
unset KILL_AT MARKER

# ------------------------------------------- two runs on one store at once
"$parzen" run "$space" --store two.db --max-evals 40 --parallelism 3 \
    --algo rand --seed 9 --json --quiet -- "$sq" "{x}" "{opt}" \
    </dev/null >a.out 2>a.err &
pa=$!
"$parzen" run "$space" --store two.db --max-evals 40 --parallelism 3 \
    --algo rand --seed 9 --json --quiet -- "$sq" "{x}" "{opt}" \
    </dev/null >b.out 2>b.err &
pb=$!
wait $pa
sa=$?
wait $pb
sb=$?
run two export --store two.db --format jsonl
# finish events of both runs: "id loss" lines, compared with the store
sed -n 's/^{"event": "finish", "id": \([0-9]*\),.*"state": "done".*"loss": \([^,]*\),.*/\1 \2/p' \
    a.out b.out | sort -n >finished.txt
sed -n 's/^{"id": \([0-9]*\), "state": "done", "status": "ok", "loss": \([^,]*\),.*/\1 \2/p' \
    two.out | sort -n >stored.txt
n_ids=$(cut -d' ' -f1 stored.txt | sort -u | wc -l | tr -d ' ')
if [ $sa = 0 ] && [ $sb = 0 ] && [ "$(lines stored.txt)" = 40 ] &&
   [ "$n_ids" = 40 ] && [ "$(lines two.out)" = 40 ] &&
   cmp -s finished.txt stored.txt; then
    pass "two concurrent runs: 40 trials, no duplicate ids, no lost results"
else
    fail "two runs" "status $sa $sb; $(lines stored.txt) stored, $n_ids ids, $(lines finished.txt) finished"
    cat a.err b.err
fi
if [ "$(grep -c '"event": "finish"' a.out)" -gt 0 ] &&
   [ "$(grep -c '"event": "finish"' b.out)" -gt 0 ]; then
    pass "both runs evaluated trials"
else
    fail "two runs" "one run did nothing"
fi

# ------------------------------------------------------------------ Ctrl-C
"$parzen" run "$space" --store int.db --max-evals 5 --parallelism 2 \
    --algo rand --seed 2 -- "$obj/hang.sh" </dev/null >int.out 2>int.err &
pi=$!
i=0
while [ $i -lt 2000 ]; do # up to ~20 s for two trials to be running
    "$parzen" status --store int.db 2>/dev/null | grep -q "running 2" && break
    sleep 0.01
    i=$((i + 1))
done
kill -INT $pi
wait $pi
si=$?
run ist status --store int.db
if [ $si = 130 ] && [ "$(tail -1 int.err)" = \
    "parzen: interrupted: 2 running trials marked CANCEL; run the same command to resume" ] &&
   grep -q "cancel 2, running 0" ist.out; then
    pass "Ctrl-C: exit 130, running trials marked CANCEL"
else
    fail "Ctrl-C" "status $si: $(cat int.err ist.out)"
fi
run retry run "$space" --store int.db --max-evals 3 --retry-lost \
    -- "$sq" "{x}" "{opt}"
run ishow show --store int.db
expect_status retry 0 && golden retry.txt ishow.out
run iexp export --store int.db
[ "$(cut -d, -f1,8 iexp.out | tr '\n' ' ')" = "id,attempts 0,2 1,2 2,1 " ] &&
    pass "--retry-lost re-ran the interrupted trials" ||
    fail "--retry-lost" "$(cat iexp.out)"

# --patience N: stop after N trials without a better loss; the old spelling
# --no-progress N does the same, with a deprecation warning on stderr.
dep="parzen: --no-progress N is deprecated, use --patience N (the same: stop after N trials without a better loss)"
for opt in --patience --no-progress; do
    run "pat$opt" run "$space" --store "pat$opt.db" --max-evals 20 \
        --json $opt 2 -- sh -c 'echo 1'
    warned=$(grep -c -x -F "$dep" "pat$opt.err")
    want=0
    [ $opt = --no-progress ] && want=1
    if expect_status "pat$opt" 0 && [ "$warned" = $want ] &&
       [ "$(tail -1 "pat$opt.out" | cut -c1-51)" = \
         '{"event": "end", "reason": "no_progress", "done": 3' ]; then
        pass "$opt 2: stopped after 3 equal losses (warned: $want)"
    else
        fail "$opt 2" "$(tail -1 "pat$opt.out") $(cat "pat$opt.err")"
    fi
done

echo "$passed passed, $failed failed"
[ $failed = 0 ]
