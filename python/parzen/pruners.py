"""Pruners: stop unpromising trials early, from their intermediate values.

    from parzen import fmin, report, TrialPruned, pruners

    def objective(params):
        model = make_model(params)
        for epoch in range(1, 51):
            loss = model.train_one_epoch()
            if report(loss, epoch):   # True: the driver says stop
                raise TrialPruned()   # (or: return loss)
        return loss

    fmin(objective, space, max_evals=100,
         pruner=pruners.SuccessiveHalvingPruner())

A pruner here only names a rule and its options: the decisions are made on
the driver by the C core (the same code the ``parzen run --pruner`` CLI
uses), from the reports of every trial of the run. See docs/pruning.md.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["Pruner", "NopPruner", "MedianPruner", "SuccessiveHalvingPruner",
           "HyperbandPruner"]


def _int_option(owner, name, value, minimum):
    """``value`` as an int >= minimum, or a ValueError/TypeError naming the
    pruner and the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s: %s must be an integer, not %r"
                        % (owner, name, value))
    if value < minimum:
        raise ValueError("%s: %s must be >= %d, not %d"
                         % (owner, name, minimum, value))
    return int(value)


class Pruner:
    """A pruning rule for ``fmin(..., pruner=...)``: ``kind`` is the C
    core's name of the rule, ``options()`` its settings."""

    kind = "none"

    def options(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join("%s=%r" % kv for kv in self.options().items())
        return "%s(%s)" % (type(self).__name__, args)

    def __eq__(self, other):
        return type(other) is type(self) and other.options() == self.options()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.options().items()))))


class NopPruner(Pruner):
    """Records every report (they are kept in the trials' results) and
    never prunes: the run without pruning that reports the same values."""

    kind = "none"


class MedianPruner(Pruner):
    """Prune a trial whose value at a step is worse than the median of the
    values other trials reported at that step.

    ``n_startup_trials``: no pruning until this many trials finished;
    ``n_warmup_steps``: no pruning at steps below this; ``interval_steps``:
    decide only every this many steps (counted from ``n_warmup_steps``).
    """

    kind = "median"

    def __init__(self, n_startup_trials=5, n_warmup_steps=0,
                 interval_steps=1):
        name = type(self).__name__
        self.n_startup_trials = _int_option(name, "n_startup_trials",
                                            n_startup_trials, 0)
        self.n_warmup_steps = _int_option(name, "n_warmup_steps",
                                          n_warmup_steps, 0)
        self.interval_steps = _int_option(name, "interval_steps",
                                          interval_steps, 1)

    def options(self):
        return {"n_startup_trials": self.n_startup_trials,
                "n_warmup_steps": self.n_warmup_steps,
                "interval_steps": self.interval_steps}


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA): rung k is reached at step
    ``min_resource * reduction_factor ** (min_early_stopping_rate + k)``;
    a trial reaching a rung goes on only if its value is in the best
    ``1 / reduction_factor`` of the values recorded at that rung so far. A
    trial never waits for its rung to fill."""

    kind = "sha"

    def __init__(self, min_resource=1, reduction_factor=3,
                 min_early_stopping_rate=0):
        name = type(self).__name__
        self.min_resource = _int_option(name, "min_resource", min_resource, 1)
        self.reduction_factor = _int_option(name, "reduction_factor",
                                            reduction_factor, 2)
        self.min_early_stopping_rate = _int_option(
            name, "min_early_stopping_rate", min_early_stopping_rate, 0)

    def options(self):
        return {"min_resource": self.min_resource,
                "reduction_factor": self.reduction_factor,
                "min_early_stopping_rate": self.min_early_stopping_rate}


class HyperbandPruner(Pruner):
    """Hyperband: several brackets of asynchronous successive halving, with
    different first rungs; a trial's bracket follows from its id.

    ``max_resource``: the last step a trial reports ("auto": the largest
    step reported by the first trial that finishes)."""

    kind = "hyperband"

    def __init__(self, min_resource=1, max_resource="auto",
                 reduction_factor=3):
        name = type(self).__name__
        self.min_resource = _int_option(name, "min_resource", min_resource, 1)
        if max_resource != "auto":
            max_resource = _int_option(name, "max_resource", max_resource,
                                       self.min_resource)
            if max_resource < self.min_resource:
                raise ValueError(
                    "%s: max_resource (%d) must be >= min_resource (%d)"
                    % (name, max_resource, self.min_resource))
        self.max_resource = max_resource
        self.reduction_factor = _int_option(name, "reduction_factor",
                                            reduction_factor, 2)

    def options(self):
        return {"min_resource": self.min_resource,
                "max_resource": self.max_resource,
                "reduction_factor": self.reduction_factor}


def as_pruner(pruner):
    """fmin's ``pruner=`` argument checked: a Pruner, or a clear error."""
    if pruner is None or isinstance(pruner, Pruner):
        return pruner
    raise TypeError(
        "fmin(pruner=%r): expected a parzen.pruners pruner (MedianPruner(), "
        "SuccessiveHalvingPruner(), HyperbandPruner() or NopPruner())"
        % (pruner,))


def finite(value) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return False
