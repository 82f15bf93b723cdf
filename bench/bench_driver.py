"""The one trial loop (parzen._driver): its cost per trial, flat in N, and
the two fmin loops users run, against hyperopt 0.3.0 in the same run.

Run in the bench environment (hyperopt is never a parzen dependency):

    bash bench/setup-bench-env.sh
    .venv-bench/bin/python bench/bench_driver.py [--quick]

Measured (trivial objective: sum of squares; uniform(-5, 5) parameters):

1. driver cost per trial, flat in N: ParallelTrials(2), TPE, d=5, wall
   time per trial of a whole fmin over 500 and over 5,000 trials (parzen
   only: hyperopt has no local-process Trials). Target: 5,000 <= 1.3x 500.
2. resume-loop step: one ``fmin(max_evals=len(trials) + 1, trials=trials)``
   call adding one TPE trial to 1,000 trials, d=10 (the checkpoint loop of
   hyperopt's documentation); median over calls. Target: >= 50x hyperopt.
3. whole fmin: 1,000 TPE trials, d=10, each in a fresh process (the time of
   the fmin call in it). Target: >= 60x hyperopt.

Each measurement is repeated; the table gives the median and the min-max
spread, the ratios are of medians measured side by side in this run.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from bench_util import cpu_model, spread

FRESH = r"""
import json, sys, time
import numpy as np
lib = __import__(sys.argv[1])
import importlib; importlib.import_module(sys.argv[1] + ".base")
D = 10
space = {"x%d" % i: lib.hp.uniform("x%d" % i, -5, 5) for i in range(D)}
def objective(p):
    return float(sum(v * v for v in p.values()))
trials = lib.Trials()
t0 = time.perf_counter()
lib.fmin(objective, space, algo=lib.tpe.suggest, max_evals=int(sys.argv[2]),
         trials=trials, rstate=np.random.default_rng(int(sys.argv[3])),
         show_progressbar=False)
el = time.perf_counter() - t0
assert len(trials) == int(sys.argv[2])
print(json.dumps({"seconds": el, "best": min(trials.losses())}))
"""


def objective(p):
    return float(sum(v * v for v in p.values()))


def space(lib, d):
    return {"x%d" % i: lib.hp.uniform("x%d" % i, -5, 5) for i in range(d)}


def parallel_per_trial(n, seed):
    import numpy as np

    from parzen import fmin, hp, tpe
    from parzen.parallel import ParallelTrials

    class HP:
        pass

    HP.hp = hp
    in_algo = [0.0]

    def algo(*a):  # the sampler's share of the driver's time
        t = time.perf_counter()
        try:
            return tpe.suggest(*a)
        finally:
            in_algo[0] += time.perf_counter() - t

    trials = ParallelTrials(2)
    t0 = time.perf_counter()
    fmin(objective, space(HP, 5), algo=algo, max_evals=n,
         trials=trials, rstate=np.random.default_rng(seed),
         show_progressbar=False)
    el = time.perf_counter() - t0
    assert trials.count_successful_trials() == n
    return el / n, (el - in_algo[0]) / n


def resume_steps(lib, n, k):
    """Seconds of each of k resume calls, each adding one TPE trial."""
    import numpy as np

    sp = space(lib, 10)
    trials = lib.Trials()
    lib.fmin(objective, sp, algo=lib.rand.suggest, max_evals=n,
             trials=trials, rstate=np.random.default_rng(0),
             show_progressbar=False)
    times = []
    for i in range(k):
        t0 = time.perf_counter()
        lib.fmin(objective, sp, algo=lib.tpe.suggest,
                 max_evals=len(trials) + 1, trials=trials,
                 rstate=np.random.default_rng(i + 1), show_progressbar=False)
        times.append(time.perf_counter() - t0)
    assert len(trials) == n + k
    return times


def fresh_fmin(lib_name, n, seed):
    out = subprocess.run([sys.executable, "-c", FRESH, lib_name, str(n),
                          str(seed)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])





def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer and smaller runs (a smoke run)")
    args = ap.parse_args()

    import hyperopt
    import numpy as np

    import parzen

    q = args.quick
    small, big = (200, 1000) if q else (500, 5000)
    reps = 1 if q else 3
    k_h, k_p = (3, 30) if q else (15, 300)
    n_fresh = 200 if q else 1000
    fresh_h, fresh_p = (1, 2) if q else (3, 5)

    rows, ok = [], True

    # 1. driver cost per trial, flat in N (interleaved runs)
    per_small, per_big, rest_small, rest_big = [], [], [], []
    for r in range(reps):
        a, b = parallel_per_trial(small, r)
        per_small.append(a)
        rest_small.append(b)
        a, b = parallel_per_trial(big, r)
        per_big.append(a)
        rest_big.append(b)
    flat = statistics.median(per_big) / statistics.median(per_small)
    flat_rest = statistics.median(rest_big) / statistics.median(rest_small)
    ok &= flat <= 1.3
    rows.append("ParallelTrials(2), TPE, d=5, wall per trial: %d trials %s, "
                "%d trials %s; ratio %.2fx (target <= 1.3x)"
                % (small, spread(per_small), big, spread(per_big), flat))
    rows.append("  the same without the time inside tpe.suggest (the loop "
                "itself): %s vs %s; ratio %.2fx"
                % (spread(rest_small), spread(rest_big), flat_rest))

    # 2. the resume-loop step
    sh = resume_steps(hyperopt, 1000, k_h)
    sp = resume_steps(parzen, 1000, k_p)
    r2 = statistics.median(sh) / statistics.median(sp)
    ok &= r2 >= 50
    rows.append("resume step (fmin adding 1 TPE trial to 1000, d=10): "
                "hyperopt %s, parzen %s; ratio %.1fx (target >= 50x)"
                % (spread(sh), spread(sp), r2))

    # 3. whole fmin in fresh processes (interleaved)
    th, tp, bh, bp = [], [], [], []
    for r in range(max(fresh_h, fresh_p)):
        if r < fresh_h:
            res = fresh_fmin("hyperopt", n_fresh, r)
            th.append(res["seconds"])
            bh.append(res["best"])
        if r < fresh_p:
            res = fresh_fmin("parzen", n_fresh, r)
            tp.append(res["seconds"])
            bp.append(res["best"])
    r3 = statistics.median(th) / statistics.median(tp)
    ok &= r3 >= 60
    rows.append("whole fmin, %d TPE trials, d=10, fresh process: hyperopt "
                "%s, parzen %s; ratio %.1fx (target >= 60x)"
                % (n_fresh, spread(th), spread(tp), r3))

    for row in rows:
        print(row)
    print()
    print("best loss (median): hyperopt %.3f, parzen %.3f"
          % (statistics.median(bh), statistics.median(bp)))
    print("CPU: %s, %s cores; load average at the end: %s" % (
        cpu_model(), os.cpu_count(),
        " ".join("%.1f" % x for x in os.getloadavg())))
    print("Python %s, numpy %s, hyperopt %s, parzen %s" % (
        platform.python_version(), np.__version__, hyperopt.__version__,
        parzen.__version__))
    print("targets:", "met" if ok else "NOT all met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
