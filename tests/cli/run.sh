#!/bin/sh
# Golden tests of the parzen command.
#
#   tests/cli/run.sh PATH/TO/parzen [CASE...]
#
# Each directory cases/NAME/ is one run of the command, from tests/cli/
# (so space paths read "spaces/x.json"):
#   cmd          the arguments, one line, split on blanks (no quoting)
#   status       expected exit status (default 0)
#   stdout       expected standard output, exactly (optional)
#   stderr       expected standard error, exactly (optional)
#   stdout.grep  extended regexps, one a line, each matching some line of
#                standard output (optional)
# Whatever the files say, a failing run (status != 0) must print nothing
# on stdout and exactly one line "parzen: ..." on stderr, and a run
# expected to succeed without a 'stderr' file must print nothing there.
# A few properties that no golden file can state (reproducibility from a
# printed seed, write errors) are checked at the end.
#
# Plain POSIX sh and diff. The last line is "N passed, N failed"; the exit
# status is non-zero when a test failed.

if [ $# -lt 1 ]; then
    echo "usage: $0 PATH/TO/parzen [CASE...]" >&2
    exit 2
fi
case $1 in
/*) parzen=$1 ;;
*) parzen=$(pwd)/$1 ;;
esac
shift
if [ ! -x "$parzen" ]; then
    echo "$0: $parzen is not an executable" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/parzen-cli.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0

pass() {
    passed=$((passed + 1))
    echo "ok - $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL - $1: $2"
}

# run NAME ARGS...: run parzen with stdin closed off, into $tmp/NAME.*
run() {
    name=$1
    shift
    "$parzen" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.status"
}

lines() {
    wc -l <"$1" | tr -d ' '
}

# check_case DIR: run one case and compare; prints one verdict.
check_case() {
    dir=$1
    name=$(basename "$dir")
    if [ ! -f "$dir/cmd" ]; then
        fail "$name" "no cmd file"
        return
    fi
    set -f # arguments are split on blanks, never globbed
    # shellcheck disable=SC2046
    run "$name" $(cat "$dir/cmd")
    set +f
    want=0
    [ -f "$dir/status" ] && want=$(cat "$dir/status")
    got=$(cat "$tmp/$name.status")
    why=""
    if [ "$got" != "$want" ]; then
        why="exit status $got, expected $want"
    elif [ "$want" != 0 ] && [ -s "$tmp/$name.out" ]; then
        why="a failing run wrote to stdout"
    elif [ "$want" != 0 ] && [ "$(lines "$tmp/$name.err")" != 1 ]; then
        why="stderr has $(lines "$tmp/$name.err") lines, expected exactly 1"
    elif [ "$want" != 0 ] && ! grep -q '^parzen: ' "$tmp/$name.err"; then
        why="stderr does not start with 'parzen: '"
    elif [ "$want" = 0 ] && [ ! -f "$dir/stderr" ] && [ -s "$tmp/$name.err" ]; then
        why="unexpected stderr"
    elif [ -f "$dir/stdout" ] && ! diff -u "$dir/stdout" "$tmp/$name.out" >"$tmp/$name.diff"; then
        why="stdout differs from the golden file"
    elif [ -f "$dir/stderr" ] && ! diff -u "$dir/stderr" "$tmp/$name.err" >"$tmp/$name.diff"; then
        why="stderr differs from the golden file"
    elif [ -f "$dir/stdout.grep" ]; then
        while IFS= read -r re; do
            if ! grep -Eq -- "$re" "$tmp/$name.out"; then
                why="no stdout line matches /$re/"
                break
            fi
        done <"$dir/stdout.grep"
    fi
    if [ -z "$why" ]; then
        pass "$name"
        return
    fi
    fail "$name" "$why"
    echo "  command: parzen $(cat "$dir/cmd")"
    [ -s "$tmp/$name.diff" ] && sed 's/^/  /' "$tmp/$name.diff"
    sed 's/^/  stderr: /' "$tmp/$name.err"
    rm -f "$tmp/$name.diff"
}

if [ $# -gt 0 ]; then
    for c in "$@"; do
        check_case "cases/$c"
    done
else
    for dir in cases/*/; do
        check_case "${dir%/}"
    done
fi

# ------------------------------------------------------------ properties

if [ $# -eq 0 ]; then
    # The same seed gives the same points, run after run.
    run seed_a sample spaces/every_dist.json -n 20 --seed 7
    run seed_b sample spaces/every_dist.json -n 20 --seed 7
    if [ "$(cat "$tmp/seed_a.status")" = 0 ] &&
        [ "$(lines "$tmp/seed_a.out")" = 20 ] &&
        cmp -s "$tmp/seed_a.out" "$tmp/seed_b.out"; then
        pass "same_seed_gives_identical_output"
    else
        fail "same_seed_gives_identical_output" "outputs differ"
    fi

    # A different seed gives different points.
    run seed_c sample spaces/every_dist.json -n 20 --seed 8
    if [ "$(cat "$tmp/seed_c.status")" = 0 ] &&
        ! cmp -s "$tmp/seed_a.out" "$tmp/seed_c.out"; then
        pass "different_seeds_give_different_output"
    else
        fail "different_seeds_give_different_output" "outputs are equal"
    fi

    # Without --seed, the seed used is printed (one line) and replays.
    run noseed sample spaces/every_dist.json -n 5
    seed=$(sed -n 's/^parzen: sampling with --seed \([0-9][0-9]*\)$/\1/p' \
        "$tmp/noseed.err")
    if [ "$(cat "$tmp/noseed.status")" = 0 ] && [ -n "$seed" ] &&
        [ "$(lines "$tmp/noseed.err")" = 1 ]; then
        run replay sample spaces/every_dist.json -n 5 --seed "$seed"
        if cmp -s "$tmp/noseed.out" "$tmp/replay.out"; then
            pass "printed_seed_replays_the_run"
        else
            fail "printed_seed_replays_the_run" "--seed $seed differs"
        fi
    else
        fail "printed_seed_replays_the_run" "no seed line on stderr"
    fi

    # Control characters of a path or an argument are escaped (\n, \t,
    # \xNN), so an error is still one line.
    run ctl_path sample "$(printf 'spaces/no\nsuch\t\033.json')" --seed 1
    run ctl_arg sample spaces/every_dist.json -n "$(printf '1\r2')"
    if [ "$(cat "$tmp/ctl_path.status")" = 2 ] &&
        [ "$(lines "$tmp/ctl_path.err")" = 1 ] &&
        [ "$(cat "$tmp/ctl_path.err")" = 'parzen: spaces/no\nsuch\t\x1b.json: No such file or directory' ] &&
        [ "$(cat "$tmp/ctl_arg.status")" = 2 ] &&
        [ "$(lines "$tmp/ctl_arg.err")" = 1 ] &&
        [ "$(cat "$tmp/ctl_arg.err")" = "parzen: -n expects a whole number from 0 to 100000000, got '1\\r2'" ]; then
        pass "control_characters_in_errors_are_escaped"
    else
        fail "control_characters_in_errors_are_escaped" "$(cat "$tmp/ctl_path.err" "$tmp/ctl_arg.err")"
    fi

    # A write error is reported (one line, non-zero), not ignored.
    if [ -w /dev/full ]; then
        "$parzen" sample spaces/every_dist.json -n 1000 --seed 1 \
            </dev/null >/dev/full 2>"$tmp/full.err"
        st=$?
        if [ "$st" != 0 ] && [ "$(lines "$tmp/full.err")" = 1 ]; then
            pass "write_error_is_reported"
        else
            fail "write_error_is_reported" "status $st, stderr:
$(cat "$tmp/full.err")"
        fi
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
