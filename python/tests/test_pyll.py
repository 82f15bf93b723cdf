"""The pyll graph model (hyperopt's pyll/tests, spec §5.3, §5.6)."""

import pickle

import numpy as np
import pytest

from parzen import hp, pyll
from parzen.pyll import (
    Apply,
    GarbageCollected,
    Literal,
    as_apply,
    clone,
    clone_merge,
    dfs,
    rec_eval,
    scope,
    toposort,
)
from parzen.pyll.stochastic import sample


def test_literal():
    lit = Literal(3)
    assert lit.obj == 3 and lit.name == "literal"
    assert rec_eval(lit) == 3
    assert Literal([1, 2]).o_len == 2
    assert "Literal{3}" in str(lit)


def test_as_apply_conversions():
    assert rec_eval(as_apply((1, 2))) == (1, 2)
    assert as_apply((1, 2)).o_len == 2
    # -- a list evaluates to a tuple
    assert rec_eval(as_apply([1, 2])) == (1, 2)
    d = as_apply({"b": 1, "a": 2})
    assert d.name == "dict" and [k for k, _ in d.named_args] == ["a", "b"]
    assert rec_eval(d) == {"a": 2, "b": 1}
    assert rec_eval(as_apply({1: "x", 2: "y"})) == {1: "x", 2: "y"}
    with pytest.raises(TypeError):
        as_apply({1: "x", "a": "y"})
    a = Apply("pos_args", [], {})
    assert as_apply(a) is a


def test_dfs_and_toposort():
    x = Literal(1)
    y = scope.add(x, 2)
    z = scope.mul(y, y)
    order = dfs(z)
    assert order[-1] is z and order.index(x) < order.index(y)
    assert len(order) == len({id(n) for n in order}) == 4
    assert toposort(z)[-1] is z


def test_cycle_detected():
    a = scope.add(1, 2)
    b = scope.add(a, 1)
    a.pos_args[0] = b
    with pytest.raises(ValueError):
        toposort(b)


def test_o_len_unpacking():
    a, b = as_apply((1, 2))
    assert rec_eval(a) == 1 and rec_eval(b) == 2
    with pytest.raises(TypeError):
        len(scope.add(1, 2))


def test_arithmetic_and_comparisons():
    x = as_apply(6)
    assert rec_eval(x + 1) == 7 and rec_eval(1 + x) == 7
    assert rec_eval(x - 1) == 5 and rec_eval(10 - x) == 4
    assert rec_eval(x * 2) == 12 and rec_eval(2 * x) == 12
    assert rec_eval(x / 4) == 1.5 and rec_eval(3 / x) == 0.5
    assert rec_eval(x // 4) == 1 and rec_eval(13 // x) == 2
    assert rec_eval(x ** 2) == 36 and rec_eval(2 ** x) == 64
    assert rec_eval(-x) == -6
    assert rec_eval(x > 5) and rec_eval(x >= 6) and not rec_eval(x < 6)
    assert rec_eval(x <= 6)
    assert rec_eval(as_apply([1, 2, 3])[1]) == 2
    assert rec_eval(scope.eq(x, 6)) is True
    assert (x == x) is True and (x == as_apply(6)) is False


def test_builtin_ops():
    assert rec_eval(scope.int(3.7)) == 3
    assert rec_eval(scope.float(3)) == 3.0
    assert rec_eval(scope.len([1, 2, 3])) == 3
    assert rec_eval(scope.max(1, 5, 2)) == 5
    assert rec_eval(scope.min(1, 5, 2)) == 1
    assert list(rec_eval(scope.range(3))) == [0, 1, 2]
    assert rec_eval(scope.getattr(1 + 2j, "imag")) == 2.0
    assert rec_eval(scope.exp(0)) == 1.0
    assert rec_eval(scope.log(1)) == 0.0
    assert rec_eval(scope.sqrt(4)) == 2.0
    assert rec_eval(scope.pow(2, 3)) == 8
    assert rec_eval(scope.sum([1, 2])) == 3
    assert rec_eval(scope.str_join("-", ["a", "b"])) == "a-b"
    assert list(rec_eval(scope.bincount([0, 1, 1], minlength=3))) == [1, 2, 0]
    assert rec_eval(scope.call_method_pure("a,b", "split", ",")) == ["a", "b"]
    assert rec_eval(scope.call(lambda a, b: a + b, (1, 2))) == 3
    assert rec_eval(scope.callpipe1([lambda v: v + 1, lambda v: v * 2],
                                    1)) == 4
    assert rec_eval(scope.identity(5)) == 5
    assert rec_eval(scope.repeat(2, "a")) == ["a", "a"]
    assert rec_eval(scope.minimum(1, 2)) == 1


def test_switch_is_lazy():
    boom = scope.Raise(ValueError, "must not run")
    assert rec_eval(scope.switch(0, 1, boom)) == 1
    with pytest.raises(ValueError):
        rec_eval(scope.switch(1, 1, boom), print_node_on_error=False)


@pytest.mark.parametrize("idx", [1, np.int64(1), np.array(1), 1.0, True])
def test_switch_accepts_integral_values(idx):
    # -- spec §10.1: numpy ints, 0-d arrays and integral floats select too
    assert rec_eval(scope.switch(Literal(idx), "a", "b")) == "b"


@pytest.mark.parametrize("idx", [1.5, -1, "a"])
def test_switch_rejects_bad_index(idx):
    with pytest.raises((TypeError, ValueError)):
        rec_eval(scope.switch(Literal(idx), "a", "b"),
                 print_node_on_error=False)


def test_kwswitch():
    node = scope.kwswitch("b", a=scope.Raise(ValueError), b="B", c="C")
    assert rec_eval(node) == "B"


def test_memo_is_used_and_not_modified():
    x = scope.add(1, 2)
    y = scope.mul(x, 10)
    memo = {x: 5}
    assert rec_eval(y, memo=memo) == 50
    assert memo == {x: 5}


def test_define_custom_op():
    @scope.define
    def parzen_test_double(v):
        return 2 * v

    try:
        assert rec_eval(scope.parzen_test_double(4)) == 8
        assert parzen_test_double(3) == 6  # -- still a plain function
        with pytest.raises(ValueError):
            scope.define(parzen_test_double)
    finally:
        scope.undefine(parzen_test_double)

    @scope.define_info(o_len=2)
    def parzen_test_pair(v):
        return v, v + 1

    try:
        a, b = scope.parzen_test_pair(1)
        assert rec_eval(b) == 2
    finally:
        scope.undefine(parzen_test_pair)


def test_apply_returning_apply_is_evaluated():
    @scope.define
    def parzen_test_lazy(v):
        return scope.add(v, 1)

    try:
        assert rec_eval(scope.parzen_test_lazy(1)) == 2
    finally:
        scope.undefine(parzen_test_lazy)


def test_arg_binding():
    node = hp.uniform("x", 0, high=3).pos_args[0]
    assert node.name == "hyperopt_param"
    assert node.arg["label"].obj == "x"
    dist = node.arg["obj"]
    assert dist.arg["low"].obj == 0 and dist.arg["high"].obj == 3
    assert dist.arg["rng"].obj is None


def test_clone_and_clone_merge():
    x = scope.add(1, 2)
    y = scope.mul(x, x)
    c = clone(y)
    assert c is not y and rec_eval(c) == 9
    assert c.pos_args[0] is c.pos_args[1]
    a = scope.add(1, 2)
    b = scope.add(1, 2)
    z = scope.mul(a, b)
    m = clone_merge(z, merge_literals=True)
    assert m.pos_args[0] is m.pos_args[1] and rec_eval(m) == 9


def test_replace_input_and_set_kwarg():
    a, b = Literal(1), Literal(2)
    n = scope.add(a, a)
    assert n.replace_input(a, b) == [0, 1]
    assert rec_eval(n) == 4
    d = scope.uniform(0, 1)
    d.set_kwarg("rng", np.random.default_rng(0))
    assert 0 <= rec_eval(d) < 1


def test_infinite_loop_guard():
    x = as_apply(0)
    for _ in range(50):
        x = scope.add(x, 1)
    with pytest.raises(RuntimeError, match="infinite loop"):
        rec_eval(x, max_program_len=10)


def test_deep_graph_no_recursion_error():
    x = as_apply(0)
    for _ in range(5000):
        x = x + 1
    assert rec_eval(x) == 5000


def test_error_banner(capsys):
    with pytest.raises(ZeroDivisionError):
        rec_eval(scope.truediv(1, 0))
    assert "ERROR in rec_eval" in capsys.readouterr().out
    with pytest.raises(ZeroDivisionError):
        rec_eval(scope.truediv(1, 0), print_node_on_error=False)
    assert capsys.readouterr().out == ""


def test_garbage_collected_sentinel():
    assert repr(GarbageCollected) == "GarbageCollected"
    assert pickle.loads(pickle.dumps(GarbageCollected)) is GarbageCollected


def test_pickle_graph():
    space = {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", [1, 2])}
    g = pickle.loads(pickle.dumps(as_apply(space)))
    assert sorted(rec_eval(g, memo={
        n: 0 for n in dfs(g) if n.name == "hyperopt_param"}).keys()) == [
            "c", "x"]


class TestSample:
    def test_repeatable(self):
        space = {"x": hp.uniform("x", 0, 1), "y": [hp.normal("y", 0, 1), 2]}
        a = sample(space, np.random.default_rng(3))
        b = sample(space, np.random.default_rng(3))
        assert a == b and isinstance(a["y"], tuple)
        assert sample(space, np.random.default_rng(4)) != a

    def test_default_rng_and_int(self):
        assert 0 <= sample(hp.uniform("x", 0, 1)) < 1
        assert sample(hp.uniform("x", 0, 1), 5) == sample(
            hp.uniform("x", 0, 1), np.random.default_rng(5))

    def test_does_not_modify_expr(self):
        space = hp.uniform("x", 0, 1)
        sample(space, np.random.default_rng(0))
        for n in dfs(space):
            assert "rng" not in dict(n.named_args)

    def test_unlabeled_without_rng_fails(self):
        with pytest.raises(AttributeError):
            rec_eval(scope.uniform(0, 1), print_node_on_error=False)

    def test_pyll_namespace(self):
        assert pyll.stochastic.sample is sample
        assert pyll.base.scope is scope
