"""Pruning on classic Spark: parzen.report() values travel from the task
to the driver's report listener (parzen._pruning.ReportServer) while the
task runs, and the answer travels back; on local[2] here, on a standalone
cluster in test_spark_cluster.py (its executors are separate JVM and
Python worker processes)."""

import logging

import pytest

from spark_fixtures import session, ship_by_value

from pruning_cases import SHA_RUNGS, check_spark_run, reporting_objective
from parzen import SparkTrials, fmin, hp, pruners, rand, report
from parzen.base import JOB_STATE_ERROR

ship_by_value(__name__)
ship_by_value("pruning_cases")

EPOCHS = 9
objective = reporting_objective(EPOCHS)


def check_pruned_run(trials, n):
    check_spark_run(trials, n, EPOCHS, rungs=SHA_RUNGS)


def run_sha(spark, n=12, **kw):
    trials = SparkTrials(parallelism=2, spark_session=spark, **kw)
    fmin(objective, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=n,
         trials=trials, rstate=3, show_progressbar=False,
         pruner=pruners.SuccessiveHalvingPruner())
    return trials


@pytest.fixture(scope="module")
def spark():
    s = session("local[2]", "parzen-pruning-tests")
    yield s
    s.stop()


def test_local_reports_reach_the_driver_and_answers_come_back(spark, caplog):
    caplog.set_level(logging.INFO, logger="hyperopt-spark")
    trials = run_sha(spark)
    check_pruned_run(trials, 12)
    p = trials.count_pruned_trials()
    assert "Total Trials: 12: %d succeeded, %d pruned, 0 failed, 0 " \
        "cancelled." % (12 - p, p) in caplog.text


def test_local_backwards_step_fails_that_trial_naming_both_steps(spark):
    def fn(x):
        report(1.0, 4)
        if x < 0:
            report(2.0, 1)
        return x

    trials = SparkTrials(parallelism=2, spark_session=spark)
    fmin(fn, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=6,
         trials=trials, rstate=3, show_progressbar=False,
         pruner=pruners.NopPruner())
    errors = [d for d in trials._dynamic_trials
              if d["state"] == JOB_STATE_ERROR]
    assert errors and len(errors) < 6
    for d in errors:
        assert "trial %d: step 1 reported after step 4" % d["tid"] in \
            d["misc"]["error"][1]


def test_an_unreachable_report_address_fails_the_trials_clearly(spark):
    # an address of nothing: the listener cannot bind there
    with pytest.raises(ValueError, match="cannot open the report listener"):
        run_sha(spark, report_address="192.0.2.1:1")
