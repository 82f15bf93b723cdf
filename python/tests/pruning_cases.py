"""What the pruning tests share: a learning-curve family whose final loss
is known, an objective that reports it and stops when told, and the
check of a Spark run's pruned documents."""

from parzen import TrialPruned, report
from parzen.base import JOB_STATE_DONE


def curve(x, step):
    """Its value at the last step `epochs`: (x - 1)^2 + 5/epochs."""
    return (x - 1) ** 2 + 5.0 / step


def reporting_objective(epochs):
    def objective(x):
        for step in range(1, epochs + 1):
            if report(curve(x, step), step):
                raise TrialPruned()
        return curve(x, epochs)

    return objective


# SuccessiveHalvingPruner() with 9 epochs: rungs at steps 1, 3 and 9. The
# last step is a rung too (the pruner, like Optuna's, does not know the
# trial ends there): which trials reach it first depends on timing, so a
# trial may be pruned at its last report.
SHA_RUNGS = (1, 3, 9)


def check_spark_run(trials, n, epochs, rungs):
    """n trials, some pruned at one of `rungs`, every one holding its
    reports; the counts and the best trial leave pruned trials out."""
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
            assert d["result"]["step"] in rungs
        else:
            assert len(reports) == epochs
    assert not trials.best_trial["result"].get("pruned")
    assert trials.count_pruned_trials() == len(pruned)
