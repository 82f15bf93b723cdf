"""SparkTrials through a Spark Connect server whose application runs on a
standalone cluster (master + worker on 127.0.0.1, executors are separate
JVM processes): what a Databricks user on shared or serverless compute
has, minus the network. The server is a separate process (spark-submit of
SparkConnectServer from the PySpark installation); this process is only a
Connect client, as are the driver scripts the durable test kills."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("grpc")

from spark_fixtures import (ConnectServer, StandaloneCluster,  # noqa: E402
                            executor_pids, ship_by_value, wait_for)
from test_durable import check_store, stored, wait_done  # noqa: E402

from parzen import STATUS_OK, SparkTrials, fmin, hp, rand  # noqa: E402
from parzen.base import JOB_STATE_DONE, JOB_STATE_ERROR  # noqa: E402

ship_by_value(__name__)


class _Setup:
    cluster = None
    server = None


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("spark-connect-cluster"))
    cluster = StandaloneCluster(tmp)
    try:
        server = ConnectServer(cluster.url, tmp)
    except Exception:
        cluster.stop()
        raise
    _Setup.cluster, _Setup.server = cluster, server
    s = server.session()
    yield s
    ConnectServer.close_session(s)
    server.stop()
    cluster.stop()


def test_the_session_is_connect_on_the_cluster(spark):
    trials = SparkTrials(parallelism=2, spark_session=spark)
    assert trials._spark_connect
    assert spark.conf.get("spark.master") == _Setup.cluster.url


def test_killing_the_executor_mid_trial_fails_that_trial_only(spark,
                                                              tmp_path):
    marker = os.path.join(str(tmp_path), "started")
    calls = tmp_path / "calls"
    calls.mkdir()
    calls = str(calls)

    def hangs_once(x):
        import time
        import uuid

        open(os.path.join(calls, uuid.uuid4().hex), "w").close()
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return x  # every trial after the first returns at once
        os.close(fd)
        time.sleep(600)
        return x

    killed = []

    def kill_executor_when_the_trial_hangs():
        wait_for(lambda: os.path.exists(marker), timeout=300)
        for pid in executor_pids(_Setup.cluster):
            os.kill(pid, 9)
            killed.append(pid)

    killer = threading.Thread(target=kill_executor_when_the_trial_hangs)
    killer.start()
    trials = SparkTrials(parallelism=1, spark_session=spark)
    fmin(hangs_once, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=5,
         trials=trials, rstate=0, show_progressbar=False)
    killer.join()
    assert killed
    assert trials.count_total_trials() == 5
    failed = [t for t in trials._dynamic_trials
              if t["state"] == JOB_STATE_ERROR]
    assert [t["tid"] for t in failed] == [0]
    # Spark re-attempted the killed task on a new executor: the attempt
    # reported the loss and did not call the objective again
    assert failed[0]["misc"]["error"] == (
        "<class 'parzen.spark.TrialLost'>",
        "trial 0: its Spark task failed (executor lost or task killed); "
        "parzen does not run a trial twice")
    assert trials.count_successful_trials() == 4
    assert len(os.listdir(calls)) == 5


def _cpus_objective(x):
    from pyspark import TaskContext

    return {"loss": x, "status": STATUS_OK,
            "cpus": TaskContext.get().cpus()}


def test_a_resource_profile_reaches_each_trials_task(spark):
    """Stage-level scheduling on the cluster: a profile asking 2 CPUs per
    task (a task profile; the worker's executor has 2 cores) is the one
    each trial's task runs under, seen from inside the objective."""
    from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests

    profile = ResourceProfileBuilder().require(
        TaskResourceRequests().cpus(2)).build
    trials = SparkTrials(parallelism=2, spark_session=spark,
                         resource_profile=profile)
    assert trials._resource_profile is profile
    fmin(_cpus_objective, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=3, trials=trials, rstate=0, show_progressbar=False)
    assert [t["result"]["cpus"] for t in trials.trials] == [2, 2, 2]
    # without a profile: the default one task CPU
    plain = SparkTrials(parallelism=2, spark_session=spark)
    fmin(_cpus_objective, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=2, trials=plain, rstate=0, show_progressbar=False)
    assert [t["result"]["cpus"] for t in plain.trials] == [1, 1]


DRIVER = textwrap.dedent("""
    import sys, time
    from pyspark.sql import SparkSession
    from parzen import SparkTrials, fmin, hp, tpe

    db, n, seed, url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
        sys.argv[4]
    spark = SparkSession.builder.remote(url).getOrCreate()

    def objective(p):
        time.sleep(0.05)
        return (p["x"] - 1) ** 2 + p["y"] ** 2

    space = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}
    fmin(objective, space, algo=tpe.suggest, max_evals=n,
         trials=SparkTrials(2, spark_session=spark), trials_save_file=db,
         rstate=seed, show_progressbar=False)
""")

N = 30
CYCLES = 3


def test_a_durable_run_survives_its_driver_killed_and_resumes(spark,
                                                              tmp_path):
    """fmin(trials=SparkTrials on Connect, trials_save_file="run.db"): the
    driver (a Connect client; the server and its executors live on) is
    killed with SIGKILL mid-run three times, then run to the end: exactly
    N trials done, no tid twice; a finished study runs nothing more."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    db = str(tmp_path / "run.db")
    url = _Setup.server.url

    def run(seed):
        return subprocess.Popen([sys.executable, str(script), db, str(N),
                                 str(seed), url], start_new_session=True)

    kills = 0
    for cycle in range(CYCLES):
        proc = run(cycle)
        try:
            wait_done(proc, db, 5 * (cycle + 1), limit=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait()
    assert kills == CYCLES
    assert stored(db, JOB_STATE_DONE) < N
    assert run(99).wait(timeout=600) == 0
    check_store(db, N)
    assert run(100).wait(timeout=600) == 0
    check_store(db, N)
