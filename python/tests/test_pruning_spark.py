"""Pruning on classic Spark: parzen.report() values travel from the task
to the driver's report listener (parzen._pruning.ReportServer) while the
task runs, and the answer travels back; on local[2] and on a standalone
cluster whose executors are separate JVM (and Python worker) processes."""

import logging

import pytest

from spark_fixtures import StandaloneCluster, session, ship_by_value

from parzen import SparkTrials, TrialPruned, fmin, hp, pruners, rand, report
from parzen.base import JOB_STATE_DONE, JOB_STATE_ERROR

ship_by_value(__name__)

EPOCHS = 9


def curve(x, step):
    return (x - 1) ** 2 + 5.0 / step


def objective(x):
    for step in range(1, EPOCHS + 1):
        if report(curve(x, step), step):
            raise TrialPruned()
    return curve(x, EPOCHS)


def check_pruned_run(trials, n):
    docs = trials.trials
    assert len(docs) == n
    pruned = [d for d in docs if d["result"].get("pruned")]
    assert pruned and len(pruned) < n
    for d in docs:
        x = d["misc"]["vals"]["x"][0]
        reports = d["result"]["intermediate_values"]
        assert reports == [[s, curve(x, s)] for s in
                           range(1, len(reports) + 1)]
        if d["result"].get("pruned"):
            assert d["state"] == JOB_STATE_DONE
            assert d["result"]["status"] == "fail"
            assert [d["result"]["step"], d["result"]["loss"]] == reports[-1]
            assert d["result"]["step"] in (1, 3)  # the rungs below 9
        else:
            assert len(reports) == EPOCHS
    assert not trials.best_trial["result"].get("pruned")
    assert trials.count_pruned_trials() == len(pruned)


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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, spark):
    c = StandaloneCluster(str(tmp_path_factory.mktemp("spark-prune")))
    spark.stop()  # one SparkContext per process
    s = session(c.url, "parzen-pruning-cluster")
    yield s
    s.stop()
    c.stop()


def test_standalone_cluster_reports_cross_processes(cluster):
    assert cluster.sparkContext.master.startswith("spark://")
    trials = run_sha(cluster)
    check_pruned_run(trials, 12)
