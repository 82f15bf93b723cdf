"""Why SuccessiveHalving loses on "same number of trials" (issue 14).

    nice -n 10 .venv/bin/python bench/bench_pruning_why.py [--seeds 30]

bench/bench_pruning.py finds that, with 40 trials, parzen TPE + SHA spends
about a fifth of the epochs of TPE alone but ends with a significantly
worse best final loss. This script takes that result apart on the same two
curve families (imported from bench_pruning.py), per seed:

1. **Random sampler, with and without SHA.** parzen's rand.suggest draws
   the same 40 points for a seed whatever happens to the trials (checked),
   so the only difference is which trials SHA stops: the loss lost is
   exactly "the winners SHA cut". Per seed: was the no-pruning run's best
   configuration cut, and at which rung (step)?
2. **How well an early value predicts the final loss**: Spearman's rank
   correlation, over all configurations the random runs drew, between
   the value seen at step 1, 3 and 9 and the final loss.
3. **TPE, with and without SHA**: the same comparison when the sampler
   also sees the pruned trials (the rule "bad", the default; "rank",
   "ignore" and "budget" for two settings: tpe/rank, tpe/ignore,
   tpe/budget; --rules, --rule-settings).
4. The SHA settings that use the <= 40% epoch budget differently
   (min_resource, reduction_factor, min_early_stopping_rate), with both
   samplers: epochs ratio and the one-sided Mann–Whitney p of "SHA worse".

Everything is deterministic (fixed seeds, the curves' noise seeded by the
configuration). The numbers are quoted in docs/benchmarks.md
("Pruning: why the same-trials claim fails").
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pruning as bp  # noqa: E402
from parzen import Trials, TrialPruned, fmin, pruners, rand, report  # noqa: E402
from parzen import tpe  # noqa: E402
from parzen.fmin import partial  # noqa: E402

N = bp.N_SAME
EPOCHS = bp.EPOCHS
# (min_resource, reduction_factor, min_early_stopping_rate)
# Does the objective report its last epoch (and so may be stopped after
# it)? --no-final-report: it returns that value instead.
FINAL_REPORT = True
SETTINGS = [(1, 3, 0), (1, 3, 1), (1, 3, 2), (2, 3, 0), (1, 2, 1), (1, 4, 0)]


def run(problem, seed, sampler, sha, rule=None):
    """One search of N trials; per trial: (point, last step, values seen,
    final loss or None)."""
    trials_log = []

    def objective(p):
        seen_vals, final = [], None
        for step, (seen, exact) in enumerate(problem.curve(p), 1):
            seen_vals.append(seen)
            if (step < EPOCHS or FINAL_REPORT) and report(seen, step):
                trials_log.append((dict(p), step, seen_vals, None))
                raise TrialPruned()
            final = exact
        trials_log.append((dict(p), EPOCHS, seen_vals, final))
        return seen_vals[-1]

    algo = rand.suggest if sampler == "rand" else \
        partial(tpe.suggest, n_startup_jobs=bp.N_STARTUP)
    if rule is not None:
        algo = bp.with_pruned_rule(algo, rule)
    pruner = pruners.NopPruner() if sha is None else \
        pruners.SuccessiveHalvingPruner(*sha)
    fmin(objective, problem.space, algo=algo, max_evals=N, trials=Trials(),
         rstate=seed, show_progressbar=False, pruner=pruner)
    return trials_log


def summary(log):
    epochs = sum(t[1] for t in log)
    finals = [t[3] for t in log if t[3] is not None]
    return epochs, min(finals)


def miss(problem, base, log):
    """Why a pruned run's best final loss is worse than the no-pruning
    run's: None (it is not), "never" (no configuration drawn was as
    good), or the step at which SHA stopped the best such one."""
    b0 = summary(base)[1]
    if summary(log)[1] <= b0:
        return None
    steps = [t[1] for t in log
             if list(problem.curve(t[0]))[-1][1] <= b0]
    return max(steps) if steps else "never"


def spearman(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def family(problem, seeds, out, samplers=("rand", "tpe"), settings=SETTINGS,
           rules=("rank", "ignore", "budget"), rule_settings=SETTINGS[:2]):
    p = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    p("\n### %s (%d seeds, %d trials per search)\n"
      % (problem.name, len(seeds), N))
    rows = {}  # (sampler, sha) -> {"ratio": [], "best": []}
    fate = []  # rand: the step at which the no-pruning best was stopped
    early = {1: [], 3: [], 9: []}
    finals_all = []
    t0 = time.time()
    for seed in seeds:
        for sampler in samplers:
            base = run(problem, seed, sampler, None)
            e0, b0 = summary(base)
            rows.setdefault((sampler, None), {"ratio": [], "best": []})
            rows[(sampler, None)]["ratio"].append(1.0)
            rows[(sampler, None)]["best"].append(b0)
            if sampler == "rand":
                for t in base:
                    finals_all.append(t[3])
                    for s in early:
                        early[s].append(t[2][s - 1])
            for sha in settings:
                log = run(problem, seed, sampler, sha)
                e, b = summary(log)
                r = rows.setdefault((sampler, sha), {"ratio": [], "best": []})
                r["ratio"].append(e / e0)
                r["best"].append(b)
                if sampler == "tpe" and sha in rule_settings:
                    r.setdefault("miss", []).append(miss(problem, base, log))
                if sampler == "tpe" and sha in rule_settings:
                    for rule in rules:
                        lr = run(problem, seed, sampler, sha, rule)
                        er, br = summary(lr)
                        r2 = rows.setdefault(("tpe/" + rule, sha),
                                             {"ratio": [], "best": []})
                        r2["ratio"].append(er / e0)
                        r2["best"].append(br)
                        r2.setdefault("miss", []).append(
                            miss(problem, base, lr))
                if sampler == "rand":
                    assert [t[0] for t in log] == [t[0] for t in base], \
                        "rand drew other points with pruning"
                    if sha == (1, 3, 0):
                        ib = min(range(len(base)), key=lambda i: base[i][3])
                        fate.append(log[ib][1])
        p_ = "  %s seed %d (%.0fs)" % (problem.name, seed, time.time() - t0)
        print(p_, file=sys.stderr, flush=True)

    cut = [s for s in fate if s < EPOCHS]
    p_ = p if fate else (lambda *a: None)
    p_("Random sampler, SHA(1, 3, 0): the no-pruning run's best configuration "
      "was stopped by SHA in %d of %d seeds; at step: %s"
      % (len(cut), len(fate),
         ", ".join("%d: %d" % (s, cut.count(s)) for s in sorted(set(cut)))
         or "-"))
    p_("Spearman correlation of the value seen at step s with the final loss "
      "(%d random configurations): %s\n"
      % (len(finals_all), ", ".join("step %d: %.2f" % (s, spearman(v, finals_all))
                                    for s, v in early.items())))
    for (sampler, sha), r in rows.items():
        if "miss" in r:
            m = [x for x in r["miss"] if x is not None]
            st = sorted({x for x in m if x != "never"})
            p("%s + SHA(%s): worse than without pruning in %d of %d seeds: "
              "no configuration as good drawn in %d, one drawn and stopped "
              "in %d (at step: %s)"
              % (sampler, ", ".join(map(str, sha)), len(m), len(r["miss"]),
                 m.count("never"), len(m) - m.count("never"),
                 ", ".join("%d: %d" % (x, m.count(x)) for x in st) or "-"))
    p("")
    p("| sampler | SHA (min_resource, eta, rate) | epochs / no pruning, "
      "median (max) | best final loss, median (min–max) | p (SHA worse) |")
    p("|---|---|---:|---:|---:|")
    for (sampler, sha), r in rows.items():
        ratio = np.asarray(r["ratio"])
        pv = "" if sha is None else "%.3g" % bp.mwu_less(
            rows[(sampler.split("/")[0], None)]["best"], r["best"])
        p("| %s | %s | %.3f (%.3f) | %s | %s |"
          % (sampler, "none" if sha is None else "%d, %d, %d" % sha,
             np.median(ratio), ratio.max(), bp.spread(r["best"]), pv))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--family", choices=["digits", "synthetic", "both"],
                    default="both")
    ap.add_argument("--first-seed", type=int, default=1,
                    help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--no-final-report", action="store_true",
                    help="the objective does not report its last epoch "
                    "(it returns it), so SHA cannot stop a trial that has "
                    "already run all epochs")
    ap.add_argument("--samplers", default="rand,tpe",
                    help="comma-separated: rand, tpe (default both)")
    ap.add_argument("--settings", default=None,
                    help="SHA settings 'r,eta,rate;...' (default all six)")
    ap.add_argument("--rules", default="rank,ignore,budget",
                    help="pruned-trial rules tried with tpe besides bad "
                    "(default rank,ignore,budget)")
    ap.add_argument("--rule-settings", default="1,3,0;1,3,1",
                    help="the SHA settings the --rules run at")
    args = ap.parse_args(argv)
    global FINAL_REPORT
    FINAL_REPORT = not args.no_final_report
    out = sys.stdout
    print("## Pruning: why the same-trials claim fails\n", file=out)
    print("command: %s" % " ".join(["python", "bench/bench_pruning_why.py"] +
                                    (argv if argv is not None
                                     else sys.argv[1:])), file=out)
    import platform
    import subprocess

    import parzen
    import scipy

    commit = subprocess.run(["git", "-C", bp.ROOT, "rev-parse", "--short",
                             "HEAD"], capture_output=True, text=True
                            ).stdout.strip()
    cpu = [ln.split(":", 1)[1].strip() for ln in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines()
        if ln.startswith("Model name")]
    print("parzen %s (commit %s), scipy %s, numpy %s, Python %s; CPU %s"
          % (parzen.__version__, commit, scipy.__version__, np.__version__,
             platform.python_version(), cpu[0] if cpu else "?"), file=out)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))

    def parse(text):
        return [tuple(int(v) for v in t.split(",")) for t in text.split(";")
                if t]

    settings = SETTINGS if args.settings is None else parse(args.settings)
    rule_settings = parse(args.rule_settings)
    fams = {"synthetic": [bp.Synthetic()], "digits": [bp.Digits()],
            "both": [bp.Synthetic(), bp.Digits()]}[args.family]
    t0 = time.time()
    for problem in fams:
        family(problem, seeds, out, args.samplers.split(","), settings,
               [r for r in args.rules.split(",") if r], rule_settings)
    print("\nwall time %.0f s" % (time.time() - t0), file=out)


if __name__ == "__main__":
    main()
