"""parzen.mtpe: the multivariate TPE through the suggest protocol --
options through functools.partial, conditional spaces, NaN and failed
losses, pending trials, reproducibility and a quality floor."""

import functools
import math

import numpy as np
import pytest

import parzen
from parzen import Trials, fmin, hp, mtpe, rand
from parzen import _core


def _run(algo, fn, space, n, seed=0, trials=None):
    trials = Trials() if trials is None else trials
    fmin(fn, space, algo=algo, max_evals=n, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return trials


def _sphere(p):
    return sum((v - 1.0) ** 2 for v in p.values())


SPACE4 = {"x%d" % i: hp.uniform("x%d" % i, -5, 5) for i in range(4)}


def test_exported_like_tpe():
    assert parzen.mtpe is mtpe and "mtpe" in parzen.__all__
    assert callable(mtpe.suggest)


def test_is_reproducible_for_a_seed():
    a = _run(mtpe.suggest, _sphere, SPACE4, 40, seed=3)
    b = _run(mtpe.suggest, _sphere, SPACE4, 40, seed=3)
    c = _run(mtpe.suggest, _sphere, SPACE4, 40, seed=4)
    assert a.losses() == b.losses()
    assert a.losses() != c.losses()


def test_beats_random_search_on_a_sphere():
    best = {"mtpe": [], "rand": []}
    for seed in range(6):
        best["mtpe"].append(min(_run(mtpe.suggest, _sphere, SPACE4, 80,
                                     seed).losses()))
        best["rand"].append(min(_run(rand.suggest, _sphere, SPACE4, 80,
                                     seed).losses()))
    assert np.median(best["mtpe"]) < 0.5 * np.median(best["rand"]), best


def test_options_go_through_partial():
    # -- every keyword is a C option; a bad value names it
    algo = functools.partial(mtpe.suggest, n_startup_jobs=5, gamma=0.3,
                             n_EI_candidates=8, bw_factor=0.3)
    t = _run(algo, _sphere, SPACE4, 30)
    assert len(t.trials) == 30
    bad = functools.partial(mtpe.suggest, gamma=0.0)
    with pytest.raises((ValueError, _core.InvalidArgumentError),
                       match="mtpe.gamma"):
        _run(bad, _sphere, SPACE4, 3)


def test_startup_count_is_an_option():
    # -- after n_startup_jobs trials the proposals differ from what the
    # same study would draw with a larger startup phase
    a = _run(functools.partial(mtpe.suggest, n_startup_jobs=10), _sphere,
             SPACE4, 25, seed=1)
    b = _run(functools.partial(mtpe.suggest, n_startup_jobs=30), _sphere,
             SPACE4, 25, seed=1)
    assert a.losses()[:10] == b.losses()[:10]
    assert a.losses()[10:] != b.losses()[10:]


def test_exploration_phase_is_an_option():
    # -- the first explore_until trials are modelled with per-kernel gap
    # bandwidths: switched off (explore=0), or ended at the startup count,
    # the proposals are the narrow rule's; by default they differ
    narrow = _run(functools.partial(mtpe.suggest, explore=0.0), _sphere,
                  SPACE4, 25, seed=2)
    ended = _run(functools.partial(mtpe.suggest, explore_until=10), _sphere,
                 SPACE4, 25, seed=2)
    default = _run(mtpe.suggest, _sphere, SPACE4, 25, seed=2)
    assert ended.losses() == narrow.losses()
    assert default.losses()[:10] == narrow.losses()[:10]
    assert default.losses()[10:] != narrow.losses()[10:]
    bad = functools.partial(mtpe.suggest, explore=2.0)
    with pytest.raises((ValueError, _core.InvalidArgumentError),
                       match="mtpe.explore"):
        _run(bad, _sphere, SPACE4, 12)


def test_nested_conditional_space():
    space = hp.choice("model", [
        {"kind": "a", "x": hp.uniform("xa", 0, 1)},
        {"kind": "b", "y": hp.loguniform("yb", -3, 0),
         "sub": hp.choice("sub", [
             {"z": hp.quniform("z", 0, 10, 1)},
             {"w": hp.normal("w", 0, 1)}])}])

    def fn(p):
        if p["kind"] == "a":
            return 2.0 + p["x"]
        s = p["sub"]
        return abs(math.log(p["y"]) + 1.0) + (abs(s["z"] - 3) if "z" in s
                                                else 1.0 + abs(s["w"]))

    t = _run(mtpe.suggest, fn, space, 60, seed=2)
    kinds = t.vals["model"][-30:]
    assert sum(1 for k in kinds if k == 1) >= 20, kinds
    for doc in t.trials:
        v = doc["misc"]["vals"]
        if v["model"] == [0]:
            assert v["xa"] and not v["yb"] and not v["sub"]
        else:
            assert v["yb"] and not v["xa"] and len(v["sub"]) == 1
            assert bool(v["z"]) == (v["sub"] == [0])
            if v["z"]:
                assert v["z"][0] == round(v["z"][0])
    assert min(t.losses()) < 1.0


def test_nan_and_failed_losses_are_the_worst():
    # -- the left half of the box returns NaN or fails: mtpe must keep
    # proposing in the right half after its startup
    def fn(p):
        if p["x"] < 0:
            return float("nan") if p["x"] < -2.5 else {"status": "fail"}
        return {"loss": (p["x"] - 3) ** 2, "status": "ok"}

    t = _run(mtpe.suggest, fn, {"x": hp.uniform("x", -5, 5)}, 60, seed=5)
    late = [v for v in t.vals["x"][30:]]
    assert sum(1 for v in late if v >= 0) >= 24, late


def _with_running(hide):
    """A proposal before and after one RUNNING trial joins the Trials."""
    from parzen.base import Domain, JOB_STATE_RUNNING

    algo = functools.partial(mtpe.suggest, hide_pending=hide)
    space = {"x": hp.uniform("x", -5, 5)}
    t = _run(algo, _sphere, space, 20, seed=6)
    domain = Domain(_sphere, space)
    before = algo([100], domain, t, 9)[0]["misc"]["vals"]["x"][0]
    docs = algo([101], domain, t, 10)
    t.insert_trial_docs(docs)
    t.refresh()
    t.trials[-1]["state"] = JOB_STATE_RUNNING
    t.refresh()
    after = algo([102], domain, t, 9)[0]["misc"]["vals"]["x"][0]
    return before, after


def test_pending_trials_hidden_by_default_or_bad_observations():
    before, after = _with_running(hide=1)  # the default: invisible
    assert after == before
    before, after = _with_running(hide=0)  # a bad observation
    assert -5 <= after < 5 and after != before


MIXED = {"x": hp.uniform("x", -5, 5), "c": hp.choice("c", [0, 1, 2])}


def _mixed_loss(p):
    return (p["x"] - 1.0) ** 2 + (p["c"] != 2)


def test_recency_weights_are_an_option():
    # -- forget=25: once a set (good or bad) has more than 25 trials its
    # older kernels weigh less. The bad set passes 25 at the ask for trial
    # 29 (29 - ceil(2.9) = 26): until then the proposals are forget=0's,
    # after it they differ (here: the old trials' categories count less)
    for seed in range(3):
        flat = _run(functools.partial(mtpe.suggest, forget=0), _mixed_loss,
                    MIXED, 60, seed=seed)
        default = _run(mtpe.suggest, _mixed_loss, MIXED, 60, seed=seed)
        assert default.losses()[:29] == flat.losses()[:29]
        assert default.losses()[29:] != flat.losses()[29:]
    bad = functools.partial(mtpe.suggest, forget=-1)
    with pytest.raises((ValueError, _core.InvalidArgumentError),
                       match="mtpe.forget"):
        _run(bad, _sphere, SPACE4, 12)


GRID = {"a": hp.quniform("a", 0, 20, 1), "b": hp.choice("b", [0, 1, 2])}


def _grid_loss(p):
    return abs(p["a"] - 5) + 3.0 * (p["b"] != 1)


def _repeats(trials):
    """Trials after the 10 prior draws that repeat an earlier point."""
    seen, n = set(), 0
    for i, t in enumerate(trials.trials):
        key = tuple(sorted((k, v[0]) for k, v in t["misc"]["vals"].items()))
        n += i >= 10 and key in seen
        seen.add(key)
    return n


def test_no_repeats_of_evaluated_grid_points():
    # -- a space that is one grid (63 points): by default an ask does not
    # re-propose a point some trial has when one of its 24 candidates is
    # new (it still may when none is); with dedup=0 the narrow kernels
    # mostly re-propose the best points
    for seed in range(3):
        on = _run(mtpe.suggest, _grid_loss, GRID, 50, seed=seed)
        off = _run(functools.partial(mtpe.suggest, dedup=0), _grid_loss,
                   GRID, 50, seed=seed)
        assert off.losses()[:10] == on.losses()[:10]  # the prior draws
        assert _repeats(on) <= 5 and _repeats(off) >= 15, (
            seed, _repeats(on), _repeats(off))
