#!/usr/bin/env python
"""Methods on variants of the suite's problems, many seeds, against a
reference method (docs/benchmarks.md, "gauss_wave2 is not a noise
problem"): the same objective without its noise, or a noise-free problem
with noise added, and large seed blocks for a sharper test than the
suite's 30 seeds.

    .venv-bench/bin/python bench/quality/variants.py \\
        --problems gauss_wave2:noise=0,branin:noise=0.5 \\
        --methods "optuna-tpe,parzen-mtpe,parzen-mtpe@bw_min=0.01" \\
        --seed0 6000 --seeds 40 --cache bench/results/quality/variants

Per problem variant: each method's median log10 regret after --budget
evaluations (regret = the true, noise-free loss of the incumbent, the
trial with the best observed loss, minus the known optimum) and the
one-sided Mann-Whitney p that its regret is larger than the reference's.
Runs are cached per (method, variant, seed) in --cache (JSON lines), so
adding a method or seeds reruns nothing else. Problems with no known
optimum (the ML tasks) are refused.
"""

import argparse
import copy
import json
import math
import os
import sys
import warnings

import numpy as np
from scipy.stats import mannwhitneyu

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import methods  # noqa: E402
import report  # noqa: E402
from problems import BY_NAME  # noqa: E402


def variant(spec):
    """'name' or 'name:noise=S': the problem, its noise replaced by S."""
    name, _, opts = spec.partition(":")
    if name not in BY_NAME:
        raise SystemExit("variants.py: unknown problem %r in %r" % (name, spec))
    p = copy.copy(BY_NAME[name])
    if p.fopt is None:
        raise SystemExit("variants.py: %s has no known optimum" % name)
    for o in filter(None, opts.split(",")):
        key, _, val = o.partition("=")
        if key != "noise":
            raise SystemExit("variants.py: unknown option %r in %r (noise=S)"
                             % (key, spec))
        p.noise = float(val)
    return p


def final_regret(method, p, seed, budget):
    """log10 regret after 'budget' evaluations, by the suite's incumbent
    rule and floor (report.py)."""
    obs, true = methods.run_sequential(method, p, seed, budget)
    inc = report.incumbent_true({"loss": obs, "true": true})[budget - 1]
    return math.log10(max(inc - p.fopt, report.FLOOR))


def load_cache(path):
    done = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                done[(r["method"], r["variant"], r["seed"], r["budget"])] = \
                    r["log10_regret"]
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", required=True,
                    help="comma-separated name or name:noise=S")
    ap.add_argument("--methods", required=True)
    ap.add_argument("--ref", default="optuna-tpe")
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--cache", default="")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    specs = a.problems.split(",")
    meths = a.methods.split(",")
    if a.ref not in meths:
        meths.insert(0, a.ref)
    path = os.path.join(a.cache, "runs.jsonl") if a.cache else ""
    if a.cache:
        os.makedirs(a.cache, exist_ok=True)
    done = load_cache(path)
    out = open(path, "a") if path else None
    seeds = range(a.seed0, a.seed0 + a.seeds)
    for spec in specs:
        p = variant(spec)
        res = {}
        for m in meths:
            res[m] = []
            for s in seeds:
                key = (m, spec, s, a.budget)
                if key not in done:
                    done[key] = final_regret(m, p, s, a.budget)
                    if out:
                        out.write(json.dumps(dict(
                            method=m, variant=spec, seed=s, budget=a.budget,
                            log10_regret=done[key])) + "\n")
                        out.flush()
                res[m].append(done[key])
        print("%s, seeds %d-%d, @%d:" % (spec, seeds[0], seeds[-1], a.budget))
        for m in meths:
            line = "  %-44s median %7.3f" % (m, np.median(res[m]))
            if m != a.ref:
                pv = mannwhitneyu(res[m], res[a.ref],
                                  alternative="greater").pvalue
                line += "   p(worse than %s) = %.3g" % (a.ref, pv)
            print(line, flush=True)
    if out:
        out.close()


if __name__ == "__main__":
    main()
