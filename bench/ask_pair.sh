#!/bin/sh
# Paired before/after ask latency of two bench_ask binaries, alternating
# A B A B ... (the machine's drift hits both alike); prints each run's
# rows and, per row, the median over the runs of the CPU-median column.
#   sh bench/ask_pair.sh BEFORE_BIN AFTER_BIN [RUNS] [bench_ask args...]
# e.g. sh bench/ask_pair.sh /tmp/before/bench_ask build/dev/bench_ask 5 --mtpe --d 10 --n 1000
set -eu
a=$1 b=$2 runs=${3:-5}
shift 3 || shift $#
out=$(mktemp)
i=0
while [ "$i" -lt "$runs" ]; do
    "$a" "$@" | grep '^| [a-z]' | grep -v sampler | sed 's/^/before /' >>"$out"
    "$b" "$@" | grep '^| [a-z]' | grep -v sampler | sed 's/^/after /' >>"$out"
    i=$((i + 1))
done
cat "$out"
echo
echo "| space | d | n | before CPU ms/ask (median of $runs runs, min-max) | after | after/before |"
echo "|---|---:|---:|---:|---:|---:|"
awk -F'|' '{
    split($1, w, " "); key = $3 "|" $4 "|" $5; v = $8 + 0
    vals[w[1] SUBSEP key] = vals[w[1] SUBSEP key] " " v
    keys[key] = 1
}
function med(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    lo = a[1]; hi = a[n]
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
    for (k in keys) {
        mb = med(vals["before" SUBSEP k]); lb = lo; hb = hi
        ma = med(vals["after" SUBSEP k]); la = lo; ha = hi
        printf "|%s| %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.2f |\n", k, mb, lb, hb, ma, la, ha, ma / mb
    }
}' "$out" | sort
rm -f "$out"
