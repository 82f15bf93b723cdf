"""Pruning on Spark Connect (remote("local[2]")). With the trial pool
(the default when the executors reach this client), reports travel on the
pool workers' own connections: no address needed. With one query per
trial, the tasks send their parzen.report() values to the report listener
at the address the user gives (a Connect client is rarely reachable from
executors, so without one fmin refuses to start)."""

import pytest

from spark_fixtures import connect_session, ship_by_value

from pruning_cases import SHA_RUNGS, check_spark_run, reporting_objective
from parzen import SparkTrials, fmin, hp, pruners, rand

ship_by_value(__name__)
ship_by_value("pruning_cases")

EPOCHS = 9
objective = reporting_objective(EPOCHS)


@pytest.fixture(scope="module")
def spark():
    s = connect_session("local[2]")
    yield s
    s.stop()


def run_sha(spark, n=12, **kw):
    trials = SparkTrials(parallelism=2, spark_session=spark, **kw)
    fmin(objective, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=n,
         trials=trials, rstate=3, show_progressbar=False,
         pruner=pruners.SuccessiveHalvingPruner())
    return trials


def test_the_pool_needs_no_report_address(spark, monkeypatch):
    monkeypatch.delenv("PARZEN_REPORT_ADDRESS", raising=False)
    trials = run_sha(spark)
    assert trials.connect_mode == "pool"
    check_spark_run(trials, 12, EPOCHS, rungs=SHA_RUNGS)


def test_without_a_report_address_fmin_refuses_at_start(spark, monkeypatch):
    monkeypatch.delenv("PARZEN_REPORT_ADDRESS", raising=False)
    with pytest.raises(ValueError) as e:
        run_sha(spark, connect_dispatch="query")
    assert "Spark Connect" in str(e.value)
    assert "report_address" in str(e.value)


def test_without_a_reachable_client_fmin_refuses_at_start(spark,
                                                         monkeypatch):
    import parzen._connect_pool as pool

    monkeypatch.delenv("PARZEN_REPORT_ADDRESS", raising=False)
    monkeypatch.setattr(pool, "listener_plan",
                        lambda spark, explicit: ("127.0.0.1", 0,
                                                 ["127.0.0.2"]))
    with pytest.raises(ValueError, match="cannot reach it"):
        run_sha(spark)


def test_no_trial_ran_when_refused(spark, monkeypatch):
    monkeypatch.delenv("PARZEN_REPORT_ADDRESS", raising=False)
    trials = SparkTrials(parallelism=2, spark_session=spark,
                         connect_dispatch="query")
    with pytest.raises(ValueError):
        fmin(objective, hp.uniform("x", -5, 5), algo=rand.suggest,
             max_evals=3, trials=trials, show_progressbar=False,
             pruner=pruners.MedianPruner())
    assert len(trials._dynamic_trials) == 0


@pytest.mark.parametrize("how", ["argument", "environment"])
@pytest.mark.parametrize("dispatch", ["pool", "query"])
def test_with_a_report_address_reports_stream(spark, monkeypatch, how,
                                              dispatch):
    if how == "argument":
        trials = run_sha(spark, report_address="127.0.0.1",
                         connect_dispatch=dispatch)
    else:
        monkeypatch.setenv("PARZEN_REPORT_ADDRESS", "127.0.0.1")
        trials = run_sha(spark, connect_dispatch=dispatch)
    assert trials.connect_mode == dispatch
    check_spark_run(trials, 12, EPOCHS, rungs=SHA_RUNGS)
