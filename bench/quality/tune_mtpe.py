#!/usr/bin/env python
"""Rank mtpe variants against Optuna's default TPE (the tuning sweeps of
docs/benchmarks.md, "mtpe").

    .venv-bench/bin/python bench/quality/run.py --out bench/results/quality/tune \\
        --no-parallel --no-aa --confirm-seeds 0 --seeds 6 --problems ... \\
        --methods "parzen-mtpe@gamma=0.15,parzen-mtpe@bw_factor=0.3"
    .venv-bench/bin/python bench/quality/tune_mtpe.py bench/results/quality/tune \\
        [bench/results/quality/full] [--budgets 50,100,200]

Reads the runs of every directory given (the rivals' runs may live in the
full suite's directory), keeps the seeds every method has for a problem, and
prints per budget each method's mean rank over the problems (ranked by
median log10 regret, ties averaged) and its wins against optuna-tpe.
"""

import argparse
import os
import sys
from collections import defaultdict

import numpy as np
from scipy.stats import rankdata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import report  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--budgets", default="50,100,200")
    ap.add_argument("--rival", default="optuna-tpe")
    ap.add_argument("--only", default="",
                    help="comma-separated methods to rank (default: all)")
    a = ap.parse_args()
    recs = []
    for d in a.dirs:
        recs += report.load(os.path.join(d, "runs.jsonl"))[0]
    recs = [r for r in recs if r["kind"] == "seq"]
    _, seq, _, _, _ = report.analyse(recs, None)
    meths = sorted({m for _, m in seq})
    if a.only:
        meths = [m for m in meths if m in a.only.split(",")]
    tuned = sorted({p for p, m in seq if any(
        m2 != a.rival and m2 in meths and (p, m2) in seq for m2 in meths)})
    probs = [p for p in tuned if all((p, m) in seq for m in meths)]
    for b in [int(x) for x in a.budgets.split(",")]:
        ranks = defaultdict(list)
        wins = defaultdict(int)
        for p in probs:
            seeds = set.intersection(*(set(seq[(p, m)]) for m in meths))
            med = [float(np.median([seq[(p, m)][s][b - 1] for s in seeds]))
                   for m in meths]
            for m, r in zip(meths, rankdata(med)):
                ranks[m].append(r)
            if a.rival in meths:
                mr = med[meths.index(a.rival)]
                for m, x in zip(meths, med):
                    wins[m] += x < mr
        print("@%d over %d problems (%s):" % (b, len(probs), ",".join(probs)))
        for m in sorted(meths, key=lambda m: np.mean(ranks[m])):
            print("  %-55s mean rank %.2f  beats %s on %d" % (
                m, np.mean(ranks[m]), a.rival, wins[m]))


if __name__ == "__main__":
    main()
