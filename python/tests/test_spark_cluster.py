"""SparkTrials on a standalone Spark cluster (master + worker on
127.0.0.1: executors are separate JVM processes that can be killed),
driven two ways: as a classic Spark application, and through a Spark
Connect server whose application runs on the cluster -- what a Databricks
user on shared or serverless compute has, minus the network. The Connect
server is a separate process (spark-submit of SparkConnectServer from the
PySpark installation); this process is then only a Connect client, as are
the driver scripts the durable test kills.

The tests that mean the same on both take the `on_cluster` fixture,
parametrized by session kind (the others pick their kind); pytest runs
each kind's tests together, so one cluster (and one server) at a time."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from spark_fixtures import (ConnectServer, StandaloneCluster,
                            executor_pids, session, ship_by_value, wait_for)
from test_durable import check_store, stored, wait_done

from parzen import STATUS_OK, SparkTrials, fmin, hp, rand, tpe
from parzen.base import JOB_STATE_DONE, JOB_STATE_ERROR

ship_by_value(__name__)


class Cluster:
    """A running cluster and the session the tests drive it with."""

    def __init__(self, kind, tmp):
        self.kind = kind
        self.daemons = StandaloneCluster(tmp)
        self.server = None
        try:
            if kind == "connect":
                self.server = ConnectServer(self.daemons.url, tmp)
                self.spark = self.server.session()
            else:
                self.spark = session(self.daemons.url, "parzen-cluster-tests")
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.server is not None:
            ConnectServer.close_session(self.spark)
            self.server.stop()
        elif getattr(self, "spark", None) is not None:
            self.spark.stop()
        self.daemons.stop()


@pytest.fixture(scope="module", params=["classic", "connect"])
def on_cluster(request, tmp_path_factory):
    c = Cluster(request.param,
                str(tmp_path_factory.mktemp("spark-" + request.param)))
    yield c
    c.stop()


# -- a test that means something for one kind only asks for that kind
classic_only = pytest.mark.parametrize("on_cluster", ["classic"],
                                       indirect=True)
connect_only = pytest.mark.parametrize("on_cluster", ["connect"],
                                       indirect=True)


def test_the_session_is_the_kind_asked_for(on_cluster):
    trials = SparkTrials(parallelism=2, spark_session=on_cluster.spark)
    assert trials._spark_connect == (on_cluster.kind == "connect")
    assert on_cluster.spark.conf.get("spark.master") == on_cluster.daemons.url


@classic_only
def test_the_seed_example_runs_unchanged(on_cluster):
    def training_function(params):
        return (params["x"] - 1) ** 2 + params["y"]

    search_space = {"x": hp.uniform("x", -3, 3),
                    "y": hp.choice("y", [0.5, 0.0])}
    best_hyperparameters = fmin(
        fn=training_function, space=search_space, algo=tpe.suggest,
        max_evals=64, trials=SparkTrials())
    assert set(best_hyperparameters) == {"x", "y"}
    assert abs(best_hyperparameters["x"] - 1) < 1.0


# -- Spark Connect's two dispatch modes (SparkTrials(connect_dispatch=)):
# the pool loses a worker's connection, the per-query path a task
@pytest.mark.parametrize("on_cluster,dispatch", [
    ("classic", "auto"), ("connect", "pool"), ("connect", "query")],
    indirect=["on_cluster"])
def test_killing_the_executor_mid_trial_fails_that_trial_only(on_cluster,
                                                              dispatch,
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
        for pid in executor_pids(on_cluster.daemons):
            os.kill(pid, 9)
            killed.append(pid)

    killer = threading.Thread(target=kill_executor_when_the_trial_hangs)
    killer.start()
    trials = SparkTrials(parallelism=1, spark_session=on_cluster.spark,
                         connect_dispatch=dispatch)
    fmin(hangs_once, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=5,
         trials=trials, rstate=0, show_progressbar=False)
    killer.join()
    assert trials.connect_mode == (None if dispatch == "auto" else dispatch)
    assert killed
    assert trials.count_total_trials() == 5
    failed = [t for t in trials._dynamic_trials
              if t["state"] == JOB_STATE_ERROR]
    assert [t["tid"] for t in failed] == [0]
    # Spark re-attempted the killed task on a new executor: the attempt
    # reported the loss (per query) or served nothing (the pool, whose
    # driver saw the worker's connection drop) and did not call the
    # objective again
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


def test_a_resource_profile_reaches_each_trials_task(on_cluster):
    """Stage-level scheduling on the cluster (RDD.withResources on classic,
    the DataFrame job's profile on Connect): a profile asking 2 CPUs per
    task (a task profile; the worker's executor has 2 cores) is the one
    each trial's task runs under, seen from inside the objective."""
    from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests

    profile = ResourceProfileBuilder().require(
        TaskResourceRequests().cpus(2)).build
    trials = SparkTrials(parallelism=2, spark_session=on_cluster.spark,
                         resource_profile=profile)
    assert trials._resource_profile is profile
    fmin(_cpus_objective, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=3, trials=trials, rstate=0, show_progressbar=False)
    assert [t["result"]["cpus"] for t in trials.trials] == [2, 2, 2]
    # without a profile: the default one task CPU
    plain = SparkTrials(parallelism=2, spark_session=on_cluster.spark)
    fmin(_cpus_objective, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=2, trials=plain, rstate=0, show_progressbar=False)
    assert [t["result"]["cpus"] for t in plain.trials] == [1, 1]


@classic_only
def test_pruning_reports_cross_processes(on_cluster):
    """fmin(pruner=...): each task's reports reach the driver's listener
    from the executor's Python worker and the answers come back."""
    from pruning_cases import SHA_RUNGS, check_spark_run, reporting_objective

    from parzen import pruners

    ship_by_value("pruning_cases")

    trials = SparkTrials(parallelism=2, spark_session=on_cluster.spark)
    fmin(reporting_objective(9), hp.uniform("x", -5, 5), algo=rand.suggest,
         max_evals=12, trials=trials, rstate=3, show_progressbar=False,
         pruner=pruners.SuccessiveHalvingPruner())
    check_spark_run(trials, 12, 9, rungs=SHA_RUNGS)


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


@connect_only
def test_a_durable_run_survives_its_driver_killed_and_resumes(
        on_cluster, tmp_path):
    """fmin(trials=SparkTrials on Connect, trials_save_file="run.db"): the
    driver (a Connect client; the server and its executors live on) is
    killed with SIGKILL mid-run three times, then run to the end: exactly
    N trials done, no tid twice; a finished study runs nothing more."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    db = str(tmp_path / "run.db")
    url = on_cluster.server.url

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
