"""Pruning benchmark: what SuccessiveHalving buys TPE on learning curves.

    bench/setup-bench-env.sh          # .venv-bench: optuna, scikit-learn
    nice -n 10 .venv-bench/bin/python bench/bench_pruning.py [--quick]

Two learning-curve families, EPOCHS = 27 epochs per full trial:

- ``digits``: scikit-learn's SGDClassifier (log loss) trained epoch by
  epoch with ``partial_fit`` on the bundled digits data (standardised, a
  fixed 75/25 split); the value at an epoch is the validation error
  (1 - accuracy). Space: a grid of log10 alpha (-7..-1) and log10 eta0
  (-4..0) in steps of 0.5, the learning-rate schedule and the penalty
  (468 configurations). Every configuration is trained once and its curve
  cached in build/ (a tabular benchmark: about 3 CPU minutes the first
  time), so 30 seeds of searches cost seconds. A trial's final loss is
  its value at epoch 27.
- ``synthetic``: curves ``final(x) + a(x) * t ** -b(x)`` with crossing
  shapes (the configurations that start fast are not the ones that end
  best) plus N(0, 0.01) noise seeded by the configuration and the epoch;
  the final loss is the noise-free value at epoch 27, known exactly.

Per seed (30; ``--quick``: 5) and family:

1. **Same number of trials** (N_SAME = 40, TPE with 10 startup trials):
   parzen TPE with no pruning (NopPruner) vs with
   SuccessiveHalvingPruner() — epochs spent and best final loss (over
   trials that ran all 27 epochs).
2. **Equal epoch budget** (``--budget-trials``, default 15 full trials =
   405 epochs): TPE without pruning (15 trials) vs TPE with
   SuccessiveHalving (trials until
   the budget is spent), for each rule by which the C TPE uses pruned
   trials (``rank``: by last step reached, then value; ``bad``: only as
   bad observations; ``ignore``), and Optuna's TPESampler with its
   SuccessiveHalvingPruner in the same two settings.

Claims checked, one-sided Mann–Whitney U over the seeds (alpha 0.05):
SHA's epochs <= 40% of no-pruning's (per-seed ratio, median and max);
SHA's best final loss not significantly worse (test "SHA worse", p >
0.05); at equal budget, TPE + SHA significantly better than TPE alone (p
< 0.05). docs/benchmarks.md quotes what this script prints.
bench/bench_pruning_why.py takes the same-trials result apart (random
sampler +- SHA, SHA settings, pruned-trial rules).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import parzen  # noqa: E402
from parzen import Trials, TrialPruned, fmin, hp, pruners, report  # noqa: E402
from parzen import _engine, tpe  # noqa: E402
from parzen.fmin import partial  # noqa: E402

EPOCHS = 27
N_SAME = 40
N_BUDGET_TRIALS = 15  # --budget-trials
BUDGET = N_BUDGET_TRIALS * EPOCHS
MAX_TRIALS = 400  # cap for the budget runs
N_STARTUP = 10
RULES = ("rank", "bad", "ignore", "budget")


# =============================================================== problems


class Digits:
    """A tabular benchmark of real learning curves: every configuration of
    a grid is trained once (27 epochs of SGDClassifier.partial_fit, about
    15 ms each) and its curve cached in build/; the searches then read the
    curves. The space is that grid (q-uniform exponents)."""

    name = "digits"
    ALPHA = (-7.0, -1.0)  # log10, step 0.5
    ETA0 = (-4.0, 0.0)
    SCHEDULES = ["constant", "invscaling"]
    PENALTIES = ["l2", "l1"]
    CACHE = os.path.join(ROOT, "build", "bench_pruning_digits_v1.npy")

    space = {
        "log10_alpha": hp.quniform("log10_alpha", ALPHA[0], ALPHA[1], 0.5),
        "log10_eta0": hp.quniform("log10_eta0", ETA0[0], ETA0[1], 0.5),
        "schedule": hp.choice("schedule", SCHEDULES),
        "penalty": hp.choice("penalty", PENALTIES),
    }

    def __init__(self):
        self.na = int(round((self.ALPHA[1] - self.ALPHA[0]) / 0.5)) + 1
        self.ne = int(round((self.ETA0[1] - self.ETA0[0]) / 0.5)) + 1
        shape = (self.na, self.ne, 2, 2, EPOCHS)
        if os.path.exists(self.CACHE):
            self.table = np.load(self.CACHE)
            assert self.table.shape == shape, "stale cache: delete it"
        else:
            self.table = self._train(shape)

    def _train(self, shape):
        import warnings

        from sklearn.datasets import load_digits
        from sklearn.linear_model import SGDClassifier
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X, y = load_digits(return_X_y=True)
        Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25,
                                              random_state=0, stratify=y)
        sc = StandardScaler().fit(Xtr)
        Xtr, Xva = sc.transform(Xtr), sc.transform(Xva)
        classes = np.unique(y)
        table = np.empty(shape)
        t0 = time.time()
        for ia in range(shape[0]):
            for ie in range(shape[1]):
                for isc, sched in enumerate(self.SCHEDULES):
                    for ip, pen in enumerate(self.PENALTIES):
                        clf = SGDClassifier(
                            loss="log_loss",
                            alpha=10 ** (self.ALPHA[0] + 0.5 * ia),
                            eta0=10 ** (self.ETA0[0] + 0.5 * ie),
                            learning_rate=sched, penalty=pen, random_state=0)
                        for t in range(EPOCHS):
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                clf.partial_fit(Xtr, ytr, classes=classes)
                            table[ia, ie, isc, ip, t] = 1.0 - float(
                                np.mean(clf.predict(Xva) == yva))
            print("  digits: trained alpha row %d/%d (%.0fs)"
                  % (ia + 1, shape[0], time.time() - t0), file=sys.stderr,
                  flush=True)
        os.makedirs(os.path.dirname(self.CACHE), exist_ok=True)
        np.save(self.CACHE, table)
        return table

    def optuna_params(self, trial):
        return {
            "log10_alpha": trial.suggest_float("log10_alpha", *self.ALPHA,
                                               step=0.5),
            "log10_eta0": trial.suggest_float("log10_eta0", *self.ETA0,
                                              step=0.5),
            "schedule": trial.suggest_categorical("schedule",
                                                  self.SCHEDULES),
            "penalty": trial.suggest_categorical("penalty", self.PENALTIES),
        }

    def curve(self, p):
        """Yields (value seen, final-loss value) epoch by epoch."""
        ia = int(round((p["log10_alpha"] - self.ALPHA[0]) / 0.5))
        ie = int(round((p["log10_eta0"] - self.ETA0[0]) / 0.5))
        row = self.table[ia, ie, self.SCHEDULES.index(p["schedule"]),
                         self.PENALTIES.index(p["penalty"])]
        for v in row:
            yield float(v), float(v)


class Synthetic:
    name = "synthetic"

    space = {"x1": hp.uniform("x1", 0, 1), "x2": hp.uniform("x2", 0, 1),
             "x3": hp.uniform("x3", 0, 1)}

    def optuna_params(self, trial):
        return {k: trial.suggest_float(k, 0, 1) for k in ("x1", "x2", "x3")}

    @staticmethod
    def shape(p):
        x1, x2, x3 = p["x1"], p["x2"], p["x3"]
        final = (x1 - 0.7) ** 2 + (x2 - 0.3) ** 2 + 0.5 * (x3 - 0.5) ** 2
        a = 0.2 + 0.8 * x3 + 0.6 * (1 - x1)  # slow starters: some end best
        b = 0.4 + 1.2 * x1
        return final, a, b

    def curve(self, p):
        final, a, b = self.shape(p)
        key = int(1e6 * p["x1"]) * 1000003 + int(1e6 * p["x2"]) * 101 + \
            int(1e6 * p["x3"])
        rng = np.random.default_rng(key & 0x7FFFFFFF)
        noise = rng.normal(0.0, 0.01, EPOCHS)
        for t in range(1, EPOCHS + 1):
            exact = final + a * t ** -b
            yield exact + noise[t - 1], exact


def final_of(values):
    return values[-1] if len(values) == EPOCHS else None


# ================================================================= parzen


class Counter:
    def __init__(self):
        self.epochs = 0
        self.finals = []  # final losses of the trials that ran EPOCHS

    def best(self):
        return min(self.finals) if self.finals else math.inf


def parzen_run(problem, seed, pruner, n_trials, budget=None, rule=None):
    c = Counter()

    def objective(p):
        seen = None
        for step, (seen, exact) in enumerate(problem.curve(p), 1):
            c.epochs += 1
            if report(seen, step):
                raise TrialPruned()
            last_exact = exact
        c.finals.append(last_exact)
        return seen

    algo = partial(tpe.suggest, n_startup_jobs=N_STARTUP)
    if rule is not None:
        algo = with_pruned_rule(algo, rule)
    stop = None
    if budget is not None:
        def stop(trials, *args):
            return c.epochs >= budget, []
    fmin(objective, problem.space, algo=algo, max_evals=n_trials,
         trials=Trials(), rstate=seed, show_progressbar=False,
         pruner=pruner, early_stop_fn=stop)
    return c


def with_pruned_rule(suggest, rule):
    """tpe.suggest whose C study uses pruned trials by ``rule``."""

    def algo(new_ids, domain, trials, seed):
        for per in _engine.mirrors_of(trials).values():
            for (sampler, _), m in per.items():
                if sampler == "tpe" and getattr(m, "_bench_rule", None) != rule:
                    m.study.set_pruned_rule(rule)
                    m._bench_rule = rule
        return suggest(new_ids, domain, trials, seed)

    return algo


# ================================================================= optuna


def optuna_run(problem, seed, prune, n_trials, budget=None):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    c = Counter()

    def objective(trial):
        p = problem.optuna_params(trial)
        seen = None
        for step, (seen, exact) in enumerate(problem.curve(p), 1):
            c.epochs += 1
            trial.report(seen, step)
            if prune and trial.should_prune():
                raise optuna.TrialPruned()
            last_exact = exact
        c.finals.append(last_exact)
        return seen

    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3) if prune else \
        optuna.pruners.NopPruner()
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed,
                                           n_startup_trials=N_STARTUP),
        pruner=pruner)
    callbacks = []
    if budget is not None:
        def cb(study, trial):
            if c.epochs >= budget:
                study.stop()
        callbacks.append(cb)
    study.optimize(objective, n_trials=n_trials, callbacks=callbacks)
    return c


# ================================================================== stats


def mwu_less(a, b):
    """p of the one-sided Mann–Whitney U test "a < b"."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b, alternative="less").pvalue)


def spread(xs, fmt="%.4f"):
    xs = np.asarray(xs, dtype=float)
    return (fmt + " (" + fmt + "–" + fmt + ")") % (
        np.median(xs), xs.min(), xs.max())


def run_family(problem, seeds, out, parts=("same", "budget")):
    same = {k: {"epochs": [], "best": []} for k in
            ("tpe", "tpe+sha", "optuna", "optuna+sha")}
    budget_keys = ["tpe"] + ["tpe+sha/%s" % r for r in RULES] + \
        ["optuna", "optuna+sha"]
    equal = {k: {"epochs": [], "best": [], "trials": []} for k in budget_keys}
    t0 = time.time()
    for seed in seeds:
        # 1. same number of trials
        for key, fn in () if "same" not in parts else (
                ("tpe", lambda: parzen_run(problem, seed, pruners.NopPruner(),
                                           N_SAME)),
                ("tpe+sha", lambda: parzen_run(
                    problem, seed, pruners.SuccessiveHalvingPruner(), N_SAME)),
                ("optuna", lambda: optuna_run(problem, seed, False, N_SAME)),
                ("optuna+sha", lambda: optuna_run(problem, seed, True,
                                                  N_SAME))):
            c = fn()
            same[key]["epochs"].append(c.epochs)
            same[key]["best"].append(c.best())
        # 2. equal epoch budget
        runs = []
        if "budget" in parts:
            runs.append(("tpe", lambda: parzen_run(
                problem, seed, pruners.NopPruner(), N_BUDGET_TRIALS,
                budget=BUDGET)))
            for rule in RULES:
                runs.append(("tpe+sha/%s" % rule, lambda rule=rule: parzen_run(
                    problem, seed, pruners.SuccessiveHalvingPruner(),
                    MAX_TRIALS, budget=BUDGET, rule=rule)))
            runs.append(("optuna", lambda: optuna_run(
                problem, seed, False, N_BUDGET_TRIALS, BUDGET)))
            runs.append(("optuna+sha", lambda: optuna_run(
                problem, seed, True, MAX_TRIALS, BUDGET)))
        for key, fn in runs:
            c = fn()
            equal[key]["epochs"].append(c.epochs)
            equal[key]["best"].append(c.best())
        print("  %s seed %d done (%.0fs)" % (problem.name, seed,
                                            time.time() - t0),
              file=sys.stderr, flush=True)

    p = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    p("\n### %s (%d seeds)\n" % (problem.name, len(seeds)))
    if "same" in parts:
        report_same(p, same)
    if "budget" in parts:
        report_budget(p, equal)
    return same, equal


def report_same(p, same):
    p("Same number of trials (%d), TPE with %d startup trials; median "
      "(min–max) over seeds:\n" % (N_SAME, N_STARTUP))
    p("| method | epochs | best final loss |")
    p("|---|---:|---:|")
    for k, v in same.items():
        p("| %s | %s | %s |" % (k, spread(v["epochs"], "%.0f"),
                                spread(v["best"])))
    ratio = np.asarray(same["tpe+sha"]["epochs"]) / \
        np.asarray(same["tpe"]["epochs"])
    p_worse = mwu_less(same["tpe"]["best"], same["tpe+sha"]["best"])
    oratio = np.asarray(same["optuna+sha"]["epochs"]) / \
        np.asarray(same["optuna"]["epochs"])
    p("\nparzen SHA epochs / no pruning, per seed: median %.3f, max %.3f "
      "(claim <= 0.40: %s)" % (np.median(ratio), ratio.max(),
                               "PASS" if ratio.max() <= 0.40 else "FAIL"))
    p("parzen SHA best final loss significantly worse than without pruning? "
      "one-sided Mann–Whitney p = %.3f (claim: not, p > 0.05: %s)"
      % (p_worse, "PASS" if p_worse > 0.05 else "FAIL"))
    p("optuna SHA epochs / no pruning, per seed: median %.3f, max %.3f"
      % (np.median(oratio), oratio.max()))
    # the reference: the same claim for Optuna's TPE with Optuna's SHA
    p("optuna SHA best final loss significantly worse than optuna without "
      "pruning? one-sided Mann–Whitney p = %.2g"
      % mwu_less(same["optuna"]["best"], same["optuna+sha"]["best"]))


def report_budget(p, equal):
    p("\nEqual epoch budget (%d epochs = %d full trials):\n"
      % (BUDGET, N_BUDGET_TRIALS))
    p("| method | epochs | best final loss | p (better than tpe) |")
    p("|---|---:|---:|---:|")
    for k, v in equal.items():
        pv = "" if k == "tpe" else "%.2g" % mwu_less(v["best"],
                                                      equal["tpe"]["best"])
        p("| %s | %s | %s | %s |" % (k, spread(v["epochs"], "%.0f"),
                                     spread(v["best"]), pv))
    for rule in RULES:
        pv = mwu_less(equal["tpe+sha/%s" % rule]["best"],
                      equal["tpe"]["best"])
        p("claim (rule %s): TPE + SHA significantly better than TPE at equal "
          "budget, one-sided Mann–Whitney p = %.2g: %s"
          % (rule, pv, "PASS" if pv < 0.05 else "FAIL"))


def versions():
    import optuna
    import scipy
    import sklearn

    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                                 "HEAD"], capture_output=True, text=True
                                ).stdout.strip()
    except OSError:
        commit = "?"
    cpu = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True,
                                   text=True).stdout.splitlines():
            if line.startswith("Model name"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ("parzen %s (commit %s), optuna %s, scikit-learn %s, scipy %s, "
            "numpy %s, Python %s; CPU %s (%d cores)"
            % (parzen.__version__, commit, optuna.__version__,
               sklearn.__version__, scipy.__version__, np.__version__,
               platform.python_version(), cpu, os.cpu_count() or 0))


def main(argv=None):
    global N_BUDGET_TRIALS, BUDGET
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="5 seeds instead of 30")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--family", choices=["digits", "synthetic", "both"],
                    default="both")
    ap.add_argument("--only", choices=["same", "budget"], default=None,
                    help="run one of the two settings")
    ap.add_argument("--budget-trials", type=int, default=N_BUDGET_TRIALS,
                    help="the equal budget, in full trials (default %d)"
                    % N_BUDGET_TRIALS)
    args = ap.parse_args(argv)
    N_BUDGET_TRIALS = args.budget_trials
    BUDGET = N_BUDGET_TRIALS * EPOCHS
    parts = ("same", "budget") if args.only is None else (args.only,)
    n = args.seeds or (5 if args.quick else 30)
    seeds = list(range(1, n + 1))
    out = sys.stdout
    print("## Pruning benchmark\n", file=out)
    print("command: %s" % " ".join([os.path.basename(sys.executable),
                                     "bench/bench_pruning.py"] +
                                    (argv if argv is not None
                                     else sys.argv[1:])), file=out)
    print(versions(), file=out)
    t0 = time.time()
    fams = [Synthetic(), Digits()] if args.family == "both" else \
        [Synthetic() if args.family == "synthetic" else Digits()]
    for problem in fams:
        run_family(problem, seeds, out, parts)
    print("\nwall time %.0f s" % (time.time() - t0), file=out)


if __name__ == "__main__":
    main()
