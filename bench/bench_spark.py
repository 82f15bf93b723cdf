"""SparkTrials throughput: parzen vs hyperopt, measured in one run.

200 trials of a 0.1 s objective at parallelism 8 on local[8] (the issue's
workload), for parzen's SparkTrials and for hyperopt's with its defaults
and with max_queue_len=8. Each measurement runs in a fresh process with a
fresh Spark session; parzen from .venv, hyperopt from .venv-bench (see
bench/setup-bench-env.sh; hyperopt is never a dependency of parzen).

Each run checks its work: every call of the objective leaves a file in a
directory of its own, and the run must have all its trials DONE with an
"ok" status, no failed trial and as many objective calls as trials; the
table shows the counts, and a run that did less exits 1 (a run doing less
work would look faster).

    .venv/bin/python bench/bench_spark.py            # the table
    .venv/bin/python bench/bench_spark.py --trials 40   # a quick look
    .venv/bin/python bench/bench_spark.py --impls parzen,parzen-connect

parzen-connect runs the same fmin on a local Spark Connect server
(`remote("local[8]")`); hyperopt's SparkTrials cannot run there.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from bench_util import cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(impl, n_trials, parallelism, sleep, calls_dir):
    """One run in this process; prints a JSON line."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = connect_session(parallelism) if impl == "parzen-connect" \
        else classic_session(parallelism)
    if impl.startswith("parzen"):
        from parzen import SparkTrials, fmin, hp, tpe
        kwargs = {}
    else:
        from hyperopt import SparkTrials, fmin, hp, tpe
        kwargs = {"max_queue_len": 8} if impl == "hyperopt-q8" else {}
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def fn(x):
        time.sleep(sleep)
        # -- one file per call (on the executor), counted by the driver
        open(os.path.join(calls_dir, uuid.uuid4().hex), "w").close()
        return (x - 3) ** 2

    trials = SparkTrials(parallelism=parallelism, spark_session=spark)
    t0 = time.perf_counter()
    fmin(fn, hp.uniform("x", -5, 5), algo=tpe.suggest, max_evals=n_trials,
         trials=trials, show_progressbar=False, **kwargs)
    wall = time.perf_counter() - t0
    spark.stop()
    ideal = n_trials * sleep / parallelism
    statuses = trials.statuses()
    print(json.dumps({"impl": impl, "wall_s": wall,
                      "trials_per_s": n_trials / wall,
                      "efficiency": ideal / wall,
                      "trials": len(trials),
                      "ok": sum(s == "ok" for s in statuses),
                      "failed": trials.count_failed_trials(),
                      "calls": len(os.listdir(calls_dir))}))


def classic_session(parallelism):
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[%d]" % parallelism)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("OFF")
    # warm the session up: JVM, Python workers (every implementation)
    spark.sparkContext.parallelize(range(parallelism), parallelism).count()
    return spark


def connect_session(parallelism):
    """A local Spark Connect server started from the PySpark install, warmed
    up as the classic session is: its JVM and a Python worker per slot."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.remote("local[%d]" % parallelism)
             .config("spark.ui.enabled", "false").getOrCreate())

    def touch(batches):
        for b in batches:
            yield b

    spark.range(parallelism, numPartitions=parallelism) \
        .mapInArrow(touch, "id long").count()
    return spark


def run_child(python, impl, args):
    calls_dir = tempfile.mkdtemp(prefix="pz-bench-calls-")
    cmd = [python, os.path.abspath(__file__), "--child", impl,
           "--trials", str(args.trials), "--parallelism",
           str(args.parallelism), "--sleep", str(args.sleep),
           "--calls-dir", calls_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit("%s failed:\n%s" % (impl, out.stderr[-3000:]))
    shutil.rmtree(calls_dir, ignore_errors=True)
    return json.loads(lines[-1])


def complete(r, n_trials):
    """Every trial ran once, finished ok; nothing failed."""
    return (r["trials"] == r["ok"] == r["calls"] == n_trials
            and r["failed"] == 0)



def versions(*pythons):
    """Versions of hyperopt and pyspark, from whichever environment has them."""
    code = ("import importlib.metadata as m\n"
            "for p in ('hyperopt', 'pyspark'):\n"
            "    try: print(p, m.version(p))\n"
            "    except m.PackageNotFoundError: pass\n")
    found = {}
    for python in pythons:
        if not os.path.exists(python):
            continue
        out = subprocess.run([python, "-c", code], capture_output=True,
                             text=True).stdout.split("\n")
        for line in filter(None, out):
            found.setdefault(*line.split(" ", 1))
    return " ".join("%s %s" % kv for kv in sorted(found.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--parallelism", type=int, default=8)
    ap.add_argument("--sleep", type=float, default=0.1)
    ap.add_argument("--calls-dir")
    ap.add_argument("--impls", default="parzen,parzen-connect,hyperopt,"
                    "hyperopt-q8", help="comma-separated subset to run")
    args = ap.parse_args()
    if args.child:
        measure(args.child, args.trials, args.parallelism, args.sleep,
                args.calls_dir)
        return
    parzen_py = os.path.join(ROOT, ".venv", "bin", "python")
    bench_py = os.path.join(ROOT, ".venv-bench", "bin", "python")
    impls = args.impls.split(",")
    rows = [run_child(parzen_py if i.startswith("parzen") else bench_py, i,
                      args) for i in impls]
    print("%d trials of a %.1f s objective, parallelism %d, local[%d] "
          "(classic, or a local Spark Connect server); %s"
          % (args.trials, args.sleep, args.parallelism, args.parallelism,
             versions(bench_py, parzen_py)))
    print()
    print("command: %s; %s, %d CPUs; load average %.1f %.1f %.1f after"
          % (" ".join(["python"] + sys.argv), cpu_model(), os.cpu_count(),
             *os.getloadavg()))
    print()
    print("| implementation | wall time (s) | trials/s | parallel efficiency "
          "| wall / first row | trials ok / failed / objective calls |")
    print("|---|---|---|---|---|---|")
    base = rows[0]["wall_s"]
    names = {"parzen": "parzen SparkTrials",
             "parzen-connect": "parzen SparkTrials on Spark Connect",
             "hyperopt": "hyperopt SparkTrials (defaults)",
             "hyperopt-q8": "hyperopt SparkTrials (max_queue_len=8)"}
    for r in rows:
        print("| %s | %.1f | %.2f | %.0f%% | %.1fx | %d / %d / %d%s |" % (
            names[r["impl"]], r["wall_s"], r["trials_per_s"],
            100 * r["efficiency"], r["wall_s"] / base, r["ok"], r["failed"],
            r["calls"], "" if complete(r, args.trials) else " INCOMPLETE"))
    if not all(complete(r, args.trials) for r in rows):
        print("a run did not do all its work: its time is not comparable")
        sys.exit(1)


if __name__ == "__main__":
    main()
