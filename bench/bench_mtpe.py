#!/usr/bin/env python
"""One 1,000-trial run of parzen's fmin with mtpe and of Optuna's default
sampler, side by side in one process (docs/benchmarks.md, "mtpe").

    .venv-bench/bin/python bench/bench_mtpe.py [--trials 1000] [--repeats 1]

The objective is a 5-D shifted sphere (microseconds), so the time is the
optimizer's. parzen: ``fmin(..., algo=mtpe.suggest)`` with a Trials
object, progress bar off. Optuna: ``TPESampler(seed=...)`` with the
installed version's defaults (5.x: multivariate, constant liar), driven by
``study.optimize``. Prints wall and CPU seconds of each and the ratio; with
--repeats N the min-max over N runs.
"""

import argparse
import platform
import time

import numpy as np


def sphere(xs):
    return float(sum((x - 0.3) ** 2 for x in xs))


def run_parzen(n, seed):
    import parzen
    from parzen import hp

    space = [hp.uniform("x%d" % i, -5, 5) for i in range(5)]
    t, c = time.perf_counter(), time.process_time()
    trials = parzen.Trials()
    parzen.fmin(sphere, space, algo=parzen.mtpe.suggest, max_evals=n,
                trials=trials, rstate=np.random.default_rng(seed),
                show_progressbar=False)
    return time.perf_counter() - t, time.process_time() - c, \
        min(trials.losses())


def run_optuna(n, seed):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def obj(trial):
        return sphere([trial.suggest_float("x%d" % i, -5, 5)
                       for i in range(5)])

    t, c = time.perf_counter(), time.process_time()
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(obj, n_trials=n)
    return time.perf_counter() - t, time.process_time() - c, study.best_value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    import optuna
    import parzen

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print("parzen %s, optuna %s, numpy %s, Python %s; %s" % (
        parzen.__version__, optuna.__version__, np.__version__,
        platform.python_version(), cpu))
    res = {"parzen mtpe": [], "optuna default": []}
    for r in range(a.repeats):
        res["parzen mtpe"].append(run_parzen(a.trials, r))
        res["optuna default"].append(run_optuna(a.trials, r))
    print("| %d trials | wall s (min-max) | CPU s (min-max) | best loss |" %
          a.trials)
    print("|---|---:|---:|---:|")
    for k, v in res.items():
        w = [x[0] for x in v]
        c = [x[1] for x in v]
        print("| %s | %.2f-%.2f | %.2f-%.2f | %.3g |" % (
            k, min(w), max(w), min(c), max(c), min(x[2] for x in v)))
    rw = [o[0] / p[0] for p, o in zip(res["parzen mtpe"],
                                      res["optuna default"])]
    rc = [o[1] / p[1] for p, o in zip(res["parzen mtpe"],
                                      res["optuna default"])]
    print("\nOptuna / parzen mtpe: wall %.1f-%.1fx, CPU %.1f-%.1fx" % (
        min(rw), max(rw), min(rc), max(rc)))


if __name__ == "__main__":
    main()
