"""SparkTrials on a real Spark Connect session: the Spark Connect server
that remote("local[2,4]") starts from the PySpark installation (2 cores, a
task may be attempted 4 times, as on a cluster). Same behaviours as on
classic Spark (test_spark.py), through DataFrame jobs and job tags instead
of RDD jobs and job groups.

Two dispatch modes (SparkTrials(connect_dispatch=...)): the trial pool
(long-lived worker queries, each running many trials; what "auto" picks
here, the server being local) and one query per trial (the fallback).
The tests where the two differ (errors, cancellation, a lost worker, what
the executors import) run in both: the `dispatch` parameter."""

import logging
import os
import signal
import stat
import sys
import threading
import time

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("grpc")

from spark_fixtures import (ConnectServer, connect_session, pid_alive,  # noqa: E402
                            ship_by_value, wait_for)

from parzen import STATUS_OK, SparkTrials, fmin, hp, rand, tpe  # noqa: E402
from parzen.base import JOB_STATE_CANCEL, JOB_STATE_ERROR  # noqa: E402

ship_by_value(__name__)


@pytest.fixture(scope="module")
def spark():
    s = connect_session("local[2,4]")
    yield s
    s.stop()


@pytest.fixture
def spark_log(caplog):
    caplog.set_level(logging.DEBUG, logger="hyperopt-spark")
    return caplog


def quadratic(x):
    return (x - 3) ** 2


both_modes = pytest.mark.parametrize("dispatch", ["pool", "query"])


def test_the_session_is_a_connect_session(spark):
    trials = SparkTrials(parallelism=2, spark_session=spark)
    assert trials._spark_connect
    assert trials._spark_context is None
    assert not trials._spark_pinned_threads_enabled
    assert trials._spark_supports_job_cancelling
    # no spark_session=: the active session, Connect here too
    assert SparkTrials(parallelism=1)._spark_connect


def test_default_parallelism_is_the_servers(spark, caplog):
    with caplog.at_level(logging.WARNING, logger="hyperopt-spark"):
        trials = SparkTrials(spark_session=spark)
    assert trials.parallelism == 2  # local[2,4]
    assert "parallelism will be set to (2)" in caplog.text


def test_quadratic1_tpe(spark):
    trials = SparkTrials(parallelism=2, spark_session=spark)
    best = fmin(quadratic, hp.uniform("x", -5, 5), algo=tpe, max_evals=50,
                trials=trials, rstate=123, show_progressbar=False)
    assert len(trials) == 50
    assert trials.count_successful_trials() == 50
    assert abs(best["x"] - 3) < 0.25


@both_modes
def test_trial_run_info(spark, spark_log, dispatch):
    def fn(x):
        if x < -3 or x > 3:
            raise RuntimeError("x out of range: %r" % x)
        return 1.0

    trials = SparkTrials(parallelism=2, spark_session=spark,
                         connect_dispatch=dispatch)
    fmin(fn, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=8,
         trials=trials, rstate=94, show_progressbar=False)
    assert trials.connect_mode == dispatch
    n_ok, n_fail = trials.count_successful_trials(), trials.count_failed_trials()
    assert n_ok + n_fail == trials.count_total_trials() == 8
    assert n_fail > 0 and n_ok > 0
    assert ("Total Trials: 8: %d succeeded, %d failed, 0 cancelled."
            % (n_ok, n_fail)) in spark_log.text
    assert "fmin thread exits normally" in spark_log.text
    for t in trials._dynamic_trials:
        if t["state"] == JOB_STATE_ERROR:
            assert "RuntimeError" in t["misc"]["error"][0]
            assert "Traceback (most recent call last)" in t["misc"]["error"][1]
            assert "x out of range" in t["misc"]["error"][1]
            assert ("trial %d task thread catches an exception" % t["tid"]
                    in spark_log.text)
        else:
            assert t["result"] == {"loss": 1.0, "status": STATUS_OK}
            assert ("trial %d task thread exits normally" % t["tid"]
                    in spark_log.text)


def test_results_keep_their_extra_fields(spark):
    def fn(x):
        return {"loss": x, "status": STATUS_OK, "info": {"x": [x, "a"]}}

    trials = SparkTrials(parallelism=2, spark_session=spark)
    fmin(fn, hp.uniform("x", 0, 1), algo=rand, max_evals=3, trials=trials,
         rstate=0, show_progressbar=False)
    for t in trials.trials:
        assert t["result"]["info"] == {"x": [t["result"]["loss"], "a"]}


def test_all_failed_trials(spark):
    def fails(x):
        raise ValueError("always")

    trials = SparkTrials(parallelism=2, spark_session=spark)
    with pytest.raises(Exception, match="There are no evaluation tasks"):
        fmin(fails, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=4,
             trials=trials, rstate=0, show_progressbar=False)
    assert trials.count_failed_trials() == 4
    assert trials.count_successful_trials() == 0


def _pid_file_objective(pid_dir, slow):
    """An objective that records the pid of the Python worker running it
    and sleeps 600 s when slow(x)."""

    def fn(x):
        if slow(x):
            path = os.path.join(pid_dir, "%d" % os.getpid())
            with open(path, "w") as f:
                f.write("running")
            time.sleep(600)
        return x

    return fn


def _wait_for_workers_killed(pid_dir):
    pids = [int(p) for p in os.listdir(pid_dir)]
    assert pids
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=60)


@both_modes
def test_timeout_interrupts_the_running_jobs(spark, spark_log, tmp_path,
                                             dispatch):
    fn = _pid_file_objective(str(tmp_path), lambda x: x < 0)
    # 8 s: on a loaded machine a one-query trial can take a few seconds,
    # and only the sleeping (x < 0) trials may still run at the timeout
    trials = SparkTrials(parallelism=2, timeout=8, spark_session=spark,
                         connect_dispatch=dispatch)
    t0 = time.monotonic()
    fmin(fn, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=50,
         trials=trials, rstate=7, show_progressbar=False, return_argmin=False)
    # the sleeping jobs (600 s) were interrupted; the bound leaves room for
    # a cold server's probe on a loaded machine (25 s seen at load 20)
    assert time.monotonic() - t0 < 300
    assert trials.fmin_cancelled_reason == "fmin run timeout"
    assert trials.count_cancelled_trials() >= 1
    assert "fmin cancelled because of fmin run timeout" in spark_log.text
    assert "Cancelling all running jobs" in spark_log.text
    assert "fmin is cancelled, so new trials will not be launched" \
        in spark_log.text
    cancelled = [t for t in trials._dynamic_trials
                 if t["state"] == JOB_STATE_CANCEL]
    assert all(t["misc"]["vals"]["x"][0] < 0 for t in cancelled)
    assert trials.connect_mode == dispatch
    _wait_for_workers_killed(str(tmp_path))  # Spark killed the objective


@both_modes
def test_ctrl_c_interrupts_the_running_jobs(spark, tmp_path, dispatch):
    fn = _pid_file_objective(str(tmp_path), lambda x: True)

    def press_ctrl_c_once_a_trial_runs():
        wait_for(lambda: os.listdir(str(tmp_path)), timeout=120)
        # a real SIGINT to the main thread: it wakes the blocked driver
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_once_a_trial_runs)
    presser.start()
    trials = SparkTrials(parallelism=2, spark_session=spark,
                         connect_dispatch=dispatch)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        fmin(fn, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=4,
             trials=trials, rstate=7, show_progressbar=False)
    presser.join()
    assert time.monotonic() - t0 < 150
    assert trials.fmin_cancelled_reason == "fmin run cancelled by user"
    assert trials.count_cancelled_trials() == 2
    assert trials.count_successful_trials() == 0
    assert trials.connect_mode == dispatch
    _wait_for_workers_killed(str(tmp_path))


def test_no_retry_for_failing_objectives(spark, tmp_path):
    def writes_then_raises(x):
        import uuid

        open(os.path.join(str(tmp_path), uuid.uuid4().hex), "w").close()
        raise RuntimeError("no retry please")

    trials = SparkTrials(parallelism=2, spark_session=spark)
    with pytest.raises(Exception, match="no evaluation tasks"):
        fmin(writes_then_raises, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=2, trials=trials, show_progressbar=False)
    assert len(os.listdir(str(tmp_path))) == 2


@both_modes
def test_a_retried_task_does_not_run_the_objective_again(spark, tmp_path,
                                                         dispatch):
    # The first call kills its Python worker: the task fails and Spark
    # (4 attempts allowed here) runs it again. The second attempt must
    # report the loss (per-query), or serve nothing (a pool worker's retry:
    # the driver saw the connection drop and wrote the trial off), not call
    # the objective a second time.
    calls = str(tmp_path)

    def dies_once(x):
        import uuid

        open(os.path.join(calls, uuid.uuid4().hex), "w").close()
        if len(os.listdir(calls)) == 1:
            os._exit(3)
        return x

    trials = SparkTrials(parallelism=1, spark_session=spark,
                         connect_dispatch=dispatch)
    fmin(dies_once, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=3,
         trials=trials, rstate=0, show_progressbar=False)
    assert len(os.listdir(calls)) == 3  # one call per trial, never two
    failed = [t for t in trials._dynamic_trials if t["state"] == JOB_STATE_ERROR]
    assert [t["tid"] for t in failed] == [0]
    assert failed[0]["misc"]["error"] == (
        "<class 'parzen.spark.TrialLost'>",
        "trial 0: its Spark task failed (executor lost or task killed); "
        "parzen does not run a trial twice")
    assert trials.connect_mode == dispatch
    assert trials.count_successful_trials() == 2


def test_early_stop(spark, spark_log):
    def stop_after_three(trials, *state):
        ok = [t for t in trials.trials
              if t["result"].get("status") == STATUS_OK]
        return len(ok) >= 3, []

    trials = SparkTrials(parallelism=2, spark_session=spark)
    fmin(quadratic, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=10,
         trials=trials, rstate=1, show_progressbar=False,
         early_stop_fn=stop_after_three)
    assert 3 <= trials.count_successful_trials() < 10
    assert trials.fmin_cancelled_reason == "early stopping condition"
    assert "fmin cancelled because of early stopping condition" \
        in spark_log.text


def test_loss_threshold_from_the_constructor_is_honoured(spark):
    trials = SparkTrials(parallelism=2, loss_threshold=1.0, spark_session=spark)
    fmin(quadratic, hp.uniform("x", -5, 5), algo=rand.suggest,
         max_evals=200, trials=trials, rstate=3, show_progressbar=False)
    assert trials.count_total_trials() < 200
    assert min(trials.losses()) < 1.0
    assert trials.fmin_cancelled_reason == "loss threshold reached"


def test_unpicklable_objective_fails_before_any_trial(spark):
    lock = threading.Lock()

    def uses_a_lock(x):
        with lock:
            return x

    trials = SparkTrials(parallelism=2, spark_session=spark)
    with pytest.raises(TypeError, match="cannot be sent to Spark executors"):
        fmin(uses_a_lock, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=3, trials=trials, show_progressbar=False)
    assert trials.count_total_trials() == 0
    assert len(trials.trials) == 0


@both_modes
def test_executors_never_import_parzen(spark, dispatch):
    def checks_modules(x):
        import sys

        if "parzen" in sys.modules:
            raise AssertionError("the task imported parzen")
        return x["a"]

    trials = SparkTrials(parallelism=2, spark_session=spark,
                         connect_dispatch=dispatch)
    fmin(checks_modules, {"a": hp.uniform("x", 0, 1),
                          "b": hp.choice("c", [1, hp.randint("r", 5)])},
         algo=tpe.suggest, max_evals=6, trials=trials, rstate=0,
         show_progressbar=False)
    assert trials.count_successful_trials() == 6
    assert trials.connect_mode == dispatch


def _stage_objective(x):
    """The Spark stage that ran the trial: one per Connect query."""
    from pyspark import TaskContext

    return {"loss": x, "status": STATUS_OK,
            "stage": TaskContext.get().stageId()}


@pytest.mark.parametrize("dispatch,most", [("pool", 2), ("query", 20)])
def test_the_pool_runs_many_trials_per_query(spark, dispatch, most):
    trials = SparkTrials(parallelism=2, spark_session=spark,
                         connect_dispatch=dispatch)
    fmin(_stage_objective, hp.uniform("x", 0, 1), algo=rand, max_evals=20,
         trials=trials, rstate=0, show_progressbar=False)
    assert trials.count_successful_trials() == 20
    stages = {t["result"]["stage"] for t in trials.trials}
    assert trials.connect_mode == dispatch
    # the pool: at most one worker query per slot (a trial takes whichever
    # worker is idle, so one worker may serve them all); per query: one
    # query per trial
    if dispatch == "pool":
        assert 1 <= len(stages) <= most
        assert len(stages) <= trials._pz_backend.queries <= most
    else:
        assert len(stages) == most
        assert trials._pz_backend.queries == 0


def test_auto_is_the_pool_when_the_executors_reach_the_client(spark):
    trials = SparkTrials(parallelism=2, spark_session=spark)
    fmin(quadratic, hp.uniform("x", 0, 1), algo=rand, max_evals=4,
         trials=trials, rstate=0, show_progressbar=False)
    assert trials.connect_mode == "pool"


@pytest.fixture
def unreachable_client(monkeypatch):
    """The executors are told to connect to an address where this client
    does not listen (the listener is on 127.0.0.1, the probe tries
    127.0.0.2): what a client behind NAT looks like to a remote cluster."""
    import parzen._connect_pool as pool

    monkeypatch.delenv("PARZEN_REPORT_ADDRESS", raising=False)
    monkeypatch.setattr(pool, "listener_plan",
                        lambda spark, explicit: ("127.0.0.1", 0,
                                                 ["127.0.0.2"]))


def test_auto_falls_back_to_a_query_per_trial_with_one_log_line(
        spark, unreachable_client, caplog):
    trials = SparkTrials(parallelism=2, spark_session=spark)
    with caplog.at_level(logging.WARNING, logger="hyperopt-spark"):
        fmin(quadratic, hp.uniform("x", 0, 1), algo=rand, max_evals=4,
             trials=trials, rstate=0, show_progressbar=False)
    assert trials.connect_mode == "query"
    assert trials.count_successful_trials() == 4
    lines = [r.getMessage() for r in caplog.records
             if "cannot reach this client" in r.getMessage()]
    assert len(lines) == 1
    assert "127.0.0.2:" in lines[0]  # what was tried
    assert "report_address=" in lines[0]  # how to get the pool


def test_pool_mode_refuses_when_the_executors_cannot_connect(
        spark, unreachable_client):
    from parzen._connect_backend import ExecutorsCannotRunTrials

    trials = SparkTrials(parallelism=2, spark_session=spark,
                         connect_dispatch="pool")
    with pytest.raises(ExecutorsCannotRunTrials,
                       match="cannot reach this client's trial listener"):
        fmin(quadratic, hp.uniform("x", 0, 1), algo=rand, max_evals=4,
             trials=trials, rstate=0, show_progressbar=False)
    assert len(trials.trials) == 0


def test_connect_dispatch_is_checked(spark):
    with pytest.raises(ValueError, match="connect_dispatch='pooled'"):
        SparkTrials(parallelism=2, spark_session=spark,
                    connect_dispatch="pooled")


def test_a_resource_profile_on_a_local_master_is_ignored_with_a_warning(
        spark, caplog):
    from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests

    profile = ResourceProfileBuilder().require(
        TaskResourceRequests().cpus(1)).build
    with caplog.at_level(logging.WARNING, logger="hyperopt-spark"):
        trials = SparkTrials(parallelism=1, spark_session=spark,
                             resource_profile=profile)
    assert "does not support stage-level scheduling" in caplog.text
    fmin(quadratic, hp.uniform("x", 0, 1), algo=rand, max_evals=2,
         trials=trials, rstate=0, show_progressbar=False)
    assert trials.count_successful_trials() == 2


@pytest.fixture
def server_without_pyarrow(tmp_path):
    """A Connect server whose executors' Python cannot import pyarrow: a
    wrapper interpreter whose path starts with a pyarrow that fails."""
    block = tmp_path / "block"
    block.mkdir()
    (block / "pyarrow.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pyarrow'\", "
        "name='pyarrow')\n")
    wrapper = tmp_path / "python-without-pyarrow"
    wrapper.write_text("#!/bin/sh\nPYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH} "
                       "exec %s \"$@\"\n" % (block, sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    server = ConnectServer("local[1]", str(tmp_path), python=str(wrapper))
    yield server
    server.stop()


def test_executors_without_pyarrow_make_one_error_before_any_trial(
        server_without_pyarrow, tmp_path):
    from parzen._connect_backend import ExecutorsCannotRunTrials

    spark = server_without_pyarrow.session()
    try:
        trials = SparkTrials(parallelism=2, spark_session=spark)
        with pytest.raises(ExecutorsCannotRunTrials,
                           match="pyarrow missing from the executors' Python"):
            fmin(quadratic, hp.uniform("x", 0, 1), algo=rand, max_evals=5,
                 trials=trials, show_progressbar=False)
        assert trials.count_total_trials() == 0
        assert len(trials.trials) == 0
    finally:
        server_without_pyarrow.close_session(spark)
