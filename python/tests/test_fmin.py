"""fmin behaviour (hyperopt's unit/test_fmin.py, spec §2, §8.1)."""

import logging
import os
import pickle
import time

import numpy as np
import pytest

import claims
from conftest import needs_anneal, needs_tpe
from parzen import (
    STATUS_FAIL,
    STATUS_OK,
    Trials,
    anneal,
    base,
    fmin,
    hp,
    rand,
    space_eval,
    tpe,
)
from parzen.early_stop import no_progress_loss
from parzen.exceptions import (
    AllTrialsFailed,
    DuplicateLabel,
    InvalidAnnotatedParameter,
    InvalidLoss,
    InvalidResultStatus,
)
from parzen.fmin import FMinIter, generate_trials_to_calculate

QUIET = dict(show_progressbar=False)


def quadratic(x):
    return (x - 3) ** 2


def test_quadratic1_rand():
    wins = 0
    for seed in (123, 1, 2):
        best = fmin(quadratic, hp.uniform("x", -5, 5), algo=rand.suggest,
                    max_evals=500, rstate=np.random.default_rng(seed),
                    **QUIET)
        wins += abs(best["x"] - 3) < 0.25
    assert wins >= 2


# -- hyperopt's test_quadratic1 asks TPE (50 evaluations) and annealing
#    (30) for 2 of 3 seeds within 0.25 of the minimum: random search
#    passes that at every seed. The claim here is relative: over 16 seeds
#    at one budget, the geometric mean of the best loss is a fraction of
#    random search's. Measured (seed sets 0-7 / 8-15 / 16-23): TPE at 100
#    evaluations 0.026 / 0.006 / 0.19 of random's, TPE without candidate
#    selection 0.44 / 0.32 / 0.82; annealing at 50 0.05 / 0.07 / 0.015.
@needs_tpe
@pytest.mark.sampler_claim("tpe")
def test_quadratic1_tpe_beats_random_search():
    ratio, what = claims.ratio_to_random(
        tpe.suggest, quadratic, hp.uniform("x", -5, 5), 100, range(16))
    assert ratio < 0.2, what


@needs_anneal
@pytest.mark.sampler_claim("anneal")
def test_quadratic1_anneal_beats_random_search():
    ratio, what = claims.ratio_to_random(
        anneal.suggest, quadratic, hp.uniform("x", -5, 5), 50, range(16))
    assert ratio < 0.2, what


def test_duplicate_label_is_error():
    def fn(xy):
        x, y = xy
        return x ** 2 + y ** 2

    with pytest.raises(DuplicateLabel) as ei:
        fmin(fn, space=[hp.uniform("x", -5, 5), hp.uniform("x", -5, 5)],
             algo=rand.suggest, max_evals=500, **QUIET)
    assert ei.value.args == ("x",)


def test_reused_node_is_one_parameter():
    x = hp.uniform("x", 0, 1)
    t = Trials()
    fmin(lambda p: p[0] - p[1], [x, x], algo=rand.suggest, max_evals=5,
         trials=t, rstate=np.random.default_rng(0), **QUIET)
    assert all(loss == 0 for loss in t.losses())
    assert list(t.vals) == ["x"]


def test_space_eval_landing_page():
    space = hp.choice("a", [
        ("case 1", 1 + hp.lognormal("c1", 0, 1)),
        ("case 2", hp.uniform("c2", -10, 10)),
    ])
    assert space_eval(space, {"a": 1, "c2": 3.5}) == ("case 2", 3.5)
    assert space_eval(space, {"a": 0, "c1": 1.0}) == ("case 1", 2.0)


def test_set_fmin_rstate():
    def fn(x):
        return x ** 2

    def run(seed):
        return fmin(fn, hp.uniform("x", -5, 5), algo=rand.suggest,
                    max_evals=3, rstate=np.random.default_rng(seed), **QUIET)

    assert run(0) == run(0)
    assert run(0) != run(1)
    # -- an int seed is accepted too
    assert fmin(fn, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=3,
                rstate=7, **QUIET) == fmin(
        fn, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=3,
        rstate=np.random.default_rng(7), **QUIET)


@pytest.mark.parametrize("var", ["HYPEROPT_FMIN_SEED", "PARZEN_FMIN_SEED"])
def test_env_seed(monkeypatch, var):
    monkeypatch.delenv("HYPEROPT_FMIN_SEED", raising=False)
    monkeypatch.delenv("PARZEN_FMIN_SEED", raising=False)
    monkeypatch.setenv(var, "42")

    def run():
        t = Trials()
        fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=4, trials=t, **QUIET)
        return [v[0] for v in t.vals["x"]] if False else t.vals["x"]

    assert run() == run()


def test_return_argmin_forms():
    space = hp.choice("a", [100, 5, 10])
    kw = dict(algo=rand.suggest, max_evals=30, **QUIET)
    assert fmin(lambda v: v, space, rstate=np.random.default_rng(0),
                return_argmin=False, **kw) == 5
    assert fmin(lambda v: v, space, rstate=np.random.default_rng(0),
                **kw) == {"a": 1}


def test_argmin_stored_forms_and_point():
    space = {"a": hp.choice("a", ["x", "y"]),
             "b": hp.quniform("b", 0, 10, 1),
             "c": hp.uniformint("c", 1, 5),
             "d": hp.randint("d", 3, 7)}

    def fn(p):
        return (abs((p["a"] == "y") - 1) + abs(p["b"] - 3) + abs(p["c"] - 4)
                + abs(p["d"] - 6))

    t = Trials()
    best = fmin(fn, space, algo=rand.suggest, max_evals=400, trials=t,
                rstate=np.random.default_rng(3), **QUIET)
    assert isinstance(best["a"], int) and isinstance(best["d"], int)
    assert isinstance(best["b"], float) and isinstance(best["c"], float)
    point = space_eval(space, best)
    assert isinstance(point["c"], int) and isinstance(point["d"], int)
    if fn(point) == 0:
        assert best == {"a": 1, "b": 3.0, "c": 4.0, "d": 6}
        assert point == {"a": "y", "b": 3.0, "c": 4, "d": 6}


def test_constant_space_argmin_is_empty():
    assert fmin(lambda p: 1.0, {"k": 3}, algo=rand.suggest, max_evals=2,
                **QUIET) == {}


class TestCatchEvalExceptions:
    @staticmethod
    def fn(x):
        raise ValueError("boom %s" % (x > 0))

    def test_true(self):
        t = Trials()
        rval = fmin(self.fn, hp.uniform("x", -5, 5), algo=rand.suggest,
                    max_evals=2, trials=t, catch_eval_exceptions=True,
                    return_argmin=False, **QUIET)
        assert rval is None
        assert len(t) == 0
        assert len(t._dynamic_trials) == 2
        for d in t._dynamic_trials:
            assert d["state"] == base.JOB_STATE_ERROR
            assert d["misc"]["error"][0] == "<class 'ValueError'>"
            assert d["misc"]["error"][1].startswith("boom")

    def test_false(self):
        t = Trials()
        with pytest.raises(ValueError, match="boom"):
            fmin(self.fn, hp.uniform("x", -5, 5), algo=rand.suggest,
                 max_evals=2, trials=t, **QUIET)
        assert len(t._dynamic_trials) == 1
        assert t._dynamic_trials[0]["state"] == base.JOB_STATE_ERROR
        assert len(t) == 0

    def test_no_evaluation_tasks(self):
        with pytest.raises(Exception, match="There are no evaluation tasks, "
                           "cannot return argmin of task losses."):
            fmin(self.fn, hp.uniform("x", -5, 5), algo=rand.suggest,
                 max_evals=2, catch_eval_exceptions=True, **QUIET)


@needs_tpe
def test_status_fail_tpe():
    def fn(x):
        if x < 0:
            return {"status": STATUS_FAIL}
        return {"status": STATUS_OK, "loss": x ** 2 + 9}

    t = Trials()
    fmin(fn, hp.uniform("x", -5, 5), algo=tpe.suggest, max_evals=50,
         trials=t, rstate=np.random.default_rng(0), **QUIET)
    assert len(t) == 50
    assert t.best_trial["result"]["loss"] >= 9
    assert any(s == STATUS_FAIL for s in t.statuses())
    # -- argmin ignores failed trials
    assert t.argmin["x"] >= 0


def test_all_trials_failed():
    t = Trials()
    with pytest.raises(AllTrialsFailed):
        fmin(lambda x: {"status": STATUS_FAIL}, hp.uniform("x", 0, 1),
             algo=rand.suggest, max_evals=3, trials=t, **QUIET)
    assert len(t) == 3


@pytest.mark.parametrize("via", ["points_to_evaluate", "trials"])
def test_points_to_evaluate(via):
    space = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}

    def fn(p):
        return p["x"] ** 2 + p["y"] ** 2

    points = [{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}]
    if via == "trials":
        t = generate_trials_to_calculate(points)
        best = fmin(fn, space, algo=rand.suggest, max_evals=5, trials=t,
                    rstate=np.random.default_rng(0), **QUIET)
        # -- the two points are evaluated in addition to the budget
        assert len(t) == 7
        assert t.trials[0]["result"]["loss"] == 0
    else:
        best = fmin(fn, space, algo=rand.suggest, max_evals=5,
                    points_to_evaluate=points,
                    rstate=np.random.default_rng(0), **QUIET)
    assert best == {"x": 0.0, "y": 0.0}


def test_points_refreshed_count_in_budget():
    t = generate_trials_to_calculate([{"x": 0.0}, {"x": 1.0}])
    t.refresh()
    fmin(lambda x: x ** 2, hp.uniform("x", -5, 5), algo=rand.suggest,
         max_evals=5, trials=t, **QUIET)
    assert len(t) == 5


def test_points_to_evaluate_choice_index():
    space = hp.choice("c", [{"k": "a", "v": hp.uniform("va", 0, 1)},
                            {"k": "b", "v": hp.uniform("vb", 0, 1)}])
    seen = []

    def fn(p):
        seen.append(p)
        return p["v"]

    fmin(fn, space, algo=rand.suggest, max_evals=1,
         points_to_evaluate=[{"c": 1, "vb": 0.25}], **QUIET)
    assert seen[0] == {"k": "b", "v": 0.25}


def test_timeout():
    def fn(x):
        time.sleep(0.2)
        return x

    t = Trials()
    start = time.time()
    fmin(fn, hp.uniform("x", 0, 1), algo=rand.suggest, timeout=0.5,
         trials=t, **QUIET)
    elapsed = time.time() - start
    assert 0.45 < elapsed < 3.0
    assert 2 <= len(t) <= 5


@pytest.mark.parametrize("bad", [0, -1, True, "1", [1]])
def test_invalid_timeout(bad):
    with pytest.raises(Exception) as ei:
        fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=1, timeout=bad, **QUIET)
    assert str(ei.value) == ("The timeout argument should be None or a "
                             "positive value. Given value: %s" % (bad,))


@pytest.mark.parametrize("bad", [True, "0.1", [1], None.__class__])
def test_invalid_loss_threshold(bad):
    with pytest.raises(Exception) as ei:
        fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=1, loss_threshold=bad, **QUIET)
    assert str(ei.value) == ("The loss_threshold argument should be None or "
                             "a numeric value. Given value: %s" % (bad,))


def test_loss_threshold():
    t = Trials()
    fmin(lambda x: x ** 2, hp.uniform("x", -5, 5), algo=rand.suggest,
         loss_threshold=0.001, trials=t, rstate=np.random.default_rng(0),
         **QUIET)
    losses = t.losses()
    assert min(losses) < 0.001
    assert all(v >= 0.001 for v in losses[:-1])


def test_loss_threshold_ignores_failed_losses():
    # -- a 'fail' result has loss +inf whatever it carries (one meaning,
    # docs/architecture.md; hyperopt counted it: docs/compatibility.md)
    t = Trials()
    with pytest.raises(AllTrialsFailed):
        fmin(lambda x: {"status": STATUS_FAIL, "loss": -1.0},
             hp.uniform("x", -5, 5), algo=rand.suggest, loss_threshold=0.0,
             max_evals=10, trials=t, **QUIET)
    assert len(t) == 10


def test_early_stop():
    def stop_after_100(trials, *args):
        return len(trials) >= 100, []

    t = Trials()
    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=500, trials=t, early_stop_fn=stop_after_100, **QUIET)
    assert len(t) == 100


def test_early_stop_state_is_threaded():
    calls = []

    def fn(trials, *state):
        calls.append(state)
        n = (state[0] if state else 0) + 1
        return n >= 3, [n]

    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=10, early_stop_fn=fn, **QUIET)
    assert calls == [(), (1,), (2,)]


def test_no_progress_loss():
    t = generate_trials_to_calculate([{"x": -100}])
    fmin(lambda x: x, hp.uniform("x", -5, 5), algo=rand.suggest,
         max_evals=500, trials=t, early_stop_fn=no_progress_loss(10),
         **QUIET)
    assert len(t) == 10


def test_annotated_space():
    def objective(x: hp.uniform("x", -10, 10), y: hp.uniform("y", -10, 10)):
        return (x - 1) ** 2 + y ** 2

    t = Trials()
    best = fmin(objective, space="annotated", algo=rand.suggest,
                max_evals=10, trials=t, **QUIET)
    assert len(t) == 10
    assert set(best) == {"x", "y"}


def test_annotated_space_with_return_annotation():
    def objective(x: hp.uniform("x", -10, 10)) -> float:
        return x ** 2

    assert "x" in fmin(objective, space="annotated", algo=rand.suggest,
                       max_evals=3, **QUIET)


def test_invalid_annotated_space():
    def objective(x: hp.uniform("x", -10, 10), y: float):
        return x

    with pytest.raises(InvalidAnnotatedParameter):
        fmin(objective, space="annotated", algo=rand.suggest, max_evals=3,
             **QUIET)


def test_default_algorithm_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="parzen.fmin"):
        fmin(lambda x: x, hp.uniform("x", 0, 1), max_evals=3, **QUIET)
    assert "TPE is being used as the default algorithm." in caplog.text


def test_max_evals_is_a_total_and_resume():
    t = Trials()
    space = hp.uniform("x", 0, 1)
    fmin(lambda x: x, space, algo=rand.suggest, max_evals=5, trials=t,
         **QUIET)
    assert len(t) == 5
    fmin(lambda x: x, space, algo=rand.suggest, max_evals=5, trials=t,
         **QUIET)
    assert len(t) == 5
    fmin(lambda x: x, space, algo=rand.suggest, max_evals=8, trials=t,
         **QUIET)
    assert len(t) == 8
    assert t.tids == list(range(8))


def test_failed_trials_consume_budget_but_are_not_listed():
    n = [0]

    def fn(x):
        n[0] += 1
        if n[0] % 2:
            raise RuntimeError("odd")
        return x

    t = Trials()
    fmin(fn, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=6,
         trials=t, catch_eval_exceptions=True, **QUIET)
    assert n[0] == 6 and len(t) == 3


def test_max_queue_len_batches_and_tid_gaps():
    calls = []

    def algo(new_ids, domain, trials, seed):
        calls.append(len(new_ids))
        return rand.suggest(new_ids[:1], domain, trials, seed)

    t = Trials()
    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=algo, max_evals=5,
         max_queue_len=3, trials=t, **QUIET)
    assert calls[0] == 3
    assert len(t) == 5
    assert t.tids != list(range(5))  # -- burned ids leave gaps


def test_algo_returning_nothing_stops():
    t = Trials()
    fmin(lambda x: x, hp.uniform("x", 0, 1),
         algo=lambda ids, d, tr, s: [], max_evals=5, trials=t,
         return_argmin=False, **QUIET)
    assert len(t) == 0


def test_seed_per_algo_call_in_range():
    seeds = []

    def algo(new_ids, domain, trials, seed):
        seeds.append(seed)
        return rand.suggest(new_ids, domain, trials, seed)

    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=algo, max_evals=20,
         rstate=np.random.default_rng(1), **QUIET)
    assert len(set(seeds)) == 20
    assert all(0 <= s < 2 ** 31 - 1 for s in seeds)


def test_result_contract():
    space = hp.uniform("x", 0, 1)
    t = Trials()
    fmin(lambda x: np.float32(0.5), space, algo=rand.suggest, max_evals=1,
         trials=t, **QUIET)
    assert t.results[0] == {"loss": 0.5, "status": "ok"}
    t = Trials()
    fmin(lambda x: {"status": STATUS_OK, "loss": "1.5", "extra": [1, 2],
                    "attachments": {"a": b"bytes"}},
         space, algo=rand.suggest, max_evals=1, trials=t, **QUIET)
    assert t.results[0] == {"status": "ok", "loss": 1.5, "extra": [1, 2]}
    assert t.trial_attachments(t.trials[0])["a"] == b"bytes"
    with pytest.raises(InvalidResultStatus):
        fmin(lambda x: {"status": "weird", "loss": 1}, space,
             algo=rand.suggest, max_evals=1, **QUIET)
    for bad in ({"status": STATUS_OK}, {"status": STATUS_OK, "loss": None},
                {"status": STATUS_OK, "loss": "abc"}):
        with pytest.raises(InvalidLoss):
            fmin(lambda x, bad=bad: bad, space, algo=rand.suggest,
                 max_evals=1, **QUIET)
    with pytest.raises(KeyError):
        fmin(lambda x: {"loss": 1.0}, space, algo=rand.suggest, max_evals=1,
             **QUIET)


def test_nan_loss_is_stored_but_never_best():
    vals = iter([float("nan"), 2.0, 1.0])
    t = Trials()
    fmin(lambda x: next(vals), hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=3, trials=t, **QUIET)
    assert np.isnan(t.losses()[0])
    assert t.best_trial["tid"] == 2


def test_trials_save_file_and_resume(tmp_path):
    path = str(tmp_path / "trials.pkl")
    space = hp.uniform("x", -5, 5)
    fmin(quadratic, space, algo=rand.suggest, max_evals=5,
         trials_save_file=path, **QUIET)
    assert os.path.exists(path)
    with open(path, "rb") as f:
        assert len(pickle.load(f)) == 5
    best = fmin(quadratic, space, algo=rand.suggest, max_evals=9,
                trials_save_file=path, **QUIET)
    with open(path, "rb") as f:
        t = pickle.load(f)
    assert len(t) == 9
    assert best == t.argmin


def test_pass_expr_memo_ctrl():
    from parzen import fmin_pass_expr_memo_ctrl, pyll

    seen = {}

    @fmin_pass_expr_memo_ctrl
    def fn(expr, memo, ctrl):
        seen["ctrl"] = ctrl
        x = pyll.rec_eval(expr, memo=memo)
        return {"loss": x ** 2, "status": STATUS_OK}

    t = Trials()
    fmin(fn, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=3,
         trials=t, **QUIET)
    assert len(t) == 3
    assert seen["ctrl"].trials is t


def test_partial_keeps_flag():
    from parzen import fmin_pass_expr_memo_ctrl, partial

    @fmin_pass_expr_memo_ctrl
    def fn(expr, memo, ctrl, k=0):
        return 1.0

    p = partial(fn, k=1)
    assert p.fmin_pass_expr_memo_ctrl is True


def test_fmin_iter_iterator():
    from parzen.base import Domain

    t = Trials()
    domain = Domain(lambda x: x, hp.uniform("x", 0, 1))
    it = FMinIter(rand.suggest, domain, t, rstate=np.random.default_rng(0),
                  max_evals=5)
    steps = list(it)
    assert len(steps) == 4
    assert len(t) == 5


def test_progressbar_custom_callback():
    import contextlib

    events = []

    @contextlib.contextmanager
    def cb(initial, total):
        class P:
            postfix = None

            def update(self, n):
                events.append((n, self.postfix))

        events.append(("start", initial, total))
        yield P()

    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=3,
         show_progressbar=cb)
    assert events[0] == ("start", 0, 3)
    assert sum(e[0] for e in events[1:]) == 3
    assert events[-1][1].startswith("best loss: ")


def test_verbose_false_disables_custom_callback():
    called = []

    def cb(initial, total):
        called.append(1)
        raise AssertionError("should not be called")

    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=2,
         show_progressbar=cb, verbose=False)
    assert called == []


def test_trials_fmin_method():
    t = Trials()
    best = t.fmin(lambda x: x ** 2, hp.uniform("x", -1, 1),
                  algo=rand.suggest, max_evals=4, show_progressbar=False)
    assert len(t) == 4 and "x" in best


def test_allow_trials_fmin_delegates():
    class MyTrials(Trials):
        def fmin(self, *a, **k):
            return "delegated"

    assert fmin(lambda x: x, hp.uniform("x", 0, 1), trials=MyTrials(),
                algo=rand.suggest, max_evals=1) == "delegated"


def test_custom_trials_subclass_slow_path():
    class CountingTrials(Trials):
        n_refresh = 0

        def refresh(self):
            CountingTrials.n_refresh += 1
            super().refresh()

    t = CountingTrials()
    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=4,
         trials=t, **QUIET)
    assert len(t) == 4 and CountingTrials.n_refresh > 4


def test_list_becomes_tuple_and_dict_keys_sorted():
    seen = []
    fmin(lambda p: seen.append(p) or 0.0,
         {"b": [hp.uniform("x", 0, 1), 2], "a": 1}, algo=rand.suggest,
         max_evals=1, **QUIET)
    assert list(seen[0]) == ["a", "b"]
    assert isinstance(seen[0]["b"], tuple)


def test_ctrl_checkpoint_and_inject_results():
    from parzen import fmin_pass_expr_memo_ctrl, pyll

    @fmin_pass_expr_memo_ctrl
    def fn(expr, memo, ctrl):
        x = pyll.rec_eval(expr, memo=memo)
        ctrl.checkpoint({"status": "running", "partial": 1})
        assert ctrl.current_trial["result"]["partial"] == 1
        ctrl.attachments["note"] = "hi"
        if ctrl.current_trial["tid"] == 0:
            misc = dict(ctrl.current_trial["misc"])
            misc = {"tid": None, "idxs": {"x": []}, "vals": {"x": []}}
            tid = ctrl.trials.new_trial_ids(1)[0]
            misc["tid"] = tid
            ctrl.inject_results([None], [{"status": STATUS_OK, "loss": -1.0}],
                                [misc], [tid])
        return {"status": STATUS_OK, "loss": x}

    t = Trials()
    fmin(fn, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=3,
         trials=t, **QUIET)
    injected = [d for d in t.trials if "from_tid" in d["misc"]]
    assert len(injected) == 1 and injected[0]["misc"]["from_tid"] == 0
    assert t.best_trial is injected[0]
    assert t.trial_attachments(t.trials[0])["note"] == "hi"


def test_asynchronous_trials_with_a_worker_thread():
    """An asynchronous Trials: fmin stores the Domain as an attachment and
    polls while a worker (here a thread) evaluates the NEW documents."""
    import threading

    import cloudpickle

    from parzen.base import Ctrl, Domain, spec_from_misc

    class AsyncTrials(Trials):
        asynchronous = True

    t = AsyncTrials()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            blob = t.attachments.get("FMinIter_Domain")
            if blob is None:
                time.sleep(0.005)
                continue
            domain = cloudpickle.loads(blob)
            for doc in list(t._dynamic_trials):
                if doc["state"] == base.JOB_STATE_NEW:
                    doc["state"] = base.JOB_STATE_RUNNING
                    doc["result"] = domain.evaluate(
                        spec_from_misc(doc["misc"]), Ctrl(t, doc))
                    doc["state"] = base.JOB_STATE_DONE
            time.sleep(0.005)

    th = threading.Thread(target=worker, daemon=True)
    th.start()
    try:
        domain = Domain(lambda x: (x - 1) ** 2, hp.uniform("x", -5, 5))
        it = FMinIter(rand.suggest, domain, t,
                      rstate=np.random.default_rng(0), max_evals=6,
                      poll_interval_secs=0.01, max_queue_len=2)
        it.exhaust()
    finally:
        stop.set()
        th.join()
    assert len(t) == 6
    assert all(d["state"] == base.JOB_STATE_DONE for d in t.trials)
    assert "FMinIter_Domain" in t.attachments


def test_exp_key_trials():
    t = Trials(exp_key="run-a")
    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=3,
         trials=t, **QUIET)
    assert len(t) == 3 and all(d["exp_key"] == "run-a" for d in t.trials)


def test_max_evals_none_with_loss_threshold_and_early_stop():
    t = Trials()
    fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=None, trials=t,
         early_stop_fn=lambda tr, *s: (len(tr) >= 7, []), **QUIET)
    assert len(t) == 7


def test_legacy_randomstate_rstate():
    a = fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=3, rstate=np.random.RandomState(0), **QUIET)
    b = fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=3, rstate=np.random.RandomState(0), **QUIET)
    assert a == b


def test_tqdm_postfix_shows_best_loss(capsys):
    fmin(lambda x: (x - 0.5) ** 2, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=5, rstate=np.random.default_rng(0))
    out = capsys.readouterr().out  # -- tqdm writes to the real stdout
    assert "best loss: " in out and "5/5" in out
