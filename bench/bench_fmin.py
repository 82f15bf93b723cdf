"""parzen vs hyperopt: TPE through fmin, in one run, as ratios.

Run in the bench environment (hyperopt is never a parzen dependency):

    bash bench/setup-bench-env.sh
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv-bench/bin/python bench/bench_fmin.py [--quick] [--markdown]

Measured, on the same 10-parameter space (10 x uniform(-5, 5)) and a
trivial objective (sum of squares):

1. suggest, d=10, n=1000: one ``tpe.suggest`` call on a history of 1000
   finished trials (median of repeated calls; parzen's C mirror of the
   Trials is already in sync, as it is inside fmin).
2. fmin step, d=10, n=1000: the wall time per trial of ``fmin`` continuing
   a 1000-trial search (suggest + insert + evaluate + bookkeeping).
3. fmin 1000 trials: a whole 1000-trial TPE ``fmin`` from scratch.
"""

import argparse
import platform
import statistics
import sys
import time

import numpy as np

D = 10


def objective(p):
    return float(sum(v * v for v in p.values()))


def make_space(lib):
    return {"x%d" % i: lib.hp.uniform("x%d" % i, -5, 5) for i in range(D)}


def filled_trials(lib, n, seed=0):
    trials = lib.Trials()
    lib.fmin(objective, make_space(lib), algo=lib.rand.suggest, max_evals=n,
             trials=trials, rstate=np.random.default_rng(seed),
             show_progressbar=False)
    return trials


def bench_suggest(lib, n, repeats):
    trials = filled_trials(lib, n)
    domain = lib.base.Domain(objective, make_space(lib))
    lib.tpe.suggest([n], domain, trials, 1)  # -- warm (parzen: mirror sync)
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        docs = lib.tpe.suggest([n + r], domain, trials, 2 + r)
        times.append(time.perf_counter() - t0)
        assert len(docs) == 1
    return statistics.median(times)


def bench_fmin_step(lib, n, k):
    trials = filled_trials(lib, n)
    t0 = time.perf_counter()
    lib.fmin(objective, make_space(lib), algo=lib.tpe.suggest,
             max_evals=n + k, trials=trials,
             rstate=np.random.default_rng(5), show_progressbar=False)
    elapsed = time.perf_counter() - t0
    assert len(trials) == n + k
    return elapsed / k


def bench_fmin_total(lib, n, seed=0):
    trials = lib.Trials()
    t0 = time.perf_counter()
    lib.fmin(objective, make_space(lib), algo=lib.tpe.suggest, max_evals=n,
             trials=trials, rstate=np.random.default_rng(seed),
             show_progressbar=False)
    elapsed = time.perf_counter() - t0
    assert len(trials) == n
    return elapsed, min(trials.losses())


def bench_core_loop(n):
    """The floor under parzen's fmin: the C study's own ask/tell loop for
    n TPE trials (no Python fmin, no trial documents)."""
    from parzen import _core

    space = _core.Space()
    for i in range(D):
        space.add("x%d" % i, "uniform", low=-5.0, high=5.0)
    study = _core.Study(space)
    study.set_sampler("tpe")
    t0 = time.perf_counter()
    for _ in range(n):
        tid, v = study.ask()
        study.tell(tid, 2, float(sum(x * x for x in v)))
    return time.perf_counter() - t0


def fmt(sec):
    if sec < 1e-3:
        return "%.1f us" % (sec * 1e6)
    if sec < 1.0:
        return "%.2f ms" % (sec * 1e3)
    return "%.2f s" % sec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats (a smoke run, not for the record)")
    ap.add_argument("--markdown", action="store_true",
                    help="print the table as Markdown")
    args = ap.parse_args()

    import hyperopt
    import hyperopt.base  # noqa: F401
    import parzen
    import parzen.base  # noqa: F401

    n = 1000
    rep_h, rep_p = (3, 20) if args.quick else (10, 200)
    k_h, k_p = (5, 50) if args.quick else (20, 500)
    rows = []

    sh = bench_suggest(hyperopt, n, rep_h)
    sp = bench_suggest(parzen, n, rep_p)
    rows.append(("tpe.suggest, d=10, n=1000 (median per call)", sh, sp))

    fh = bench_fmin_step(hyperopt, n, k_h)
    fp = bench_fmin_step(parzen, n, k_p)
    rows.append(("fmin per trial at n=1000, d=10 (TPE)", fh, fp))

    th, lh = bench_fmin_total(hyperopt, n)
    tp_runs = [bench_fmin_total(parzen, n, seed) for seed in range(3)]
    tp = statistics.median(t for t, _ in tp_runs)
    lp = tp_runs[0][1]
    rows.append(("whole fmin, 1000 trials, d=10 (TPE)", th, tp))

    core = statistics.median(bench_core_loop(n) for _ in range(3))

    versions = ("Python %s, numpy %s, hyperopt %s, parzen %s, %s, %s cores"
                % (platform.python_version(), np.__version__,
                   hyperopt.__version__, parzen.__version__,
                   platform.machine(), _ncpu()))
    if args.markdown:
        print("| measurement | hyperopt | parzen | ratio |")
        print("|---|---:|---:|---:|")
        for name, h, p in rows:
            print("| %s | %s | %s | %.0fx |" % (name, fmt(h), fmt(p), h / p))
        print("| C ask/tell loop only, 1000 TPE trials (floor) | | %s | |"
              % fmt(core))
    else:
        for name, h, p in rows:
            print("%-46s hyperopt %10s  parzen %10s  ratio %6.1fx"
                  % (name, fmt(h), fmt(p), h / p))
        print("%-46s %19s  parzen %10s" % (
            "C ask/tell loop only, 1000 TPE trials", "", fmt(core)))
    print()
    print(versions)
    print("best loss after 1000 trials: hyperopt %.4f, parzen %.4f"
          % (lh, lp))
    ok = rows[0][1] / rows[0][2] >= 15 and rows[2][1] / rows[2][2] >= 50
    print("targets (suggest >= 15x, whole fmin >= 50x):",
          "met" if ok else "NOT met")
    return 0 if ok else 1


def _ncpu():
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
