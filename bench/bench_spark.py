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
parzen-connect-pool and parzen-connect-query force its dispatch mode
(SparkTrials(connect_dispatch=...): the trial pool of long-lived worker
queries, or one Connect query per trial); parzen-connect is "auto" (the
pool here). The mode column says which ran and how many Connect queries
the pool started.
`--runs N` repeats the list N times, interleaved (A B C A B C ...), and
ends with each implementation's min-max wall time and wall / first row.
`--warmup N` runs N untimed trials on the same session first (a server
that has been up a while rather than one started for the run). The last
column is the CPU time per trial of the driver process (Connect: the
client), its JVM (Spark's driver with the local executors; Connect: the
server) and Spark's Python workers, read from /proc: on a loaded machine
it says more than the wall time, which depends on what else runs.
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


def measure(impl, n_trials, parallelism, sleep, calls_dir, warmup=0):
    """One run in this process; prints a JSON line. `warmup` trials run
    first, untimed, on the same session (a long-lived server or cluster
    rather than one started for this run)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    connect = impl.startswith("parzen-connect")
    spark = connect_session(parallelism) if connect \
        else classic_session(parallelism)
    dispatch = {}
    if connect:
        dispatch["connect_dispatch"] = impl[len("parzen-connect-"):] or "auto"
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

    if warmup:
        fmin(lambda x: x * x, hp.uniform("x", -5, 5), algo=tpe.suggest,
             max_evals=warmup, trials=SparkTrials(
                 parallelism=parallelism, spark_session=spark, **dispatch),
             show_progressbar=False, **kwargs)
    trials = SparkTrials(parallelism=parallelism, spark_session=spark,
                         **dispatch)
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    fmin(fn, hp.uniform("x", -5, 5), algo=tpe.suggest, max_evals=n_trials,
         trials=trials, show_progressbar=False, **kwargs)
    wall = time.perf_counter() - t0
    cpu1 = cpu_seconds()
    spark.stop()
    ideal = n_trials * sleep / parallelism
    statuses = trials.statuses()
    mode = getattr(trials, "connect_mode", None) or "-"
    if mode == "pool":
        mode += " (%d queries)" % trials._pz_backend.queries
    print(json.dumps({"impl": impl, "wall_s": wall, "mode": mode,
                      "trials_per_s": n_trials / wall,
                      "efficiency": ideal / wall,
                      "trials": len(trials),
                      "ok": sum(s == "ok" for s in statuses),
                      "failed": trials.count_failed_trials(),
                      "calls": len(os.listdir(calls_dir)),
                      "cpu_ms": {k: 1000 * (cpu1[k] - cpu0[k]) / n_trials
                                 for k in cpu0}}))


def cpu_seconds():
    """CPU seconds used so far by this process (the driver, or Connect's
    client), its JVM (Spark's driver, or the local Connect server with its
    executors) and the JVM's descendants (Spark's Python workers), read
    from /proc (Linux); children that ended count through their parent's
    cumulative times."""
    tick = os.sysconf("SC_CLK_TCK")
    procs = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        procs[int(pid)] = (int(fields[1]),
                           sum(map(int, fields[11:13])) / tick,
                           sum(map(int, fields[13:15])) / tick)
    kids = {}
    for pid, (ppid, _, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)

    def tree(pid):
        return procs[pid][1] + procs[pid][2] + sum(
            tree(k) for k in kids.get(pid, []))

    me = os.getpid()
    out = {"client": procs[me][1], "jvm": 0.0, "workers": 0.0}
    for jvm in kids.get(me, []):
        out["jvm"] += procs[jvm][1]
        out["workers"] += tree(jvm) - procs[jvm][1]
    return out


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
           "--calls-dir", calls_dir, "--warmup", str(args.warmup)]
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
    ap.add_argument("--warmup", type=int, default=0,
                    help="untimed trials run first on the same session")
    ap.add_argument("--impls", default="parzen,parzen-connect,hyperopt,"
                    "hyperopt-q8", help="comma-separated subset to run")
    ap.add_argument("--runs", type=int, default=1,
                    help="repeat the list, interleaved")
    args = ap.parse_args()
    if args.child:
        measure(args.child, args.trials, args.parallelism, args.sleep,
                args.calls_dir, args.warmup)
        return
    parzen_py = os.path.join(ROOT, ".venv", "bin", "python")
    bench_py = os.path.join(ROOT, ".venv-bench", "bin", "python")
    impls = args.impls.split(",")
    rows = []
    for run in range(args.runs):
        for i in impls:
            r = run_child(parzen_py if i.startswith("parzen") else bench_py,
                          i, args)
            r["run"], r["load"] = run + 1, os.getloadavg()[0]
            rows.append(r)
    print("%d trials of a %.1f s objective, parallelism %d, local[%d] "
          "(classic, or a local Spark Connect server)%s; %s"
          % (args.trials, args.sleep, args.parallelism, args.parallelism,
             ", after %d untimed warm-up trials on the same session"
             % args.warmup if args.warmup else "",
             versions(bench_py, parzen_py)))
    print()
    print("command: %s; %s, %d CPUs; load average %.1f %.1f %.1f after"
          % (" ".join(["python"] + sys.argv), cpu_model(), os.cpu_count(),
             *os.getloadavg()))
    print()
    print("| run | implementation | mode | wall time (s) | trials/s "
          "| parallel efficiency | wall / first row | trials ok / failed / "
          "objective calls | CPU ms per trial: driver or client / JVM / "
          "Python workers | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = {"parzen": "parzen SparkTrials",
             "parzen-connect": "parzen SparkTrials on Spark Connect",
             "parzen-connect-pool": "parzen SparkTrials on Spark Connect",
             "parzen-connect-query": "parzen SparkTrials on Spark Connect",
             "hyperopt": "hyperopt SparkTrials (defaults)",
             "hyperopt-q8": "hyperopt SparkTrials (max_queue_len=8)"}
    ratios = {}
    for k, r in enumerate(rows):
        base = rows[k - k % len(impls)]["wall_s"]  # this run's first row
        ratios.setdefault(r["impl"], []).append(r["wall_s"] / base)
        cpu = r["cpu_ms"]
        print("| %d | %s | %s | %.1f | %.2f | %.0f%% | %.2fx | %d / %d / %d%s "
              "| %.0f / %.0f / %.0f = %.0f | %.1f |" % (
            r["run"], names[r["impl"]], r.get("mode", "-"), r["wall_s"],
            r["trials_per_s"], 100 * r["efficiency"], r["wall_s"] / base,
            r["ok"], r["failed"], r["calls"],
            "" if complete(r, args.trials) else " INCOMPLETE",
            cpu["client"], cpu["jvm"], cpu["workers"],
            sum(cpu.values()), r["load"]))
    if args.runs > 1:
        print()
        print("| implementation | wall time min-max (s) | wall / first row "
              "min-max | CPU ms per trial min-max |")
        print("|---|---|---|---|")
        for i in impls:
            mine = [r for r in rows if r["impl"] == i]
            walls = [r["wall_s"] for r in mine]
            cpus = [sum(r["cpu_ms"].values()) for r in mine]
            print("| %s | %.1f-%.1f | %.2f-%.2fx | %.0f-%.0f |" % (
                i, min(walls), max(walls), min(ratios[i]), max(ratios[i]),
                min(cpus), max(cpus)))
    if not all(complete(r, args.trials) for r in rows):
        print("a run did not do all its work: its time is not comparable")
        sys.exit(1)


if __name__ == "__main__":
    main()
