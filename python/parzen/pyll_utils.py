"""The ``hp.*`` constructors and their argument checks (hyperopt.pyll_utils).

Every constructor returns ``wrapper(hyperopt_param(label, dist(args...)))``;
the value stored in trials is the output of ``dist``, the objective sees it
after the wrapper (``float``/``int``/the selected choice option).
"""

from collections import namedtuple
from functools import wraps

from .pyll import Literal, as_apply, scope
from .pyll import stochastic  # noqa: F401 - registers the distributions


def validate_label(f):
    @wraps(f)
    def wrapper(label, *args, **kwargs):
        is_real_string = isinstance(label, (str, bytes))
        is_literal_string = isinstance(label, Literal) and isinstance(
            label.obj, (str, bytes))
        if not is_real_string and not is_literal_string:
            raise TypeError("require string label")
        return f(label, *args, **kwargs)

    return wrapper


def _plain_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) or (
        hasattr(x, "dtype") and getattr(x, "ndim", 1) == 0)


def validate_distribution_range(f):
    """hyperopt's check: raise only when low and high are both truthy and
    not low < high (so (0, 0) and (5, 0) pass here; the core rejects them
    when the space is compiled, naming the label)."""

    @wraps(f)
    def wrapper(label, *args, **kwargs):
        low = kwargs.get("low", args[0] if len(args) > 0 else None)
        high = kwargs.get("high", args[1] if len(args) > 1 else None)
        if _plain_number(low) and _plain_number(high):
            if low and high and not low < high:
                raise ValueError(
                    "low should be less than high: %s is not smaller than %s"
                    % (low, high))
        return f(label, *args, **kwargs)

    return wrapper


@validate_label
def hyperopt_param(label, obj):
    """A hyperparameter node: a marker around a distribution."""
    return scope.hyperopt_param(label, obj)


@validate_label
def hp_pchoice(label, p_options):
    """label: string; p_options: list of (probability, option) pairs."""
    p, options = list(zip(*p_options))
    n_options = len(options)
    ch = scope.hyperopt_param(label, scope.categorical(p, upper=n_options))
    return scope.switch(ch, *options)


@validate_label
def hp_choice(label, options):
    ch = scope.hyperopt_param(label, scope.randint(len(options)))
    return scope.switch(ch, *options)


@validate_label
def hp_randint(label, *args, **kwargs):
    return scope.int(scope.hyperopt_param(label,
                                          scope.randint(*args, **kwargs)))


@validate_label
@validate_distribution_range
def hp_uniform(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(label,
                                            scope.uniform(*args, **kwargs)))


@validate_label
@validate_distribution_range
def hp_uniformint(label, *args, **kwargs):
    kwargs["q"] = 1.0
    return scope.int(hp_quniform(label, *args, **kwargs))


@validate_label
@validate_distribution_range
def hp_quniform(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(label,
                                            scope.quniform(*args, **kwargs)))


@validate_label
@validate_distribution_range
def hp_loguniform(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(
        label, scope.loguniform(*args, **kwargs)))


@validate_label
@validate_distribution_range
def hp_qloguniform(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(
        label, scope.qloguniform(*args, **kwargs)))


@validate_label
def hp_normal(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(label,
                                            scope.normal(*args, **kwargs)))


@validate_label
def hp_qnormal(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(label,
                                            scope.qnormal(*args, **kwargs)))


@validate_label
def hp_lognormal(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(label,
                                            scope.lognormal(*args, **kwargs)))


@validate_label
def hp_qlognormal(label, *args, **kwargs):
    return scope.float(scope.hyperopt_param(
        label, scope.qlognormal(*args, **kwargs)))


# ------------------------------------------------------- expr_to_config

class Cond(namedtuple("Cond", ["name", "val", "op"])):
    """A condition on a choice: ``Cond(label, option, "=")`` holds when
    the choice ``label`` takes option index ``option``. Equal and hashable
    by (name, val, op); printed as hyperopt prints it."""

    __slots__ = ()

    def __new__(cls, name, val, op="="):
        return super().__new__(cls, name, val, op)

    def __str__(self):
        return "Cond{%s %s %s}" % (self.name, self.op, self.val)

    __repr__ = __str__


def EQ(name, val):  # noqa: N802 - hyperopt's name
    """``Cond(name, val, "=")``: the choice ``name`` takes option ``val``."""
    return Cond(name, val, "=")


def expr_to_config(expr, conditions, hps):
    """Fill ``hps`` with ``label -> {'node': dist node, 'label': label,
    'conditions': set of condition tuples}`` for every hyperparameter of
    ``expr``. A condition tuple lists the ``Cond(choice_label, option)``
    that must hold for the label to be active; when a label is active on
    every path of a choice the choice's conditions are dropped."""
    from .exceptions import DuplicateLabel

    expr = as_apply(expr)
    if conditions is None:
        conditions = ()
    _expr_to_config(expr, tuple(conditions), hps, DuplicateLabel)
    _remove_allpaths(hps, conditions)


def _expr_to_config(expr, conditions, hps, DuplicateLabel):
    stack = [(expr, conditions)]
    while stack:
        node, conds = stack.pop()
        if node.name == "switch":
            idx = node.pos_args[0]
            stack.append((idx, conds))
            if idx.name == "hyperopt_param":
                label = idx.pos_args[0].obj
                for ii, opt in enumerate(node.pos_args[1:]):
                    stack.append((opt, conds + (Cond(label, ii, "="),)))
            else:
                for opt in node.pos_args[1:]:
                    stack.append((opt, conds))
            continue
        if node.name == "hyperopt_param":
            label = node.pos_args[0].obj
            dist = node.pos_args[1]
            if label in hps:
                if hps[label]["node"] is not dist:
                    raise DuplicateLabel(label)
                hps[label]["conditions"].add(conds)
            else:
                hps[label] = {"node": dist, "label": label,
                              "conditions": {conds}}
            stack.append((dist, conds))
            continue
        for child in node.inputs():
            stack.append((child, conds))


def _remove_allpaths(hps, conditions):
    """Drop a choice's conditions from a label active on all its options."""
    potential_conds = {}
    for k, v in hps.items():
        if v["node"].name == "randint":
            low = v["node"].pos_args[0].obj if v["node"].pos_args else None
            if isinstance(low, int) and len(v["node"].pos_args) == 1:
                potential_conds[k] = frozenset(
                    Cond(k, ii, "=") for ii in range(low))
        elif v["node"].name == "categorical":
            upper = dict(v["node"].named_args).get("upper")
            if isinstance(upper, Literal) and isinstance(upper.obj, int):
                potential_conds[k] = frozenset(
                    Cond(k, ii, "=") for ii in range(upper.obj))
    for k, v in hps.items():
        if len(v["conditions"]) > 1:
            all_conds = [[c for c in cond if c is not True]
                         for cond in v["conditions"]]
            all_conds = [cond for cond in all_conds if len(cond) >= 1]
            if len(all_conds) == 0:
                v["conditions"] = {conditions}
                continue
            depvar = all_conds[0][0].name
            all_one_var = all(len(cond) == 1 and cond[0].name == depvar
                              for cond in all_conds)
            conds = [cond[0] for cond in all_conds]
            if all_one_var and frozenset(conds) == potential_conds.get(depvar):
                v["conditions"] = {conditions}
