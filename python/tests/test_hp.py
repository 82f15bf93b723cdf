"""hp.* constructors, validation and prior sampling (spec §5.1-5.2;
hyperopt's test_pchoice / test_randint / test_pyll_utils sampling parts)."""

import collections

import numpy as np
import pytest

from parzen import hp
from parzen.pyll import Literal, rec_eval
from parzen.pyll.stochastic import sample


def test_graph_shapes():
    u = hp.uniform("u", 0, 1)
    assert u.name == "float"
    hpn = u.pos_args[0]
    assert hpn.name == "hyperopt_param"
    assert hpn.pos_args[0].obj == "u" and hpn.pos_args[1].name == "uniform"
    c = hp.choice("c", [1, 2])
    assert c.name == "switch" and c.pos_args[0].pos_args[1].name == "randint"
    r = hp.randint("r", 5)
    assert r.name == "int" and r.pos_args[0].pos_args[1].name == "randint"
    ui = hp.uniformint("ui", 1, 5)
    assert ui.name == "int" and ui.pos_args[0].name == "float"
    q = ui.pos_args[0].pos_args[0].pos_args[1]
    assert q.name == "quniform" and dict(q.named_args)["q"].obj == 1.0
    p = hp.pchoice("p", [(0.3, "a"), (0.7, "b")])
    assert p.name == "switch"
    assert p.pos_args[0].pos_args[1].name == "categorical"


@pytest.mark.parametrize("fn,args", [
    (hp.uniform, (0, 1)), (hp.quniform, (0, 10, 2)),
    (hp.loguniform, (-1, 1)), (hp.qloguniform, (0, 3, 2)),
    (hp.normal, (0, 1)), (hp.qnormal, (0, 5, 2)),
    (hp.lognormal, (0, 1)), (hp.qlognormal, (0, 1, 1)),
    (hp.randint, (5,)), (hp.randint, (3, 9)), (hp.uniformint, (1, 4)),
])
def test_keyword_and_positional_equivalent(fn, args):
    names = {hp.normal: ("mu", "sigma"), hp.qnormal: ("mu", "sigma", "q"),
             hp.lognormal: ("mu", "sigma"),
             hp.qlognormal: ("mu", "sigma", "q"),
             hp.randint: ("low", "high")}.get(fn, ("low", "high", "q"))
    kw = dict(zip(names, args))
    a = sample(fn("x", *args), np.random.default_rng(0))
    b = sample(fn("x", **kw), np.random.default_rng(0))
    assert a == b


def test_label_must_be_string():
    for fn in (hp.uniform, hp.normal, hp.randint, hp.choice):
        with pytest.raises(TypeError, match="require string label"):
            fn(1, 0, 1) if fn is not hp.choice else fn(1, [1])
    assert hp.uniform(Literal("x"), 0, 1) is not None
    assert hp.uniform(b"x", 0, 1) is not None


@pytest.mark.parametrize("fn", [hp.uniform, hp.loguniform, hp.uniformint])
def test_range_validation(fn):
    with pytest.raises(ValueError) as ei:
        fn("x", 1, -1)
    assert str(ei.value) == ("low should be less than high: 1 is not smaller "
                             "than -1")
    with pytest.raises(ValueError, match="3 is not smaller than 3"):
        fn("x", low=3, high=3)
    # -- upstream skips the check when a bound is 0 (falsy)
    fn("x", 0, 0)
    fn("x", 5, 0)


def test_q_range_validation():
    with pytest.raises(ValueError, match="low should be less than high"):
        hp.quniform("x", 2, 1, 1)
    with pytest.raises(ValueError, match="low should be less than high"):
        hp.qloguniform("x", 2, 1, 1)


def test_sample_types_and_supports():
    rng = np.random.default_rng(0)
    space = {
        "u": hp.uniform("u", -2, 2), "q": hp.quniform("q", 0, 10, 4),
        "lu": hp.loguniform("lu", -1, 1), "n": hp.normal("n", 0, 1),
        "r": hp.randint("r", 3, 7), "ui": hp.uniformint("ui", 1, 3),
        "c": hp.choice("c", ["a", "b"]),
    }
    for _ in range(200):
        p = sample(space, rng)
        assert -2 <= p["u"] < 2 and isinstance(p["u"], float)
        assert p["q"] in (0.0, 4.0, 8.0)  # -- round half to even: never 12
        assert np.exp(-1) <= p["lu"] <= np.exp(1)
        assert 3 <= p["r"] < 7 and type(p["r"]) is int
        assert p["ui"] in (1, 2, 3) and type(p["ui"]) is int
        assert p["c"] in ("a", "b")


def test_uniformint_end_points_half_mass():
    rng = np.random.default_rng(1)
    counts = collections.Counter(
        sample(hp.uniformint("x", 1, 3), rng) for _ in range(3000))
    assert counts[2] > 1.5 * counts[1] and counts[2] > 1.5 * counts[3]


class TestRandint:
    def test_upper(self):
        rng = np.random.default_rng(0)
        vals = [sample(hp.randint("a", 5), rng) for _ in range(1000)]
        counts = np.bincount(vals)
        assert len(counts) == 5 and counts.min() > 150

    def test_low_high(self):
        rng = np.random.default_rng(0)
        vals = [sample(hp.randint("a", 5, 15), rng) for _ in range(1000)]
        assert min(vals) == 5 and max(vals) == 14


class TestPChoiceSampling:
    def test_basic(self):
        space = hp.pchoice("naive_type",
                           [(0.14, "gaussian"), (0.02, "multinomial"),
                            (0.84, "bernoulli")])
        rng = np.random.default_rng(123)
        c = collections.Counter(sample(space, rng) for _ in range(1000))
        assert abs(c["gaussian"] / 1000 - 0.14) < 0.04
        assert abs(c["bernoulli"] / 1000 - 0.84) < 0.04

    def test_nested(self):
        space = hp.pchoice("a", [
            (0.1, hp.choice("b", ["x", "y"])),
            (0.9, hp.pchoice("c", [(0.5, "z"), (0.5, "w")]))])
        rng = np.random.default_rng(0)
        c = collections.Counter(sample(space, rng) for _ in range(2000))
        assert c["x"] + c["y"] < 0.15 * 2000
        assert abs(c["z"] - c["w"]) < 0.1 * 2000


def test_nested_space_choice_of_dicts():
    space = hp.choice("model", [
        {"type": "svm", "C": hp.lognormal("svm_C", 0, 1)},
        {"type": "tree", "depth": hp.randint("depth", 1, 10)},
    ])
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = sample(space, rng)
        seen.add(p["type"])
        assert set(p) in ({"type", "C"}, {"type", "depth"})
    assert seen == {"svm", "tree"}


def test_scope_int_of_quniform():
    from parzen.pyll import scope

    node = scope.int(hp.quniform("n", 1, 10, 1))
    v = sample(node, np.random.default_rng(0))
    assert type(v) is int and 1 <= v <= 10
    assert rec_eval(node, memo={node.pos_args[0].pos_args[0]: 4.0}) == 4
