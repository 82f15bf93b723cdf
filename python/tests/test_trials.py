"""Trials, Domain, Ctrl (hyperopt's tests/test_base.py, spec §3-4)."""

import copy
import datetime
import pickle

import cloudpickle
import numpy as np
import pytest

from parzen import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    STATUS_FAIL,
    STATUS_OK,
    Ctrl,
    Domain,
    Trials,
    base,
    fmin,
    hp,
    rand,
    trials_from_docs,
)
from parzen.base import (
    SONify,
    TRIAL_KEYS,
    TRIAL_MISC_KEYS,
    miscs_to_idxs_vals,
    miscs_update_idxs_vals,
    spec_from_misc,
)
from parzen.exceptions import AllTrialsFailed, InvalidTrial


def ok_trial(tid, *args, **kwargs):
    return dict(
        tid=tid,
        result={"status": "algo, ok"},
        spec={"a": 1, "foo": (args, kwargs)},
        misc={"tid": tid, "cmd": ("some cmd",), "idxs": {"z": [tid]},
              "vals": {"z": [1]}},
        extra="extra",
        owner=None, state=0, book_time=None, refresh_time=None,
        exp_key=None,
    )


def done_doc(tid, loss, status=STATUS_OK, x=None):
    d = ok_trial(tid)
    d["state"] = JOB_STATE_DONE
    d["result"] = {"status": status}
    if loss is not None:
        d["result"]["loss"] = loss
    d["misc"]["vals"] = {"x": [tid if x is None else x]}
    d["misc"]["idxs"] = {"x": [tid]}
    return d


class TestTrials:
    def test_valid(self):
        trials = Trials()
        f = trials.insert_trial_doc
        fine = ok_trial("ID", 1, 2, 3)
        f(ok_trial("ID", 1, 2, 3))
        for key in TRIAL_KEYS:
            bad = copy.deepcopy(fine)
            del bad[key]
            with pytest.raises(InvalidTrial):
                f(bad)
        for key in TRIAL_MISC_KEYS:
            bad = copy.deepcopy(fine)
            del bad["misc"][key]
            with pytest.raises(InvalidTrial):
                f(bad)
        bad = copy.deepcopy(fine)
        bad["misc"]["tid"] = "other"
        with pytest.raises(InvalidTrial):
            f(bad)
        bad = copy.deepcopy(fine)
        bad["exp_key"] = "k"
        with pytest.raises(InvalidTrial):
            f(bad)
        with pytest.raises(InvalidTrial):
            f([1, 2])

    def test_insert_sync(self):
        trials = Trials()
        assert len(trials) == 0
        trials.insert_trial_docs([ok_trial("a", 8), ok_trial(5, a=1, b=3)])
        assert len(trials) == 0  # -- inserts never refresh
        trials.insert_trial_docs([ok_trial(None, 8)])
        assert len(trials) == 0
        assert trials.count_by_state_unsynced(JOB_STATE_NEW) == 3
        assert trials.count_by_state_synced(JOB_STATE_NEW) == 0
        trials.refresh()
        assert len(trials) == 3
        assert trials.tids == ["a", 5, None]
        assert trials.count_by_state_synced([JOB_STATE_NEW, 1]) == 3

    def test_best_trial_nan(self):
        trials = trials_from_docs([done_doc(1, 1.0), done_doc(2, np.nan),
                                   done_doc(3, 0.5)])
        assert trials.best_trial["tid"] == 3
        assert trials.argmin == {"x": 3}
        only_nan = trials_from_docs([done_doc(1, np.nan)])
        with pytest.raises(AllTrialsFailed):
            only_nan.best_trial

    def test_best_trial_ties_and_status(self):
        trials = trials_from_docs([
            done_doc(1, 2.0), done_doc(2, 1.0), done_doc(3, 1.0),
            done_doc(4, -5.0, status=STATUS_FAIL)])
        assert trials.best_trial["tid"] == 2

    def test_losses_statuses_results(self):
        trials = trials_from_docs([done_doc(1, 2.0), done_doc(2, None,
                                                               STATUS_FAIL)])
        assert trials.losses() == [2.0, None]
        assert trials.statuses() == [STATUS_OK, STATUS_FAIL]
        assert trials.specs[0]["a"] == 1
        assert trials.miscs[0]["tid"] == 1

    def test_idxs_vals(self):
        trials = trials_from_docs([done_doc(1, 2.0), done_doc(2, 1.0)])
        idxs, vals = trials.idxs_vals
        assert idxs == {"x": [1, 2]} and vals == {"x": [1, 2]}
        assert trials.idxs == idxs and trials.vals == vals
        with pytest.raises(ValueError, match="cannot infer keys"):
            Trials().idxs_vals

    def test_average_best_error(self):
        trials = trials_from_docs([done_doc(1, 2.0), done_doc(2, 1.0)])
        assert trials.average_best_error() == 1.0
        d1 = done_doc(1, 1.0)
        d1["result"]["loss_variance"] = 1.0
        d1["result"]["true_loss"] = 10.0
        d2 = done_doc(2, 1.1)
        d2["result"]["loss_variance"] = 1.0
        d2["result"]["true_loss"] = 20.0
        v = trials_from_docs([d1, d2]).average_best_error()
        assert 10.0 < v < 20.0
        with pytest.raises(ValueError, match="Empty loss vector"):
            trials_from_docs([done_doc(1, None, STATUS_FAIL)]
                             ).average_best_error()

    def test_new_trial_ids(self):
        trials = Trials()
        assert trials.new_trial_ids(3) == [0, 1, 2]
        assert trials.new_trial_ids(2) == [3, 4]
        # -- upstream would hand out 3 here and collide with tid 5
        t2 = trials_from_docs([done_doc(5, 1.0), done_doc(6, 1.0)])
        new = t2.new_trial_ids(3)
        assert not set(new) & {5, 6}

    def test_new_and_source_trial_docs(self):
        trials = Trials(exp_key="e")
        docs = trials.new_trial_docs([7], [None], [{"status": "new"}],
                                     [{"tid": 7, "cmd": None, "idxs": {},
                                       "vals": {}}])
        assert docs[0]["exp_key"] == "e" and docs[0]["state"] == 0
        assert docs[0]["version"] == 0 and docs[0]["owner"] is None
        src = docs[0]
        out = trials.source_trial_docs([8], [None], [{"status": "ok"}],
                                       [{"idxs": {}, "vals": {}}], [src])
        assert out[0]["misc"]["from_tid"] == 7 and out[0]["misc"]["tid"] == 8

    def test_delete_all_and_attachments(self):
        trials = trials_from_docs([done_doc(1, 1.0)])
        att = trials.trial_attachments(trials.trials[0])
        att["k"] = b"v"
        assert "k" in att and att["k"] == b"v"
        assert trials.attachments == {"ATTACH::1::k": b"v"}
        del att["k"]
        assert "k" not in att
        att["k"] = b"v"
        trials.delete_all()
        assert len(trials) == 0 and trials.attachments == {}

    def test_view_exp_key(self):
        trials = Trials()
        d1 = done_doc(1, 1.0)
        d2 = done_doc(2, 2.0)
        d2["exp_key"] = "b"
        trials._insert_trial_docs([d1, d2])
        trials.refresh()
        assert len(trials) == 2  # -- exp_key None sees every document
        assert trials.view(exp_key=None).tids == [1, 2]
        vb = trials.view(exp_key="b")
        assert vb.tids == [2]
        assert vb.count_by_state_unsynced(JOB_STATE_DONE) == 1

    def test_error_docs_leave_trials_on_refresh(self):
        trials = trials_from_docs([done_doc(1, 1.0), done_doc(2, 2.0)])
        trials._dynamic_trials[0]["state"] = JOB_STATE_ERROR
        assert len(trials) == 2
        trials.refresh()
        assert trials.tids == [2]
        assert trials.count_by_state_unsynced(JOB_STATE_ERROR) == 1

    def test_iter_len_getitem(self):
        trials = trials_from_docs([done_doc(1, 1.0)])
        assert [t["tid"] for t in trials] == [1]
        with pytest.raises(NotImplementedError):
            trials[0]
        unref = Trials(refresh=False)
        with pytest.raises(AttributeError):
            len(unref)

    def test_pickle_roundtrip(self):
        t = Trials()
        fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
             max_evals=4, trials=t, show_progressbar=False)
        for mod in (pickle, cloudpickle):
            t2 = mod.loads(mod.dumps(t))
            assert t2.tids == t.tids and t2.losses() == t.losses()
            fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest,
                 max_evals=6, trials=t2, show_progressbar=False)
            assert len(t2) == 6


def test_trial_doc_schema_from_fmin():
    t = Trials()
    space = {"x": hp.uniform("x", 0, 1),
             "c": hp.choice("c", [0, hp.normal("n", 0, 1)])}
    fmin(lambda p: p["x"], space, algo=rand.suggest, max_evals=20, trials=t,
         show_progressbar=False)
    for d in t.trials:
        assert set(d) == {"tid", "state", "spec", "result", "misc",
                          "exp_key", "owner", "version", "book_time",
                          "refresh_time"}
        m = d["misc"]
        assert list(m) == ["tid", "cmd", "workdir", "idxs", "vals"]
        assert m["cmd"] == ("domain_attachment", "FMinIter_Domain")
        assert list(m["idxs"]) == ["c", "n", "x"]
        assert m["idxs"]["x"] == [d["tid"]]
        assert isinstance(m["vals"]["c"][0], int)
        if m["vals"]["c"][0] == 1:
            assert m["idxs"]["n"] == [d["tid"]]
        else:
            assert m["idxs"]["n"] == [] and m["vals"]["n"] == []
        assert isinstance(d["book_time"], datetime.datetime)
        assert d["book_time"].microsecond % 1000 == 0
        assert d["spec"] is None and d["state"] == JOB_STATE_DONE


def test_misc_helpers():
    miscs = [{"tid": 0}, {"tid": 1}]
    miscs_update_idxs_vals(miscs, {"a": [0], "b": [1]},
                           {"a": [1.5], "b": [2]})
    assert miscs[0]["idxs"] == {"a": [0], "b": []}
    assert miscs[1]["vals"] == {"a": [], "b": [2]}
    idxs, vals = miscs_to_idxs_vals(miscs)
    assert idxs == {"a": [0], "b": [1]} and vals == {"a": [1.5], "b": [2]}
    assert spec_from_misc(miscs[0]) == {"a": 1.5}
    with pytest.raises(NotImplementedError):
        spec_from_misc({"vals": {"a": [1, 2]}})


class TestSONify:
    def test_scalars(self):
        assert SONify(np.float64(1.5)) == 1.5
        assert type(SONify(np.int64(3))) is int
        assert type(SONify(np.bool_(True))) is bool
        assert SONify(np.arange(3)) == [0, 1, 2]
        assert SONify(np.array(2.0)) == 2.0

    def test_nested(self):
        out = SONify({"a": (np.int32(1), [np.float32(2)]), "b": None})
        assert out == {"a": (1, [2.0]), "b": None}
        assert isinstance(out["a"], tuple)

    def test_bad(self):
        with pytest.raises(TypeError):
            SONify(object())


class TestDomain:
    def test_params_and_evaluate(self):
        d = Domain(lambda p: p["x"] * 2,
                   {"x": hp.uniform("x", 0, 1), "k": 3})
        assert set(d.params) == {"x"} and d.params["x"].name == "uniform"
        ctrl = Ctrl(Trials(), current_trial={"tid": 0})
        assert d.evaluate({"x": 0.25}, ctrl) == {"loss": 0.5,
                                                  "status": "ok"}
        assert d.new_result() == {"status": "new"}
        assert d.loss({"loss": 2}) == 2
        assert d.loss_variance({}) == 0.0
        assert d.true_loss({"loss": 2}) == 2
        assert d.status({"status": "ok"}) == "ok"
        with pytest.raises(NotImplementedError):
            d.true_loss_variance()
        assert d.cmd == ("domain_attachment", "FMinIter_Domain")

    def test_pickle(self):
        d = Domain(lambda p: p, {"x": hp.uniform("x", 0, 1)})
        _ = d.compiled
        d2 = cloudpickle.loads(cloudpickle.dumps(d))
        assert d2.compiled.labels == ["x"]

    def test_ctrl_literal_in_space(self):
        d = Domain(lambda p: 1.0 if isinstance(p[1], Ctrl) else 2.0,
                   [hp.uniform("x", 0, 1), Domain.pyll_ctrl])
        ctrl = Ctrl(Trials(), current_trial={"tid": 0})
        assert d.evaluate({"x": 0.1}, ctrl)["loss"] == 1.0

    def test_inactive_label_needed_fails(self):
        d = Domain(lambda p: p, {"x": hp.uniform("x", 0, 1)})
        with pytest.raises(Exception):
            d.evaluate({}, Ctrl(Trials()))


def test_job_state_constants():
    assert (base.JOB_STATE_NEW, base.JOB_STATE_RUNNING, base.JOB_STATE_DONE,
            base.JOB_STATE_ERROR, base.JOB_STATE_CANCEL) == (0, 1, 2, 3, 4)
    assert base.STATUS_STRINGS == ("new", "running", "suspended", "ok",
                                   "fail")
    assert base.JOB_VALID_STATES == {0, 1, 2}
