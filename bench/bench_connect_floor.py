"""Where a Spark Connect trial's CPU goes, next to a classic one: the floor
under bench_spark.py's Connect row.

Each case runs N one-task jobs from 8 threads (as SparkTrials at
parallelism 8 does), each job a 0.1 s sleep in Python where the case has
Python, after an untimed round of the same jobs (JVM and Python workers
warm), and prints the CPU milliseconds per job of this process (the
driver, or Connect's client), its JVM (Spark's driver, or the local
Connect server with its local executors) and Spark's Python workers:

    classic-rdd      a one-partition RDD job running a Python function:
                     what a classic SparkTrials trial is
    connect-range    spark.range(1).toArrow() on Connect: one query, no
                     Python on the executors, the least a Connect job costs
    connect-trial    a one-row mapInArrow job of parzen's Connect backend
                     (the objective and point pickled into the plan): what
                     a Connect SparkTrials trial is

    .venv/bin/python bench/bench_connect_floor.py [--jobs 200]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_spark  # noqa: E402
import bench_util  # noqa: E402


def nap(x):
    time.sleep(0.1)
    return x


def job_of(case, spark):
    if case == "classic-rdd":
        sc = spark.sparkContext
        return lambda i: sc.parallelize([i], 1).map(nap).collect()
    if case == "connect-range":
        return lambda i: spark.range(1, numPartitions=1).toArrow()
    from pyspark import cloudpickle

    from parzen import _connect_backend as cb

    fn_bytes = cloudpickle.dumps(nap)
    schema = cb._result_schema()
    base = spark.range(1, numPartitions=1)
    return lambda i: cb._rows(base.mapInArrow(
        cb._make_task(fn_bytes, {"x": i}, i), schema))


def measure(case, n):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spark = bench_spark.classic_session(8) if case == "classic-rdd" \
        else bench_spark.connect_session(8)
    job = job_of(case, spark)

    def rounds():
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(job, range(n)))

    rounds()  # warm-up, untimed
    cpu0 = bench_spark.cpu_seconds()
    t0 = time.perf_counter()
    rounds()
    wall = time.perf_counter() - t0
    cpu1 = bench_spark.cpu_seconds()
    print(json.dumps({"case": case, "wall_s": wall, "cpu_ms": {
        k: 1000 * (cpu1[k] - cpu0[k]) / n for k in cpu0}}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--jobs", type=int, default=200)
    args = ap.parse_args()
    if args.child:
        measure(args.child, args.jobs)
        return
    rows = []
    for case in ("classic-rdd", "connect-range", "connect-trial"):
        out = subprocess.run([sys.executable, os.path.abspath(__file__),
                              "--child", case, "--jobs", str(args.jobs)],
                             capture_output=True, text=True)
        lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
        if out.returncode != 0 or not lines:
            raise SystemExit("%s failed:\n%s" % (case, out.stderr[-3000:]))
        rows.append(json.loads(lines[-1]))
    print("%d one-task jobs from 8 threads, local[8], after a warm-up "
          "round; %s, %d CPUs; load average %.1f %.1f %.1f after"
          % (args.jobs, bench_util.cpu_model(), os.cpu_count(),
             *os.getloadavg()))
    print()
    print("| case | wall (s) | CPU ms per job: driver or client / JVM / "
          "Python workers | total |")
    print("|---|---|---|---|")
    for r in rows:
        c = r["cpu_ms"]
        print("| %s | %.1f | %.0f / %.0f / %.0f | %.0f |" % (
            r["case"], r["wall_s"], c["client"], c["jvm"], c["workers"],
            sum(c.values())))


if __name__ == "__main__":
    main()
