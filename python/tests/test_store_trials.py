"""Durable trials: parzen._core.Store, parzen.store.StoreTrials and
fmin(trials_save_file=...) over the SQLite store (issue 5, docs/python.md
"Durable trials")."""

import datetime
import json
import math
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from functools import partial

import numpy as np
import pytest

from conftest import ROOT, find_cli, needs_tpe
from parzen import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    STATUS_OK,
    Domain,
    StoreTrials,
    Trials,
    _core,
    fmin,
    hp,
    rand,
    tpe,
)
from parzen.base import JOB_STATE_CANCEL
from parzen.exceptions import InvalidArgumentError, NotFoundError, StorageError
from parzen.store import DOC_KEY, is_store_path

SPACE = {"x": hp.uniform("x", -3, 3), "c": hp.choice("c", [0, 1])}


def loss_of(p):
    return (p["x"] - 1) ** 2 + p["c"]


def db_rows(path, sql, *args):
    """Rows of a query on the store file, read with Python's sqlite3."""
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def flat_space():
    sp = _core.Space()
    sp.add("x", "uniform", low=0.0, high=1.0)
    sp.add("k", "choice", n_options=3)
    return sp


# ------------------------------------------------------------ _core.Store


def test_core_store_round_trip(tmp_path):
    path = str(tmp_path / "s.db")
    sp = flat_space()
    with _core.Store(path) as st:
        info = st.open_study("a", sp.to_json(), "random", 7)
        assert info["created_now"] and info["seed"] == 7
        assert info["sampler"] == "random" and st.n_params == 2
        tid = st.add([0.5, 2.0])
        assert tid == 0 and st.count(JOB_STATE_NEW) == 1
        st.start(tid)
        assert st.count(JOB_STATE_RUNNING) == 1
        st.tell(tid, JOB_STATE_DONE, 0.25, result_json='{"loss": 0.25}',
                stdout=b"out\xff", stderr="err")
        asked = st.ask(max_trials=3)
        assert asked[0] == 1 and len(asked[1]) == 2
        st.tell(1, JOB_STATE_ERROR, error="boom")
        assert st.ask(max_trials=2) is None  # budget: 2 trials exist
        recs = st.trials()
        assert [r["id"] for r in recs] == [0, 1]
        r0 = recs[0]
        assert r0["state"] == JOB_STATE_DONE and r0["loss"] == 0.25
        assert r0["status"] == "ok" and r0["values"] == (0.5, 2.0)
        assert json.loads(r0["params_json"]) == {"x": 0.5, "k": 2}
        assert r0["result_json"] == '{"loss": 0.25}' and r0["attempts"] == 1
        assert r0["stdout"] is None  # only get_trial reads the output
        full = st.get_trial(0)
        assert full["stdout"] == b"out\xff" and full["stderr"] == b"err"
        assert recs[1]["error"] == "boom" and recs[1]["status"] == "fail"
        assert st.best()["id"] == 0
        [summary] = st.studies()
        assert summary["name"] == "a" and summary["n_state"][2:4] == (1, 1)
        with pytest.raises(InvalidArgumentError, match="trial 0 .* is done"):
            st.start(0)
        with pytest.raises(NotFoundError):
            st.get_trial(99)
        with pytest.raises(NotFoundError):
            st.start(99)
        with pytest.raises(InvalidArgumentError, match="outcome"):
            st.tell(0, JOB_STATE_RUNNING)
        with pytest.raises(ValueError):
            st.add([0.5])  # wrong length
        with pytest.raises(InvalidArgumentError, match="'k'"):
            st.add([0.5, 5.0])  # no option 5
        st.open_study("b", sp.to_json(), "tpe", 1)
        assert st.best() is None and st.trials() == []
    assert st.closed
    with pytest.raises(ValueError, match="closed"):
        st.trials()
    with _core.Store(path, create=False) as st:
        with pytest.raises(NotFoundError, match="no study 'zzz'"):
            st.open_study("zzz")
        assert st.open_study("a")["seed"] == 7
        other = _core.Space()
        other.add("y", "uniform", low=0.0, high=1.0)
        with pytest.raises(InvalidArgumentError, match="different space"):
            st.open_study("a", other.to_json(), "random", 7)
        assert [r["id"] for r in st.trials()] == [0, 1]
    with pytest.raises(StorageError, match="no store at"):
        _core.Store(str(tmp_path / "missing.db"), create=False)


def test_core_store_open_study_takes_a_parsed_space(tmp_path):
    """A Space goes to the store as parsed (the C path's
    pz_study_config.space): creating and resuming a study reads no space
    text; JSON text is still taken (one parse); space() is the study's
    space, copied."""
    path = str(tmp_path / "s.db")
    sp = flat_space()
    with _core.Store(path) as st:
        for round_ in range(2):  # create, then resume
            before = _core._space_json_parses()
            info = st.open_study("a", sp, "random", 7)
            assert _core._space_json_parses() - before == 0, round_
            assert info["created_now"] == (round_ == 0)
            assert info["space_json"] == sp.to_json()
            got = st.space()
            assert got.labels() == ["x", "k"] and got.to_json() == sp.to_json()
            assert got is not st.space()  # a copy each time
        before = _core._space_json_parses()
        st.open_study("a", sp.to_json(), "random", 7)
        assert _core._space_json_parses() - before == 1
        sp.add("later", "uniform", low=0.0, high=1.0)  # the store kept a copy
        assert st.space().labels() == ["x", "k"] and st.n_params == 2
        with pytest.raises(InvalidArgumentError, match="different space"):
            st.open_study("a", sp, "random", 7)
        with pytest.raises(TypeError, match="Space, JSON text or None, not "
                           "int"):
            st.open_study("a", 3)
    with _core.Store(str(tmp_path / "empty.db")) as st:
        with pytest.raises(InvalidArgumentError, match="study"):
            st.space()


def test_store_trials_parse_the_space_once_like_the_cli(tmp_path):
    """fmin on a store parses the space at most once, as parzen run
    does: creating the study parses no text (the compiled space goes to
    the store, the mirror copies the store's space); resuming parses the
    stored text once (StoreTrials opens the study before fmin gives it
    the domain), as does opening a stored study without a domain. (Before:
    two parses each, the store's and the mirror's.)"""
    path = str(tmp_path / "p.db")
    for evals, parses in ((3, 0), (6, 1)):  # create, then resume
        before = _core._space_json_parses()
        fmin(loss_of, SPACE, algo=rand.suggest, max_evals=evals,
             trials_save_file=path, show_progressbar=False,
             rstate=np.random.default_rng(evals))
        assert _core._space_json_parses() - before == parses, evals
    before = _core._space_json_parses()
    t = StoreTrials(path)
    assert len(t) == 6
    assert _core._space_json_parses() - before == 1
    t.close()


def test_core_store_sync_and_renew(tmp_path):
    """sync() loads what another handle wrote; renew() extends this
    handle's leases; both need an open study."""
    path = str(tmp_path / "s.db")
    with _core.Store(path) as a, _core.Store(path) as b:
        with pytest.raises(InvalidArgumentError, match="no study opened"):
            a.sync()
        with pytest.raises(InvalidArgumentError, match="no study opened"):
            a.renew()
        a.open_study("s", flat_space().to_json(), "random", 3)
        b.open_study("s")
        tid = a.add([0.25, 1.0])
        a.start(tid)
        assert b.count(JOB_STATE_RUNNING) == 0  # not yet seen by b
        b.sync()
        assert b.count(JOB_STATE_RUNNING) == 1
        a.set_lease(120.0)
        assert a.renew() is None and a.sync() is None


def test_core_store_close_abandons_running_trials(tmp_path):
    path = str(tmp_path / "s.db")
    st = _core.Store(path)
    st.open_study("a", flat_space().to_json(), "random", 1)
    st.start(st.add([0.1, 0.0]))
    st.close()
    st.close()  # idempotent
    with _core.Store(path) as again:
        again.open_study("a")
        [rec] = again.trials()
        assert rec["state"] == JOB_STATE_CANCEL
        assert rec["error"].startswith("abandoned")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_core_store_is_inert_in_a_forked_child(tmp_path):
    st = _core.Store(str(tmp_path / "s.db"))
    st.open_study("a", flat_space().to_json(), "random", 1)
    st.start(st.add([0.1, 0.0]))
    pid = os.fork()
    if pid == 0:  # the child: never run the parent's atexit or tests
        code = 1
        try:
            try:
                st.trials()
            except RuntimeError:
                code = 0
            st.close()  # must not mark the parent's trial abandoned
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert st.trials()[0]["state"] == JOB_STATE_RUNNING
    st.close()


# ----------------------------------------------------------- StoreTrials


def rich_objective(p):
    if p["c"] == 1 and p["x"] > 2.0:
        raise ValueError("x too large: %r" % p["x"])
    return {"loss": loss_of(p), "status": STATUS_OK,
            "accuracy": np.float64(0.5), "folds": np.arange(3.0),
            "pair": (1, "a"), "nan": float("nan"), "blob": b"\x00\x01",
            "nested": {"a": [1, 2.5, None, True]},
            "attachments": {"model": b"weights"}}


def comparable(doc):
    """A document with arrays turned into lists (for ==)."""
    doc = dict(doc)
    res = dict(doc["result"])
    for k, v in res.items():
        if isinstance(v, np.ndarray):
            res[k] = ("ndarray", v.dtype.str, v.tolist())
        elif isinstance(v, float) and math.isnan(v):
            res[k] = "NaN"
    doc["result"] = res
    return doc


def test_documents_round_trip(tmp_path):
    path = str(tmp_path / "t.db")
    trials = StoreTrials(path, study="rt")
    fmin(rich_objective, SPACE, algo=rand.suggest, max_evals=30,
         trials=trials, rstate=np.random.default_rng(3),
         catch_eval_exceptions=True, show_progressbar=False)
    trials.refresh()
    docs = list(trials._dynamic_trials)
    atts = dict(trials.attachments)
    trials.close()
    n_error = sum(d["state"] == JOB_STATE_ERROR for d in docs)
    assert n_error > 0 and len(docs) == 30

    again = StoreTrials(path, study="rt")
    assert len(again) == len(trials) == 30 - n_error  # as hyperopt
    assert [comparable(d) for d in again._dynamic_trials] == \
        [comparable(d) for d in docs]
    assert again.attachments == atts and len(atts) == 30 - n_error
    for d in again._dynamic_trials:
        assert type(d["result"].get("pair", ())) is tuple
        if d["state"] == JOB_STATE_ERROR:
            t, msg = d["misc"]["error"]
            assert t == "<class 'ValueError'>" and "too large" in msg
            assert d["result"] == {"status": "new"}
        else:
            assert d["result"]["folds"].dtype == np.float64
            assert type(d["result"]["accuracy"]) is float  # as SONify
    assert again.argmin == trials.argmin
    # -- what the CLI and other tools see in the file
    rows = db_rows(path, "SELECT state, status, loss, result, error FROM"
                   " trials ORDER BY id")
    for (state, status, loss, result, error), d in zip(rows, docs):
        doc = json.loads(result)  # strict JSON: no NaN
        assert DOC_KEY in doc and state == d["state"]
        if state == JOB_STATE_DONE:
            assert status == "ok" and loss == d["result"]["loss"]
            assert doc["accuracy"] == 0.5
        else:
            assert status == "fail" and loss is None
            assert error.startswith("ValueError: x too large")
    again.close()


def test_every_state_change_is_its_own_transaction(tmp_path):
    path = str(tmp_path / "t.db")
    trials = StoreTrials(path)
    domain = Domain(loss_of, SPACE)
    trials.attach_domain(domain)
    ids = trials.new_trial_ids(2)
    assert ids == [0, 1]
    docs = rand.suggest(ids, domain, trials, 5)
    trials.insert_trial_docs(docs)

    def state_in_file(tid):
        return db_rows(path, "SELECT state FROM trials WHERE id = ?",
                       tid)[0][0]

    assert [state_in_file(t) for t in ids] == [JOB_STATE_NEW] * 2
    trials.refresh()
    doc = trials.trials[0]
    doc["state"] = JOB_STATE_RUNNING  # what fmin's serial loop does
    assert state_in_file(0) == JOB_STATE_RUNNING
    doc["state"] = JOB_STATE_DONE
    doc["result"] = {"loss": 0.5, "status": STATUS_OK, "note": "x"}
    assert state_in_file(0) == JOB_STATE_RUNNING  # outcome not complete
    doc["refresh_time"] = datetime.datetime(2024, 1, 2, 3, 4, 5, 6000)
    assert state_in_file(0) == JOB_STATE_DONE
    # -- a user's own loop: the outcome is written at the next refresh
    other = trials.trials[1]
    other["state"] = JOB_STATE_DONE
    other["result"] = {"loss": 0.25, "status": STATUS_OK}
    trials.refresh()
    assert state_in_file(1) == JOB_STATE_DONE
    # -- a stored outcome is final: later edits stay in memory
    doc["state"] = JOB_STATE_ERROR
    assert state_in_file(0) == JOB_STATE_DONE
    trials.close()
    again = StoreTrials(path)
    assert again.trials[0]["result"]["note"] == "x"
    assert again.trials[0]["refresh_time"] == datetime.datetime(
        2024, 1, 2, 3, 4, 5, 6000)
    assert again.losses() == [0.5, 0.25]
    # -- copies and pickles of stored documents are plain dicts
    assert type(pickle.loads(pickle.dumps(again.trials[0]))) is dict
    again.close()


def test_tids_come_from_the_store(tmp_path):
    path = str(tmp_path / "t.db")
    domain = Domain(loss_of, SPACE)
    a = StoreTrials(path)
    a.attach_domain(domain)
    b = StoreTrials(path)  # a second handle on the same study
    b.attach_domain(domain)
    a.insert_trial_docs(rand.suggest([0], domain, a, 1))
    docs = rand.suggest(b.new_trial_ids(1), domain, b, 2)
    assert docs[0]["tid"] == 0
    assert b.insert_trial_docs(docs) == [1]  # renumbered by the store
    b.refresh()
    assert b.trials[0]["misc"]["tid"] == 1
    assert {k for k, v in b.trials[0]["misc"]["idxs"].items() if v} <= \
        {"x", "c"} and all(v in ([], [1]) for v in
                           b.trials[0]["misc"]["idxs"].values())
    docs = rand.suggest([100], domain, a, 3)  # a tid of the user's
    assert a.insert_trial_docs(docs) == [2]
    a.close()
    b.close()
    assert StoreTrials(path).tids == [0, 1, 2]


def test_injected_results_are_stored(tmp_path):
    from parzen import fmin_pass_expr_memo_ctrl
    from parzen.pyll import rec_eval

    @fmin_pass_expr_memo_ctrl
    def objective(expr, memo, ctrl):
        p = rec_eval(expr, memo=memo)
        ctrl.checkpoint({"status": "running", "partial": 1})
        ctrl.attachments["note"] = "hi"
        vals = ctrl.current_trial["misc"]["vals"]
        [tid] = ctrl.trials.new_trial_ids(1)
        misc = {"tid": tid, "vals": vals,
                "idxs": {k: [tid] if v else [] for k, v in vals.items()}}
        ctrl.inject_results([None], [{"loss": 9.0, "status": STATUS_OK}],
                            [misc], [tid])
        return loss_of(p)

    path = str(tmp_path / "t.db")
    t = StoreTrials(path)
    fmin(objective, SPACE, algo=rand.suggest, max_evals=3, trials=t,
         rstate=np.random.default_rng(0), show_progressbar=False)
    t.close()
    again = StoreTrials(path)
    injected = [d for d in again.trials if "from_tid" in d["misc"]]
    assert len(injected) == 3 and len(again) == 6
    assert [d["misc"]["cmd"] for d in injected] == [None] * 3
    assert "workdir" not in injected[0]["misc"]
    assert all(again.trial_attachments(d)["note"] == "hi"
               for d in again.trials if "from_tid" not in d["misc"])
    for d in injected:
        assert d["state"] == JOB_STATE_DONE and d["result"]["loss"] == 9.0
        src = [s for s in again.trials if s["tid"] == d["misc"]["from_tid"]]
        assert src and src[0]["misc"]["vals"] == d["misc"]["vals"]


def test_inexact_space_round_trip_and_resume(tmp_path):
    # -- x is reached from two choices: the C space keeps it always active
    x = hp.uniform("x", 0, 1)
    space = {"a": hp.choice("a", [x, 0.0]), "b": hp.choice("b", [x, 1.0])}
    path = str(tmp_path / "t.db")
    f = partial(fmin, lambda p: p["a"] + p["b"], space, algo=rand.suggest,
                trials_save_file=path, show_progressbar=False)
    f(max_evals=20, rstate=np.random.default_rng(0))
    t = StoreTrials(path)
    unreached = [d for d in t.trials if d["misc"]["vals"]["a"] == [1]
                 and d["misc"]["vals"]["b"] == [1]]
    assert unreached and all(d["misc"]["vals"]["x"] == [] for d in unreached)
    t.close()
    f(max_evals=25, rstate=np.random.default_rng(1))
    assert len(StoreTrials(path)) == 25


def test_view_pickle_and_exp_key(tmp_path):
    path = str(tmp_path / "t.db")
    t = StoreTrials(path, exp_key="e1")
    fmin(loss_of, SPACE, algo=rand.suggest, max_evals=4, trials=t,
         rstate=np.random.default_rng(0), show_progressbar=False)
    assert {d["exp_key"] for d in t.trials} == {"e1"}
    v = t.view(exp_key="e1")
    assert len(v) == 4 and v.path == path
    back = pickle.loads(pickle.dumps(t))
    assert isinstance(back, StoreTrials) and back.tids == t.tids
    back.close()
    t.close()
    assert len(StoreTrials(path, exp_key="e1")) == 4
    assert len(StoreTrials(path, exp_key="other")) == 0


def test_points_to_evaluate_are_queued_once_and_count(tmp_path):
    path = str(tmp_path / "t.db")
    pts = [{"x": 1.0, "c": 0}, {"x": -1.0, "c": 1}]
    fmin(loss_of, SPACE, algo=rand.suggest, max_evals=5, trials_save_file=path,
         points_to_evaluate=pts, rstate=np.random.default_rng(0),
         show_progressbar=False)
    t = StoreTrials(path)
    assert len(t) == 5
    assert t.trials[0]["misc"]["vals"] == {"c": [0], "x": [1.0]}
    assert t.trials[1]["misc"]["vals"] == {"c": [1], "x": [-1.0]}
    t.close()
    fmin(loss_of, SPACE, algo=rand.suggest, max_evals=7, trials_save_file=path,
         points_to_evaluate=pts, rstate=np.random.default_rng(1),
         show_progressbar=False)
    assert len(StoreTrials(path)) == 7  # not queued again


# -------------------------------------------------- fmin(trials_save_file)


@pytest.mark.parametrize("name", ["t.db", "t.sqlite", "t.SQLITE3"])
def test_trials_save_file_store_resumes(tmp_path, name):
    path = str(tmp_path / name)
    run = partial(fmin, loss_of, SPACE, algo=rand.suggest,
                  trials_save_file=path, show_progressbar=False)
    run(max_evals=6, rstate=np.random.default_rng(0))
    assert is_store_path(path)
    with open(path, "rb") as f:
        assert f.read(16) == b"SQLite format 3\x00"
    assert db_rows(path, "SELECT count(*) FROM trials WHERE state = 2") == \
        [(6,)]
    best = run(max_evals=15, rstate=np.random.default_rng(1))
    t = StoreTrials(path)
    assert len(t) == 15 and sorted(t.tids) == list(range(15))
    assert best == t.argmin
    t.close()
    assert run(max_evals=15, rstate=np.random.default_rng(2)) == best


def test_trials_save_file_existing_sqlite_without_suffix(tmp_path):
    path = str(tmp_path / "trials.state")
    StoreTrials(path).close()  # an empty store: an SQLite file
    assert is_store_path(path)
    fmin(loss_of, SPACE, algo=rand.suggest, max_evals=3, trials_save_file=path,
         rstate=np.random.default_rng(0), show_progressbar=False)
    assert len(StoreTrials(path)) == 3


@needs_tpe
def test_trials_save_file_store_with_tpe_matches_in_memory(tmp_path):
    path = str(tmp_path / "t.db")
    algo = partial(tpe.suggest, n_startup_jobs=5)
    mem = Trials()
    fmin(loss_of, SPACE, algo=algo, max_evals=20, trials=mem,
         rstate=np.random.default_rng(4), show_progressbar=False)
    fmin(loss_of, SPACE, algo=algo, max_evals=20, trials_save_file=path,
         rstate=np.random.default_rng(4), show_progressbar=False)
    stored = StoreTrials(path)
    assert stored.vals == mem.vals and stored.losses() == mem.losses()


def test_trials_save_file_pickle_still_works(tmp_path):
    for name in ("t.pkl", "t.db"):
        path = str(tmp_path / name)
        if name == "t.db":
            # -- an existing pickle keeps hyperopt's behaviour, whatever
            # its name
            with open(path, "wb") as f:
                pickle.dump(Trials(), f)
        run = partial(fmin, loss_of, SPACE, algo=rand.suggest,
                      trials_save_file=path, show_progressbar=False)
        run(max_evals=4, rstate=np.random.default_rng(0))
        assert not is_store_path(path)
        with open(path, "rb") as f:
            saved = pickle.load(f)
        assert isinstance(saved, Trials) and len(saved) == 4
        run(max_evals=9, rstate=np.random.default_rng(1))
        with open(path, "rb") as f:
            assert len(pickle.load(f)) == 9


def test_trials_save_file_store_refuses_other_trials(tmp_path):
    path = str(tmp_path / "t.db")
    with pytest.raises(ValueError, match="is a parzen store"):
        fmin(loss_of, SPACE, algo=rand.suggest, max_evals=2, trials=Trials(),
             trials_save_file=path, show_progressbar=False)
    assert not os.path.exists(path)  # nothing pickled over it
    with StoreTrials(path) as t:
        fmin(loss_of, SPACE, algo=rand.suggest, max_evals=2, trials=t,
             trials_save_file=path, rstate=np.random.default_rng(0),
             show_progressbar=False)
        assert len(t) == 2
    assert is_store_path(path) and len(StoreTrials(path)) == 2


# ----------------------------------------------------------------- errors


def test_errors_name_the_file(tmp_path):
    missing_dir = str(tmp_path / "no" / "such" / "dir" / "t.db")
    with pytest.raises(StorageError, match=missing_dir):
        StoreTrials(missing_dir)
    text = tmp_path / "notes.db"
    text.write_text("not a database\n" * 100)
    with pytest.raises(StorageError, match="notes.db: file is not a database"):
        StoreTrials(str(text))
    with pytest.raises(StorageError, match="notes.db"):
        fmin(loss_of, SPACE, algo=rand.suggest, max_evals=2,
             trials_save_file=str(text), show_progressbar=False)
    other = str(tmp_path / "other.sqlite")
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="other.sqlite: not a parzen store"):
        StoreTrials(other)
    with pytest.raises(ValueError, match="non-empty"):
        StoreTrials(str(tmp_path / "x.db"), study="")


def test_errors_of_the_study(tmp_path):
    path = str(tmp_path / "t.db")
    t = StoreTrials(path)
    domain = Domain(loss_of, SPACE)
    docs = rand.suggest([0], domain, t, 1)
    with pytest.raises(InvalidArgumentError, match="space is unknown"):
        t.insert_trial_docs(docs)
    t.attach_domain(domain)
    bad = rand.suggest([0], domain, t, 1)
    bad[0]["misc"]["vals"]["c"] = [5]  # no such option
    with pytest.raises(InvalidArgumentError, match="trial 0 cannot be stored"):
        t.insert_trial_docs(bad)
    assert len(t._dynamic_trials) == 0
    with pytest.raises(NotImplementedError):
        t.delete_all()
    t.close()
    with pytest.raises(InvalidArgumentError, match="different space"):
        fmin(loss_of, {"y": hp.uniform("y", 0, 1)}, algo=rand.suggest,
             max_evals=2, trials_save_file=path, show_progressbar=False)
    # -- another study name holds another space
    fmin(lambda p: p["y"], {"y": hp.uniform("y", 0, 1)}, algo=rand.suggest,
         max_evals=2, trials=StoreTrials(path, study="y"),
         show_progressbar=False)
    assert [s["name"] for s in StoreTrials(path).store.studies()] == \
        ["default", "y"]


# ------------------------------------------------------- kill -9, resume

KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from functools import partial
    import numpy as np
    from parzen import fmin, hp, tpe

    db, max_evals, kill_at, seed, pause = sys.argv[1:6]
    calls = 0

    def objective(p):
        global calls
        calls += 1
        if calls == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)  # mid-evaluation
        time.sleep(float(pause))
        return (p["x"] - 1) ** 2 + p["c"]

    space = {"x": hp.uniform("x", -3, 3), "c": hp.choice("c", [0, 1])}
    fmin(objective, space, algo=partial(tpe.suggest, n_startup_jobs=5),
         max_evals=int(max_evals), trials_save_file=db,
         rstate=np.random.default_rng(int(seed)), show_progressbar=False)
    print("finished")
""")


def run_script(tmp_path, db, max_evals, kill_at=-1, seed=0, pause=0.0,
               kill_after_done=None, deadline=120):
    """Run KILL_SCRIPT; with kill_after_done=N, SIGKILL it from here once
    the store holds N DONE trials (whenever that happens)."""
    script = tmp_path / "run_fmin.py"
    if not script.exists():
        script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), db, str(max_evals), str(kill_at),
         str(seed), str(pause)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    if kill_after_done is not None:
        end = time.monotonic() + deadline
        while proc.poll() is None and time.monotonic() < end:
            if os.path.exists(db) and n_done(db) >= kill_after_done:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
    out, err = proc.communicate(timeout=deadline)
    return proc.returncode, out.decode(), err.decode()


def n_done(db):
    try:
        return db_rows(db, "SELECT count(*) FROM trials WHERE state = 2")[0][0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def done_losses(db):
    return dict(db_rows(db, "SELECT id, loss FROM trials WHERE state = 2"))


@needs_tpe
def test_resume_after_kill_9(tmp_path):
    db = str(tmp_path / "run.db")
    max_evals = 40
    seen = {}
    # -- killed inside the objective (a RUNNING trial), then from here at
    # whatever moment the store holds a few more finished trials (with
    # pause=0 the kill lands anywhere in fmin's loop)
    for cycle, (kill_at, extra, pause) in enumerate(
            [(3, None, 0.01), (1, None, 0.01), (6, None, 0.01),
             (-1, 4, 0.01), (-1, 3, 0.0), (-1, 3, 0.0)]):
        before = n_done(db)
        kill_after = None if extra is None else before + extra
        rc, out, err = run_script(tmp_path, db, max_evals, kill_at=kill_at,
                                  seed=cycle, pause=pause,
                                  kill_after_done=kill_after)
        assert rc in (-signal.SIGKILL, 0), err
        if kill_at > 0:
            assert rc == -signal.SIGKILL, err
            assert n_done(db) == before + kill_at - 1
        now = done_losses(db)
        assert all(now.get(i) == loss for i, loss in seen.items())
        seen = now
    rc, out, err = run_script(tmp_path, db, max_evals, seed=9)
    assert rc == 0 and "finished" in out, err

    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    counts = dict(db_rows(db, "SELECT state, count(*) FROM trials"
                          " GROUP BY state"))
    assert counts[JOB_STATE_DONE] == max_evals
    assert JOB_STATE_NEW not in counts and JOB_STATE_RUNNING not in counts
    assert counts.get(JOB_STATE_CANCEL, 0) >= 3  # the trials killed inside
    [(n, n_distinct)] = db_rows(db, "SELECT count(*), count(DISTINCT id)"
                                " FROM trials")
    assert n == n_distinct
    lost = db_rows(db, "SELECT error FROM trials WHERE state = 4")
    assert all(e.startswith("lost: its owner") for (e,) in lost)
    final = done_losses(db)
    assert all(final[i] == loss for i, loss in seen.items())
    for params, loss in db_rows(db, "SELECT params, loss FROM trials"
                                " WHERE state = 2"):
        p = json.loads(params)
        assert loss == pytest.approx((p["x"] - 1) ** 2 + p["c"], abs=0)

    t = StoreTrials(db)
    assert len(t) == max_evals and len(set(t.tids)) == max_evals
    assert all(d["state"] == JOB_STATE_DONE for d in t.trials)
    assert t.losses() == [final[i] for i in t.tids]
    assert sum(d["state"] == JOB_STATE_CANCEL for d in t._dynamic_trials) == \
        counts[JOB_STATE_CANCEL]
    t.close()


@needs_tpe
def test_lost_trials_rerun_only_when_asked(tmp_path):
    db = str(tmp_path / "run.db")
    rc, _, err = run_script(tmp_path, db, 5, kill_at=2)
    assert rc == -signal.SIGKILL, err
    [(lost_id, params)] = db_rows(db, "SELECT id, params FROM trials"
                                  " WHERE state = 1")
    t = StoreTrials(db)  # finds the owner gone: lost
    lost = [d for d in t._dynamic_trials if d["tid"] == lost_id][0]
    assert lost["state"] == JOB_STATE_CANCEL and len(t) == 1
    assert lost["misc"]["error"][1].startswith("lost: its owner (pid")
    t.close()

    t = StoreTrials(db, retry_lost=True)
    assert len(t) == 2 and t.trials[1]["tid"] == lost_id
    assert t.trials[1]["state"] == JOB_STATE_NEW
    assert "error" not in t.trials[1]["misc"]
    fmin(loss_of, SPACE, algo=rand.suggest, max_evals=5, trials=t,
         rstate=np.random.default_rng(0), show_progressbar=False)
    t.close()
    rows = db_rows(db, "SELECT id, state, params, attempts FROM trials"
                   " ORDER BY id")
    assert [r[1] for r in rows] == [JOB_STATE_DONE] * 5
    assert rows[lost_id][2] == params and rows[lost_id][3] == 2


# ------------------------------------------------------------------ CLI


@pytest.fixture
def cli():
    path = find_cli()
    if path is None:
        pytest.skip("no parzen binary (cmake --build a build dir, or set "
                    "PARZEN_CLI); not on ALLOWED_SKIPS: fails the run")
    return path


def test_cli_reads_a_store_trials_file(tmp_path, cli):
    db = str(tmp_path / "py.db")
    t = StoreTrials(db, study="py")
    fmin(rich_objective, SPACE, algo=rand.suggest, max_evals=12, trials=t,
         rstate=np.random.default_rng(1), catch_eval_exceptions=True,
         show_progressbar=False)
    t.close()
    run = partial(subprocess.run, capture_output=True, text=True, timeout=60)
    res = run([cli, "best", "--store", db, "--study", "py"])
    assert res.returncode == 0, res.stderr
    best = json.loads(res.stdout)
    assert best["id"] == t.best_trial["tid"]
    assert best["loss"] == t.best_trial["result"]["loss"]
    assert best["params"] == {k: v[0] for k, v in
                              t.best_trial["misc"]["vals"].items() if v}
    for args in (["show"], ["export", "--format", "jsonl"], ["status"],
                 ["show", "--trial", "0"]):
        res = run([cli] + args + ["--store", db, "--study", "py"])
        assert res.returncode == 0, (args, res.stderr)
    lines = run([cli, "export", "--format", "jsonl", "--store", db,
                 "--study", "py"]).stdout.splitlines()
    assert len(lines) == len(t._dynamic_trials)
    assert all(DOC_KEY in json.loads(line)["result"] for line in lines)


def test_store_trials_reads_a_cli_study(tmp_path, cli):
    db = str(tmp_path / "cli.db")
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"x": {"hp": "uniform", "low": 0, "high": 1},
                                 "k": {"hp": "choice", "options": [0, 1]}}))
    script = ("import json, sys\n"
              "p = json.load(sys.stdin)\n"
              "if p['k'] == 1 and p['x'] > 0.8: sys.exit(3)\n"
              "print(json.dumps({'loss': p['x'], 'acc': 1 - p['x']}))\n")
    res = subprocess.run(
        [cli, "run", str(space), "--max-evals", "8", "--seed", "3",
         "--store", db, "--study", "cli", "--quiet", "--", sys.executable,
         "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    t = StoreTrials(db, study="cli")
    done = [d for d in t.trials if d["state"] == JOB_STATE_DONE]
    assert len(done) + sum(d["state"] == JOB_STATE_ERROR
                           for d in t._dynamic_trials) == 8
    for d in done:
        r = d["result"]
        assert r["status"] == "ok" and r["acc"] == pytest.approx(1 - r["loss"])
        assert r["loss"] == d["misc"]["vals"]["x"][0]
    for d in t._dynamic_trials:
        if d["state"] == JOB_STATE_ERROR:
            assert "exit status 3" in d["misc"]["error"][1]
    t.close()
