"""Pruning from Python: parzen.report, TrialPruned, parzen.pruners and
fmin(pruner=...) with the inline Trials and ParallelTrials (the Spark
channels: test_pruning_spark.py, test_pruning_connect.py)."""

import math
import pickle
import warnings

import pytest

import parzen
from parzen import (STATUS_FAIL, STATUS_OK, Trials, TrialPruned, fmin, hp,
                    pruners, rand, report, tpe)
from parzen.base import JOB_STATE_DONE, JOB_STATE_ERROR
from parzen.parallel import ParallelTrials
from pruning_cases import curve, reporting_objective

EPOCHS = 27
SPACE = hp.uniform("x", -5, 5)


objective = reporting_objective(EPOCHS)


def returns_when_told(x):
    """Stops by returning its current value instead of raising."""
    v = None
    for step in range(1, EPOCHS + 1):
        v = curve(x, step)
        if report(v, step):
            return v
    return v


def epochs_of(trials):
    return sum(len(d["result"].get("intermediate_values", []))
               for d in trials.trials)


def run(fn=objective, trials=None, pruner=None, max_evals=30, algo=None,
        **kw):
    trials = Trials() if trials is None else trials
    best = fmin(fn, SPACE, algo=algo or rand.suggest, max_evals=max_evals,
                trials=trials, rstate=3, show_progressbar=False,
                pruner=pruner, **kw)
    return best, trials


# ------------------------------------------------------------ options


@pytest.mark.parametrize("make, message", [
    (lambda: pruners.MedianPruner(n_startup_trials=-1),
     "MedianPruner: n_startup_trials must be >= 0, not -1"),
    (lambda: pruners.MedianPruner(interval_steps=0),
     "MedianPruner: interval_steps must be >= 1, not 0"),
    (lambda: pruners.SuccessiveHalvingPruner(reduction_factor=1),
     "SuccessiveHalvingPruner: reduction_factor must be >= 2, not 1"),
    (lambda: pruners.SuccessiveHalvingPruner(min_resource=0),
     "SuccessiveHalvingPruner: min_resource must be >= 1, not 0"),
    (lambda: pruners.HyperbandPruner(min_resource=5, max_resource=3),
     "HyperbandPruner: max_resource must be >= 5, not 3"),
])
def test_bad_options_are_value_errors_naming_the_option(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert str(e.value) == message


@pytest.mark.parametrize("make, message", [
    (lambda: pruners.MedianPruner(n_warmup_steps=1.5),
     "MedianPruner: n_warmup_steps must be an integer, not 1.5"),
    (lambda: pruners.SuccessiveHalvingPruner(min_early_stopping_rate=True),
     "SuccessiveHalvingPruner: min_early_stopping_rate must be an integer, "
     "not True"),
    (lambda: pruners.HyperbandPruner(max_resource="big"),
     "HyperbandPruner: max_resource must be an integer, not 'big'"),
])
def test_bad_option_types_are_type_errors_naming_the_option(make, message):
    with pytest.raises(TypeError) as e:
        make()
    assert str(e.value) == message


def test_defaults_are_the_issues():
    assert pruners.MedianPruner().options() == {
        "n_startup_trials": 5, "n_warmup_steps": 0, "interval_steps": 1}
    assert pruners.SuccessiveHalvingPruner().options() == {
        "min_resource": 1, "reduction_factor": 3,
        "min_early_stopping_rate": 0}
    assert pruners.HyperbandPruner().options() == {
        "min_resource": 1, "max_resource": "auto", "reduction_factor": 3}


def test_a_pruner_that_is_not_one_is_refused():
    with pytest.raises(TypeError, match=r"fmin\(pruner='sha'\): expected"):
        run(pruner="sha")


# ---------------------------------------------------------- bad input


def test_report_outside_a_trial_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"called outside a trial"):
        report(1.0, 1)


def test_report_without_a_pruner_is_outside_a_pruning_trial():
    def fn(x):
        report(x, 1)
        return x

    with pytest.raises(RuntimeError, match=r"fmin\(\.\.\., pruner=\.\.\.\)"):
        run(fn, pruner=None, max_evals=1)


def test_a_backwards_step_names_the_trial_and_both_steps():
    def fn(x):
        report(1.0, 5)
        report(1.0, 3)
        return x

    with pytest.raises(ValueError) as e:
        run(fn, pruner=pruners.NopPruner(), max_evals=1)
    assert "trial 0: step 3 reported after step 5" in str(e.value)


def test_a_repeated_step_is_an_error_too():
    def fn(x):
        report(1.0, 2)
        if x < 0:
            report(0.5, 2)
        return x

    _, trials = run(fn, pruner=pruners.NopPruner(), max_evals=6,
                    catch_eval_exceptions=True)
    errors = [d for d in trials._dynamic_trials
              if d["state"] == JOB_STATE_ERROR]
    assert errors and len(errors) < 6
    for d in errors:
        assert "trial %d: step 2 reported after step 2" % d["tid"] in \
            d["misc"]["error"][1]


def test_a_non_finite_value_is_ignored_with_a_warning_naming_the_trial():
    def fn(x):
        report(1.0, 1)
        report(float("nan"), 2)
        report(math.inf, 3)
        report(0.5, 4)
        return 0.5

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        _, trials = run(fn, pruner=pruners.NopPruner(), max_evals=1)
    texts = [str(x.message) for x in w if x.category is RuntimeWarning]
    assert "parzen.report(): trial 0: non-finite value nan at step 2 " \
        "ignored" in texts
    assert "parzen.report(): trial 0: non-finite value inf at step 3 " \
        "ignored" in texts
    assert trials.trials[0]["result"]["intermediate_values"] == [
        [1, 1.0], [4, 0.5]]


def test_a_bad_step_type_is_a_type_error():
    def fn(x):
        report(1.0, 1.5)
        return x

    with pytest.raises(TypeError, match="trial 0: step must be an integer"):
        run(fn, pruner=pruners.NopPruner(), max_evals=1)


def test_an_asynchronous_trials_cannot_prune_and_says_so_at_start():
    trials = Trials()
    trials.asynchronous = True
    with pytest.raises(ValueError, match="cannot stream parzen.report"):
        run(trials=trials, pruner=pruners.SuccessiveHalvingPruner())
    assert len(trials.trials) == 0


def test_a_trials_with_its_own_fmin_cannot_prune_and_says_so():
    class OwnFmin(Trials):
        def fmin(self, *a, **kw):  # hyperopt's protocol, no _pz_driver
            raise AssertionError("not reached")

    with pytest.raises(ValueError, match="OwnFmin runs fmin itself"):
        run(trials=OwnFmin(), pruner=pruners.MedianPruner())


# ------------------------------------------------------------ documents


def check_documents(trials, n):
    docs = trials.trials
    assert len(docs) == n
    pruned = [d for d in docs if d["result"].get("pruned")]
    done = [d for d in docs if not d["result"].get("pruned")]
    assert pruned and done
    for d in pruned:
        r = d["result"]
        assert d["state"] == JOB_STATE_DONE
        assert r["status"] == STATUS_FAIL
        reports = r["intermediate_values"]
        assert reports == sorted(reports) and len(reports) <= EPOCHS
        assert [r["step"], r["loss"]] == reports[-1]
        x = d["misc"]["vals"]["x"][0]
        assert reports == [[s, curve(x, s)] for s in range(1, len(reports) + 1)]
    for d in done:
        assert d["result"]["status"] == STATUS_OK
        assert len(d["result"]["intermediate_values"]) == EPOCHS
    # hyperopt's readers keep working; none takes a pruned trial as best
    losses = trials.losses()
    assert all(isinstance(v, float) for v in losses)
    assert trials.statuses().count(STATUS_FAIL) == len(pruned)
    assert not trials.best_trial["result"].get("pruned")
    assert trials.best_trial["result"]["loss"] == min(
        d["result"]["loss"] for d in done)
    return pruned, done


@pytest.mark.parametrize("fn", [objective, returns_when_told])
def test_successive_halving_inline_documents(fn):
    best, trials = run(fn, pruner=pruners.SuccessiveHalvingPruner())
    pruned, done = check_documents(trials, 30)
    # rung steps 1, 3, 9, 27: a pruned trial stopped at one of them
    assert {d["result"]["step"] for d in pruned} <= {1, 3, 9, 27}
    assert best == trials.argmin
    assert epochs_of(trials) < 0.5 * 30 * EPOCHS


def test_the_same_run_without_pruning_spends_every_epoch():
    _, trials = run(pruner=pruners.NopPruner())
    assert epochs_of(trials) == 30 * EPOCHS
    assert not any(d["result"].get("pruned") for d in trials.trials)


def test_median_pruner_waits_for_its_startup_trials():
    _, trials = run(pruner=pruners.MedianPruner(n_startup_trials=5))
    docs = trials.trials
    assert not any(d["result"].get("pruned") for d in docs[:5])
    pruned, _ = check_documents(trials, 30)
    # the curves only differ by x: a trial worse than the median at step 1
    # is worse at every step, so the median pruner stops it at step 1
    assert {d["result"]["step"] for d in pruned} == {1}


def test_hyperband_prunes():
    _, trials = run(pruner=pruners.HyperbandPruner(max_resource=EPOCHS))
    check_documents(trials, 30)


def test_tpe_with_pruning_runs_and_resumes_from_a_pickle(tmp_path):
    path = str(tmp_path / "t.pkl")
    fmin(objective, SPACE, algo=tpe.suggest, max_evals=20, rstate=1,
         trials_save_file=path, show_progressbar=False,
         pruner=pruners.SuccessiveHalvingPruner())
    with open(path, "rb") as f:
        first = pickle.load(f)
    assert len(first.trials) == 20
    fmin(objective, SPACE, algo=tpe.suggest, max_evals=30, rstate=2,
         trials_save_file=path, show_progressbar=False,
         pruner=pruners.SuccessiveHalvingPruner())
    with open(path, "rb") as f:
        trials = pickle.load(f)
    check_documents(trials, 30)
    # the first run's documents are kept as they were
    assert [d["result"] for d in trials.trials[:20]] == \
        [d["result"] for d in first.trials]


def test_without_a_pruner_trial_pruned_is_an_ordinary_exception():
    def fn(x):
        if x < 0:
            raise TrialPruned()
        return x

    with pytest.raises(TrialPruned):
        run(fn, max_evals=1)
    _, trials = run(fn, max_evals=6, catch_eval_exceptions=True)
    assert [d["state"] for d in trials._dynamic_trials] == [
        JOB_STATE_ERROR, JOB_STATE_ERROR, JOB_STATE_DONE, JOB_STATE_ERROR,
        JOB_STATE_DONE, JOB_STATE_DONE]


def test_without_a_pruner_documents_are_hyperopts():
    def fn(x):
        return x ** 2

    _, trials = run(fn, max_evals=3)
    assert all(set(d["result"]) == {"loss", "status"} for d in trials.trials)


def test_public_names():
    assert parzen.report is report
    assert parzen.TrialPruned is parzen.exceptions.TrialPruned
    assert {"report", "TrialPruned", "pruners"} <= set(parzen.__all__)


# ------------------------------------------------------- ParallelTrials


def test_parallel_trials_report_over_the_worker_channel():
    trials = ParallelTrials(parallelism=2)
    best = fmin(objective, SPACE, algo=rand.suggest, max_evals=30,
                trials=trials, rstate=3, show_progressbar=False,
                pruner=pruners.SuccessiveHalvingPruner())
    check_documents(trials, 30)
    assert best == trials.argmin
    assert epochs_of(trials) < 0.5 * 30 * EPOCHS
    assert trials.count_pruned_trials() + trials.count_successful_trials() \
        == 30


def test_parallel_trials_backwards_step_is_that_trials_error():
    def fn(x):
        report(1.0, 5)
        report(1.0, 3)
        return x

    trials = ParallelTrials(parallelism=2)
    fmin(lambda x: x if x > 0 else fn(x), SPACE, algo=rand.suggest,
         max_evals=6, trials=trials, rstate=3, show_progressbar=False,
         pruner=pruners.NopPruner())
    errors = [d for d in trials._dynamic_trials
              if d["state"] == JOB_STATE_ERROR]
    assert errors and len(errors) < 6
    for d in errors:
        assert "trial %d: step 3 reported after step 5" % d["tid"] in \
            d["misc"]["error"][1]


def test_parallel_trials_log_line_counts_pruned_trials(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="parzen.parallel")
    trials = ParallelTrials(parallelism=2)
    fmin(objective, SPACE, algo=rand.suggest, max_evals=12, trials=trials,
         rstate=3, show_progressbar=False,
         pruner=pruners.SuccessiveHalvingPruner())
    p = trials.count_pruned_trials()
    assert p > 0
    assert "Total Trials: 12: %d succeeded, %d pruned, 0 failed, 0 " \
        "cancelled." % (12 - p, p) in caplog.text


def test_a_durable_store_keeps_pruned_trials_and_resumes(tmp_path):
    from parzen.store import StoreTrials

    path = str(tmp_path / "run.db")
    for n in (12, 20):
        fmin(objective, SPACE, algo=tpe.suggest, max_evals=n, rstate=n,
             trials_save_file=path, show_progressbar=False,
             pruner=pruners.SuccessiveHalvingPruner())
    trials = StoreTrials(path)
    try:
        pruned, _ = check_documents(trials, 20)
        # the store's own view (parzen show/export): PRUNED, with reports
        records = {r["id"]: r for r in trials._pz.store.trials()}
        for d in trials.trials:
            rec = records[d["tid"]]
            assert rec["state"] == (5 if d in pruned else JOB_STATE_DONE)
            assert [[s, v] for s, v in rec["intermediate_values"]] == \
                d["result"]["intermediate_values"]
    finally:
        trials.close()
