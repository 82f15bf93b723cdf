"""SparkTrials on a real local[4] Spark session: hyperopt's SparkTrials
behaviours (hyperopt-spec §7.11) plus what parzen does better."""

import logging
import os
import time

import pytest

from spark_fixtures import session, ship_by_value

from parzen import STATUS_OK, SparkTrials, fmin, hp, rand, tpe
from parzen.base import JOB_STATE_CANCEL, JOB_STATE_ERROR


ship_by_value(__name__)


@pytest.fixture(scope="module")
def spark():
    s = session("local[4]", "parzen-tests")
    yield s
    s.stop()


@pytest.fixture
def spark_log(caplog):
    caplog.set_level(logging.DEBUG, logger="parzen-spark")
    caplog.set_level(logging.DEBUG, logger="parzen.dispatch")
    return caplog


def quadratic(x):
    return (x - 3) ** 2


# -- SparkTrials runs TPE to the end and records every trial. What TPE
#    does over a parallel backend is claimed over 10 seeds on
#    ParallelTrials (test_parallel.py): SparkTrials shares its dispatcher
#    (_dispatch.run_parallel), and one Spark run of a claim would be
#    timing-dependent and costly.
def test_quadratic1_tpe(spark):
    trials = SparkTrials(parallelism=4, spark_session=spark)
    best = fmin(quadratic, hp.uniform("x", -5, 5), algo=tpe.suggest,
                max_evals=50, trials=trials, rstate=123,
                show_progressbar=False)
    assert len(trials) == 50
    assert trials.count_successful_trials() == 50
    assert best == {"x": trials.best_trial["misc"]["vals"]["x"][0]}
    assert trials.best_trial["result"]["loss"] == min(trials.losses())


def test_trial_run_info(spark, spark_log):
    def fn(x):
        if x < -3 or x > 3:
            raise RuntimeError("x out of range: %r" % x)
        return 1.0

    # rand, not hyperopt's anneal: with 4 trials in flight anneal's points
    # depend on the order trials finish, rand's do not.
    trials = SparkTrials(parallelism=4, spark_session=spark)
    fmin(fn, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=8,
         trials=trials, rstate=94, show_progressbar=False)
    n_ok, n_fail = trials.count_successful_trials(), trials.count_failed_trials()
    assert n_ok + n_fail == trials.count_total_trials() == 8
    assert n_fail > 0 and n_ok > 0
    assert ("Total Trials: 8: %d succeeded, %d failed, 0 cancelled."
            % (n_ok, n_fail)) in spark_log.text
    for t in trials._dynamic_trials:
        if t["state"] == JOB_STATE_ERROR:
            assert "RuntimeError" in t["misc"]["error"][0]
            assert "Traceback (most recent call last)" in t["misc"]["error"][1]
            assert "x out of range" in t["misc"]["error"][1]
        else:
            assert t["result"] == {"loss": 1.0, "status": STATUS_OK}


def test_parallelism_arg(spark, caplog):
    default = spark.sparkContext.defaultParallelism
    for requested in (None, -1, 0):
        with caplog.at_level(logging.WARNING, logger="parzen-spark"):
            got = SparkTrials._decide_parallelism(requested, default)
        assert got == default
        assert "Because the requested parallelism was None or a non-positive" \
            in caplog.text
    with caplog.at_level(logging.WARNING, logger="parzen-spark"):
        assert SparkTrials._decide_parallelism(129, default) == 128
    assert "capped at SparkTrials.MAX_CONCURRENT_JOBS_ALLOWED (128)" in caplog.text
    assert SparkTrials(parallelism=3, spark_session=spark).parallelism == 3


def test_all_failed_trials(spark):
    def fails(x):
        raise ValueError("always")

    trials = SparkTrials(parallelism=2, spark_session=spark)
    with pytest.raises(Exception, match="There are no evaluation tasks"):
        fmin(fails, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=4,
             trials=trials, rstate=0, show_progressbar=False)
    assert trials.count_failed_trials() == 4
    assert trials.count_successful_trials() == 0


def test_invalid_timeout_and_loss_threshold(spark):
    for bad in (-1, True, "1"):
        with pytest.raises(Exception, match="The timeout argument should be "
                                            "None or a positive value"):
            SparkTrials(timeout=bad, spark_session=spark)
    with pytest.raises(Exception, match="The loss_threshold argument should "
                                        "be None or a numeric value"):
        SparkTrials(loss_threshold="low", spark_session=spark)


def test_timeout_with_job_cancellation(spark, spark_log):
    def fn(x):
        if x < 0:
            time.sleep(600)
        return x

    trials = SparkTrials(parallelism=2, timeout=3, spark_session=spark)
    t0 = time.monotonic()
    fmin(fn, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=50,
         trials=trials, rstate=7, show_progressbar=False,
         return_argmin=False)
    assert time.monotonic() - t0 < 60  # the sleeping jobs were cancelled
    assert trials.fmin_cancelled_reason == "fmin run timeout"
    assert trials.count_cancelled_trials() >= 1
    assert "fmin cancelled because of fmin run timeout" in spark_log.text
    cancelled = [t for t in trials._dynamic_trials
                 if t["state"] == JOB_STATE_CANCEL]
    assert all(t["misc"]["vals"]["x"][0] < 0 for t in cancelled)


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


def test_early_stop(spark):
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


def test_loss_threshold_from_the_constructor_is_honoured(spark):
    trials = SparkTrials(parallelism=2, loss_threshold=1.0, spark_session=spark)
    fmin(quadratic, hp.uniform("x", -5, 5), algo=rand.suggest,
         max_evals=200, trials=trials, rstate=3, show_progressbar=False)
    assert trials.count_total_trials() < 200
    assert min(trials.losses()) < 1.0


def test_unpicklable_objective_fails_before_any_trial(spark):
    import threading

    lock = threading.Lock()

    def uses_a_lock(x):
        with lock:
            return x

    trials = SparkTrials(parallelism=2, spark_session=spark)
    with pytest.raises(TypeError, match="cannot be sent to Spark executors"):
        fmin(uses_a_lock, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=3, trials=trials, show_progressbar=False)
    assert trials.count_total_trials() == 0


def test_executors_never_import_parzen(spark):
    def checks_modules(x):
        import sys

        if "parzen" in sys.modules:
            raise AssertionError("the task imported parzen")
        return x["a"]

    trials = SparkTrials(parallelism=2, spark_session=spark)
    fmin(checks_modules, {"a": hp.uniform("x", 0, 1),
                          "b": hp.choice("c", [1, hp.randint("r", 5)])},
         algo=tpe.suggest, max_evals=6, trials=trials, rstate=0,
         show_progressbar=False)
    assert trials.count_successful_trials() == 6
