#!/usr/bin/env python
"""mtpe against Optuna's default TPE pooled over the main and the fresh
seeds (docs/benchmarks.md, "mtpe"): per problem, at the largest budget,
the median log10 regret of each, the one-sided Mann-Whitney p that mtpe's
regret is larger, and how many runs of each reached the best regret of
the pair (the ML tasks: how often the best configuration was found).

    .venv-bench/bin/python bench/quality/pool_mtpe.py \\
        --mtpe bench/results/quality/mtpe3,bench/results/quality/confirm-mtpe3 \\
        --optuna bench/results/quality/full,bench/results/quality/confirm-mtpe3 \\
        --problems gauss_wave2,svc_digits,knn_diabetes

Every directory's runs share one regret scale (the ML tasks' optima are
estimated from all of them, as report_mtpe.py does).
"""

import argparse
import os
import sys

import numpy as np
from scipy.stats import mannwhitneyu

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import report  # noqa: E402


def load(dirs):
    recs = []
    for d in filter(None, dirs.split(",")):
        recs += report.load(os.path.join(d, "runs.jsonl"))[0]
    return [r for r in recs if r["kind"] == "seq"]


def finals(recs, scale, method, problem, budget):
    return {r["seed"]: scale.log_regret(problem,
                                        report.incumbent_true(r))[budget - 1]
            for r in recs if r["problem"] == problem and r["method"] == method}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mtpe", required=True, help="directories, comma-separated")
    ap.add_argument("--optuna", required=True)
    ap.add_argument("--problems", required=True)
    ap.add_argument("--budget", type=int, default=200)
    a = ap.parse_args()
    mt, op = load(a.mtpe), load(a.optuna)
    scale = report.Scale(mt + op)
    print("| problem | n | mtpe median | optuna median | p (mtpe worse) "
          "| runs at the best: mtpe | optuna |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for p in a.problems.split(","):
        x = finals(mt, scale, "parzen-mtpe", p, a.budget)
        y = finals(op, scale, "optuna-tpe", p, a.budget)
        seeds = sorted(set(x) & set(y))
        xs = np.array([x[s] for s in seeds])
        ys = np.array([y[s] for s in seeds])
        best = min(xs.min(), ys.min()) + 1e-9
        pv = mannwhitneyu(xs, ys, alternative="greater").pvalue
        print("| %s | %d | %.2f | %.2f | %s | %d | %d |" % (
            p, len(seeds), np.median(xs), np.median(ys),
            "<0.001" if pv < 0.001 else "%.3g" % pv,
            (xs <= best).sum(), (ys <= best).sum()))


if __name__ == "__main__":
    main()
