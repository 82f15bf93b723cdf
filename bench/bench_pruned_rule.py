"""Which rule should tpe, anneal and mtpe use for PRUNED trials?

A synthetic learning-curve family with known final losses, driven
through the C study directly (``_core.Study``: ask, report,
should_prune, tell), so nothing but the samplers and the pruner is
measured. Each trial trains for up to S = 27 "epochs"; its value at
epoch s is

    final(x) + (0.2 + 0.8 * x1) * 3 * (1/s - 1/S) + noise(0.01)

with final(x) = 4 * sum((x_i - 0.3)^2) over x in [0, 1]^3: early values
rank trials by their final loss only partly (x1 sets how slowly a curve
comes down). Every configuration gets the same budget of epochs
(30 full trials' worth); its score is the best *final* loss among the
trials that ran to the end. Configurations: no pruner, and the
successive-halving pruner (min_resource 1, reduction_factor 3) with each
rule of ``pz_study_set_pruned_rule``: rank (Optuna's order), bad (only
in g), ignore (pruned trials invisible) and budget (DONE and PRUNED by
their values at the deepest step enough trials reached, after BOHB).

    .venv/bin/python bench/bench_pruned_rule.py [--seeds 30] [--quick]
        [--algos tpe,anneal,mtpe]

Prints the median (25th-75th percentile) of the best final loss per
algorithm and configuration over the seeds, the trials run per budget,
and one-sided Mann-Whitney p-values (scipy) of each rule against no
pruning and of rank against the other rules.
"""

import argparse
import math
import random
import statistics
import sys

from scipy.stats import mannwhitneyu

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_util import cpu_model, load  # noqa: E402

import parzen  # noqa: E402
from parzen import _core  # noqa: E402

S = 27
BUDGET = 30 * S
DIM = 3
SPACE = "{%s}" % ", ".join(
    '"x%d": {"hp": "uniform", "low": 0, "high": 1}' % i for i in range(DIM))


def final(x):
    return 4.0 * sum((v - 0.3) ** 2 for v in x)


def curve(x, s, rng):
    return final(x) + (0.2 + 0.8 * x[1]) * 3.0 * (1.0 / s - 1.0 / S) + \
        rng.gauss(0.0, 0.01)


def one_run(algo, rule, seed):
    """(best final loss of a completed trial, trials run)"""
    st = _core.Study(_core.Space.from_json(SPACE))
    st.set_sampler(algo)
    st.set_seed(seed)
    if algo == "tpe":
        st.set_option("tpe.n_startup_jobs", 10)
    if rule is not None:
        st.set_pruner("sha", '{"min_resource": 1, "reduction_factor": 3}')
        st.set_pruned_rule(rule)
    rng = random.Random(seed * 7919 + 1)
    used, best, n = 0, math.inf, 0
    while used < BUDGET:
        tid, x = st.ask()
        n += 1
        value = None
        for s in range(1, S + 1):
            value = curve(x, s, rng)
            used += 1
            st.report(tid, s, value)
            if rule is not None and st.should_prune(tid):
                st.tell(tid, _core.STATE_PRUNED, value)
                break
            if used >= BUDGET and s < S:
                st.tell(tid, _core.STATE_CANCEL, math.nan)  # out of budget
                break
        else:
            st.tell(tid, _core.STATE_DONE, value)
            best = min(best, final(x))
    return best, n


def q(values, p):
    v = sorted(values)
    k = (len(v) - 1) * p
    lo = int(math.floor(k))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="5 seeds")
    ap.add_argument("--algos", default="tpe,anneal,mtpe")
    a = ap.parse_args()
    seeds = range(5 if a.quick else a.seeds)
    print("bench_pruned_rule: parzen %s, %s, load %s" % (
        parzen.__version__, cpu_model(), load()))
    print("budget %d epochs (S = %d), dim %d, %d seeds; best final loss "
          "of a completed trial, median (25th-75th percentile)"
          % (BUDGET, S, DIM, len(seeds)))
    configs = [("none", None), ("sha+rank", "rank"), ("sha+bad", "bad"),
               ("sha+ignore", "ignore"), ("sha+budget", "budget")]
    for algo in a.algos.split(","):
        res = {}
        print("\n%s" % algo)
        for name, rule in configs:
            runs = [one_run(algo, rule, seed) for seed in seeds]
            res[name] = [b for b, _ in runs]
            trials = [n for _, n in runs]
            print("  %-11s %.4f (%.4f-%.4f)  trials %d (%d-%d)" % (
                name, statistics.median(res[name]), q(res[name], 0.25),
                q(res[name], 0.75), statistics.median(trials), min(trials),
                max(trials)))

        def p(x, y):  # one-sided: x's best losses are smaller than y's
            return mannwhitneyu(res[x], res[y], alternative="less").pvalue

        for name in ("sha+rank", "sha+bad", "sha+ignore", "sha+budget"):
            print("  p(%s < none) = %.3g" % (name, p(name, "none")))
        print("  p(rank < bad) = %.3g, p(rank < ignore) = %.3g, "
              "p(bad < rank) = %.3g, p(ignore < rank) = %.3g" % (
                  p("sha+rank", "sha+bad"), p("sha+rank", "sha+ignore"),
                  p("sha+bad", "sha+rank"), p("sha+ignore", "sha+rank")))
        print("  p(budget < bad) = %.3g, p(bad < budget) = %.3g" % (
            p("sha+budget", "sha+bad"), p("sha+bad", "sha+budget")))


if __name__ == "__main__":
    main()
