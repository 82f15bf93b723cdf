"""What MLflow tracking costs fmin: the same 1000-trial search with and
without it, side by side in one run.

    .venv/bin/python bench/bench_mlflow.py [--trials 1000] [--repeats 5]
                                           [--drain 200] [--uri URI]

Measured, with a trivial objective (sum of squares, d=10, TPE, Trials):

1. fmin wall time without tracking and with ``mlflow_tracking=URI``
   (default: a fresh sqlite:/// store in a temporary directory),
   alternated, ``--repeats`` times each; the ratio of the medians and the
   spread (min-max). fmin returns when the search is done; its logging
   process (parzen.mlflow_log) keeps logging afterwards, so each tracked
   run's logger is stopped once its fmin returned, before the next
   measurement (its CPU use during the run is part of the cost measured).
2. The logging process's throughput: a ``--drain``-trial tracked search,
   then ``parzen.tracking.wait()``: seconds until every trial is in MLflow,
   per trial.

The target (issue 13): tracking adds at most 20% to the wall time of a
1000-trial trivial-objective fmin.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
from bench_util import cpu_model

D = 10


def objective(p):
    return float(sum(v * v for v in p.values()))


def space(hp):
    return {"x%d" % i: hp.uniform("x%d" % i, -5, 5) for i in range(D)}


def one_fmin(n, seed, uri):
    from parzen import Trials, fmin, hp, tpe, tracking

    trials = Trials()
    t0 = time.perf_counter()
    fmin(objective, space(hp), algo=tpe.suggest, max_evals=n, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False,
         mlflow_tracking=uri if uri else False)
    elapsed = time.perf_counter() - t0
    assert len(trials) == n
    if uri:
        stop_loggers(tracking)
    return elapsed


def stop_loggers(tracking):
    """End the logging processes still working (the bench only)."""
    with tracking._live_lock:
        live, tracking._live[:] = list(tracking._live), []
    for t in live:
        if t.proc is not None and t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()


def drain(n, uri):
    from parzen import tracking

    from parzen import Trials, fmin, hp, tpe

    t0 = time.perf_counter()
    trials = Trials()
    fmin(objective, space(hp), algo=tpe.suggest, max_evals=n, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False,
         mlflow_tracking=uri)
    t_fmin = time.perf_counter() - t0
    summary = tracking.wait(3600)
    t_all = time.perf_counter() - t0
    return t_fmin, t_all, summary



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--drain", type=int, default=200,
                    help="trials of the throughput run (0: skip it)")
    ap.add_argument("--uri", help="tracking URI (default: a fresh sqlite "
                    "store in a temporary directory)")
    args = ap.parse_args()

    import mlflow
    import parzen

    tmp = tempfile.mkdtemp(prefix="parzen-bench-mlflow-")
    os.chdir(tmp)  # sqlite's artifacts go to ./mlruns
    uri = args.uri or "sqlite:///" + os.path.join(tmp, "mlflow.db")
    if not args.uri:  # the schema first: MLflow migrates a new database
        mlflow.MlflowClient(uri).search_experiments()

    one_fmin(50, 99, None)  # warm-up: imports, the C core
    off, on = [], []
    for r in range(args.repeats):
        off.append(one_fmin(args.trials, r, None))
        on.append(one_fmin(args.trials, r, uri))
    ratio = statistics.median(on) / statistics.median(off)
    print("fmin, %d trials, d=%d, TPE, trivial objective, %d runs each:"
          % (args.trials, D, args.repeats))
    print("  without tracking  median %.3f s  (min-max %.3f-%.3f)"
          % (statistics.median(off), min(off), max(off)))
    print("  with tracking     median %.3f s  (min-max %.3f-%.3f)"
          % (statistics.median(on), min(on), max(on)))
    print("  ratio of medians  %.3f  (run by run: %s)" % (
        ratio, ", ".join("%.2f" % (b / a) for a, b in zip(off, on))))
    if args.drain:
        t_fmin, t_all, s = drain(args.drain, uri)
        print("logging %d trials to %s: fmin returned after %.2f s, every "
              "trial logged after %.1f s (%.0f ms per trial); summary %s"
              % (args.drain, uri.split(":")[0], t_fmin, t_all,
                 1000 * (t_all - t_fmin) / args.drain, s))
    print()
    print("Python %s, numpy %s, mlflow %s, parzen %s, %s, %s cores"
          % (platform.python_version(), np.__version__, mlflow.__version__,
             parzen.__version__, cpu_model(), os.cpu_count()))
    ok = ratio <= 1.20
    print("target (tracking adds <= 20%% to fmin's wall time): %s"
          % ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
