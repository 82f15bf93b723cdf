"""SparkTrials on a standalone Spark cluster (master + worker on
127.0.0.1): executors are separate JVM processes that can be killed."""

import os
import threading

import pytest

from spark_fixtures import (StandaloneCluster, executor_pids, session,
                            ship_by_value, wait_for)

from parzen import STATUS_OK, SparkTrials, fmin, hp, rand, tpe
from parzen.base import JOB_STATE_ERROR

ship_by_value(__name__)


_daemons = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = StandaloneCluster(str(tmp_path_factory.mktemp("spark")))
    _daemons["cluster"] = c
    spark = session(c.url, "parzen-cluster-tests")
    yield spark
    spark.stop()
    c.stop()


def test_the_seed_example_runs_unchanged(cluster):
    def training_function(params):
        return (params["x"] - 1) ** 2 + params["y"]

    search_space = {"x": hp.uniform("x", -3, 3),
                    "y": hp.choice("y", [0.5, 0.0])}
    best_hyperparameters = fmin(
        fn=training_function, space=search_space, algo=tpe.suggest,
        max_evals=64, trials=SparkTrials())
    assert set(best_hyperparameters) == {"x", "y"}
    assert abs(best_hyperparameters["x"] - 1) < 1.0


def test_killing_the_executor_mid_trial_fails_that_trial_only(cluster,
                                                              tmp_path):
    marker = os.path.join(str(tmp_path), "started")

    def hangs_once(x):
        import time

        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return x  # every trial after the first returns at once
        os.close(fd)
        time.sleep(600)
        return x

    def kill_executor_when_the_trial_hangs():
        wait_for(lambda: os.path.exists(marker), timeout=300)
        for pid in executor_pids(_daemons["cluster"]):
            os.kill(pid, 9)

    killer = threading.Thread(target=kill_executor_when_the_trial_hangs)
    killer.start()
    trials = SparkTrials(parallelism=1, spark_session=cluster)
    fmin(hangs_once, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=5,
         trials=trials, rstate=0, show_progressbar=False)
    killer.join()
    assert trials.count_total_trials() == 5
    failed = [t for t in trials._dynamic_trials if t["state"] == JOB_STATE_ERROR]
    assert len(failed) == 1
    assert failed[0]["tid"] == 0
    assert trials.count_successful_trials() == 4


def _cpus_objective(x):
    from pyspark import TaskContext

    return {"loss": x, "status": STATUS_OK,
            "cpus": TaskContext.get().cpus()}


def test_a_resource_profile_reaches_each_trials_task(cluster):
    """RDD.withResources on the cluster: each trial's task runs under the
    profile (2 CPUs per task), seen from inside the objective; without a
    profile a task has the default 1."""
    from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests

    profile = ResourceProfileBuilder().require(
        TaskResourceRequests().cpus(2)).build
    trials = SparkTrials(parallelism=2, spark_session=cluster,
                         resource_profile=profile)
    assert trials._resource_profile is profile
    fmin(_cpus_objective, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=3, trials=trials, rstate=0, show_progressbar=False)
    assert [t["result"]["cpus"] for t in trials.trials] == [2, 2, 2]
    plain = SparkTrials(parallelism=2, spark_session=cluster)
    fmin(_cpus_objective, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=2, trials=plain, rstate=0, show_progressbar=False)
    assert [t["result"]["cpus"] for t in plain.trials] == [1, 1]
