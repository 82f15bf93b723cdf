"""Compiling pyll spaces into C spaces (parzen._space)."""

import math

import numpy as np
import pytest

from parzen import Trials, fmin, hp, rand
from parzen._space import CompiledSpace
from parzen.exceptions import (
    BadSearchSpace,
    DuplicateLabel,
    InvalidSearchSpace,
    ParzenError,
    SearchSpaceError,
)
from parzen.pyll import as_apply, scope


def compile_(space):
    return CompiledSpace(as_apply(space))


def params(cs):
    return {p.label: cs.c_space.param(p.index) for p in cs.params}


def test_flat_space():
    cs = compile_({"x": hp.uniform("x", -5, 5), "n": hp.normal("n", 1, 2),
                   "q": hp.qloguniform("q", 0, 3, 2),
                   "r": hp.randint("r", 3, 7), "u": hp.randint("u", 4)})
    ps = params(cs)
    assert ps["x"]["dist"] == "uniform" and ps["x"]["high"] == 5.0
    assert ps["n"]["mu"] == 1.0 and ps["n"]["sigma"] == 2.0
    assert ps["q"]["dist"] == "qloguniform" and ps["q"]["q"] == 2.0
    assert (ps["r"]["low"], ps["r"]["high"]) == (3.0, 7.0)
    assert (ps["u"]["low"], ps["u"]["high"]) == (0.0, 4.0)
    assert all(p["parent"] is None for p in ps.values())
    assert cs.exact
    assert cs.labels_sorted == ["n", "q", "r", "u", "x"]


def test_conditions_nested():
    space = hp.choice("m", [
        {"t": "a", "c": hp.uniform("c", 0, 1)},
        {"t": "b", "k": hp.choice("k", [hp.normal("k0", 0, 1),
                                         hp.normal("k1", 0, 1)])},
    ])
    cs = compile_(space)
    ps = params(cs)
    idx = {p.label: p.index for p in cs.params}
    assert ps["m"]["dist"] == "choice" and ps["m"]["n_options"] == 2
    assert (ps["c"]["parent"], ps["c"]["option"]) == (idx["m"], 0)
    assert (ps["k"]["parent"], ps["k"]["option"]) == (idx["m"], 1)
    assert (ps["k1"]["parent"], ps["k1"]["option"]) == (idx["k"], 1)
    assert cs.exact
    # -- parents precede children
    for p in cs.params:
        par = ps[p.label]["parent"]
        assert par is None or par < p.index


def test_pchoice_probs_and_normalisation():
    cs = compile_(hp.pchoice("p", [(0.33, "a"), (0.33, "b"), (0.33, "c")]))
    probs = params(cs)["p"]["probs"]
    assert math.isclose(sum(probs), 1.0) and math.isclose(probs[0], 1 / 3)


def test_duplicate_label():
    with pytest.raises(DuplicateLabel):
        compile_([hp.uniform("x", 0, 1), hp.uniform("x", 0, 2)])


def test_same_node_in_two_branches_is_inexact():
    z = hp.uniform("z", 0, 1)
    space = hp.choice("a", [z + 1, z - 1, 5])
    cs = compile_(space)
    assert not cs.exact
    assert params(cs)["z"]["parent"] is None
    assert cs.values_to_point((2.0, 0.5)) == {"a": 2}
    assert cs.values_to_point((0.0, 0.5)) == {"a": 0, "z": 0.5}
    t = Trials()
    fmin(lambda v: v, space, algo=rand.suggest, max_evals=30, trials=t,
         rstate=np.random.default_rng(0), show_progressbar=False)
    for d in t.trials:
        a = d["misc"]["vals"]["a"][0]
        assert bool(d["misc"]["idxs"]["z"]) == (a != 2)


def test_opaque_switch_index():
    x = hp.randint("i", 3)
    space = scope.switch(x + 0, hp.uniform("p", 0, 1), hp.uniform("q", 0, 1),
                         7)
    cs = compile_(space)
    assert not cs.exact
    assert cs.values_to_point((1.0, 0.5, 0.5)) == {"i": 1, "q": 0.5}


def test_constant_expression_arguments_are_folded():
    cs = compile_(hp.uniform("x", as_apply(1.0) * 2, scope.exp(1.0) + 2))
    p = params(cs)["x"]
    assert p["low"] == 2.0 and math.isclose(p["high"], math.e + 2)
    cs = compile_(hp.uniform("y", np.float32(0.5), np.int64(3)))
    assert params(cs)["y"]["high"] == 3.0


def test_dependent_arguments_raise_naming_label():
    x = hp.uniform("x", 1, 2)
    with pytest.raises(InvalidSearchSpace, match="'y'.*'high'"):
        compile_({"x": x, "y": hp.uniform("y", 0, x)})


@pytest.mark.parametrize("space,label", [
    (hp.uniform("deg", 0, 0), "deg"),
    (hp.uniform("rev", 5, 0), "rev"),
    (hp.normal("sig", 0, -1), "sig"),
    (hp.quniform("qq", 0, 1, 0), "qq"),
    (hp.randint("ri", 3, 3), "ri"),
    (hp.choice("empty", []), "empty"),
])
def test_invalid_spaces_name_the_label(space, label):
    with pytest.raises(InvalidSearchSpace) as ei:
        compile_(space)
    assert label in str(ei.value)
    err = ei.value
    assert isinstance(err, BadSearchSpace) and isinstance(err, ValueError)
    assert isinstance(err, SearchSpaceError) and isinstance(err, ParzenError)


def test_invalid_space_through_fmin():
    with pytest.raises(InvalidSearchSpace, match="'bad'"):
        fmin(lambda p: 0, hp.uniform("bad", 0, 0), algo=rand.suggest,
             max_evals=1, show_progressbar=False)


def test_unsupported_distribution():
    space = scope.hyperopt_param("w", scope.randint_via_categorical([1, 2]))
    with pytest.raises(InvalidSearchSpace, match="'w'"):
        compile_(space)


def test_non_literal_label():
    with pytest.raises(InvalidSearchSpace):
        compile_(scope.hyperopt_param(scope.identity("x"),
                                      scope.uniform(0, 1)))


def test_vals_roundtrip():
    cs = compile_({"c": hp.choice("c", [0, hp.uniform("u", 0, 1)]),
                   "r": hp.randint("r", 2, 5)})
    vals = {"c": [1], "u": [0.5], "r": [3]}
    v = cs.vals_to_values(vals)
    assert cs.values_to_point(v) == {"c": 1, "u": 0.5, "r": 3}
    v = cs.vals_to_values({"c": [0], "u": [], "r": [2]})
    assert cs.values_to_point(v) == {"c": 0, "r": 2}


def test_bytes_label():
    cs = compile_({"a": hp.uniform(b"bx", 0, 1)})
    assert cs.c_space.labels() == ["bx"]
    assert list(cs.values_to_point((0.5,))) == [b"bx"]


def test_large_space_compiles_fast():
    space = {"p%d" % i: hp.uniform("p%d" % i, 0, 1) for i in range(2000)}
    cs = compile_(space)
    assert len(cs) == 2000
