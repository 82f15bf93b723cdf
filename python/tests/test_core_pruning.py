"""The C pruners through _core and the Mirror (parzen._engine): the
Study's set_pruner / report / should_prune / reports, the PRUNED state,
and how a pruned document is mirrored (docs/pruning.md)."""
import math

import pytest

from parzen import Domain, Trials, _core, _engine, hp, rand
from parzen.base import JOB_STATE_DONE, JOB_STATE_RUNNING

SPACE = {"x": hp.uniform("x", 0, 1)}


def study():
    d = Domain(lambda p: p["x"], SPACE)
    return _engine.new_study(d.compiled, "tpe")


def test_pruned_state_constant():
    assert _core.STATE_PRUNED == 5


def test_report_should_prune_and_reports():
    st = study()
    st.set_pruner("sha", '{"reduction_factor": 3}')
    assert st.pruner == "sha"
    for tid in range(3):
        st.add(tid, (0.5,), JOB_STATE_RUNNING, math.inf)
    assert st.report(0, 1, 5.0) is True
    assert st.should_prune(0) is False
    assert st.report(1, 1, 6.0) is True
    assert st.should_prune(1) is True  # rung 0 [5 6]: only the best goes on
    assert st.reports(1) == [(1, 6.0)]
    assert st.report(2, 1, float("nan")) is False  # not stored
    assert st.reports(2) == []
    assert st.should_prune(2) is False
    st.tell(1, _core.STATE_PRUNED, 6.0)
    assert st.count(_core.STATE_PRUNED) == 1
    assert st.trial(1)[1] == 5


def test_errors_name_the_trial_steps_and_keys():
    st = study()
    st.add(4, (0.5,), JOB_STATE_RUNNING, math.inf)
    st.report(4, 3, 1.0)
    with pytest.raises(_core.InvalidArgumentError,
                       match="trial 4: step 2 reported after step 3"):
        st.report(4, 2, 1.0)
    with pytest.raises(_core.NotFoundError):
        st.report(9, 1, 1.0)
    with pytest.raises(_core.InvalidArgumentError, match="'n_startup'"):
        st.set_pruner("median", '{"n_startup": 3}')
    with pytest.raises(_core.InvalidArgumentError, match="unknown pruner"):
        st.set_pruner("asha")
    with pytest.raises(_core.InvalidArgumentError,
                       match="'worst' .*rank, bad, ignore, budget"):
        st.set_pruned_rule("worst")
    st.set_pruned_rule("budget")
    st.set_pruned_rule("bad")


def _trials_with(n, seed=0):
    d = Domain(lambda p: p["x"], SPACE)
    t = Trials()
    docs = rand.suggest(list(range(n)), d, t, seed)
    t.insert_trial_docs(docs)
    t.refresh()
    return d, t


def test_mirror_reports_live_and_prunes():
    d, t = _trials_with(3)
    m = _engine.pruner_for(d, t, "sha", {"reduction_factor": 3})
    a, b, c = t._dynamic_trials
    assert m.report(a, 1, 5.0) and not m.should_prune(a)
    assert m.report(b, 1, 6.0) and m.should_prune(b)
    assert m.last_step(b) == 1
    # the same mirror comes back for the same pruner
    assert _engine.pruner_for(d, t, "sha", {"reduction_factor": 3}) is m
    # a pruned document: DONE, result marked pruned, reports in the result
    b["state"] = JOB_STATE_DONE
    b["result"] = {"status": "ok", "loss": 6.0, "pruned": True,
                   "intermediate_values": [[1, 6.0]]}
    t.refresh()
    m.sync(t)
    cid = m.entries[id(b)].cid
    assert m.study.trial(cid)[1] == _core.STATE_PRUNED
    assert m.study.trial(cid)[2] == 6.0
    assert m.study.reports(cid) == [(1, 6.0)]  # not replayed twice


def test_another_mirror_gets_the_reports_from_the_document():
    d, t = _trials_with(2)
    a, b = t._dynamic_trials
    tpe_m = _engine.mirror_for(d, t, "tpe", ())
    b["state"] = JOB_STATE_DONE
    b["result"] = {"status": "ok", "loss": 2.0, "pruned": True,
                   "intermediate_values": {"0": 3.0, "4": 2.0}}
    t.refresh()
    tpe_m.sync(t)
    cid = tpe_m.entries[id(b)].cid
    assert tpe_m.study.trial(cid)[1:3] == (_core.STATE_PRUNED, 2.0)
    assert tpe_m.study.reports(cid) == [(0, 3.0), (4, 2.0)]
    # a fresh mirror (a resumed Trials) replays them on first sight
    fresh = _engine.Mirror(d.compiled, "anneal", ())
    fresh.sync(t)
    cid = fresh.entries[id(b)].cid
    assert fresh.study.reports(cid) == [(0, 3.0), (4, 2.0)]
    assert tpe_m.entries[id(b)].eligible()
