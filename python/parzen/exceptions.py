"""Exceptions of hyperopt, plus the parzen core's own.

The hyperopt classes keep their hyperopt bases so existing ``except``
clauses work. Errors found by parzen in a search space raise
:class:`InvalidSearchSpace`, which is both a hyperopt ``BadSearchSpace`` and
a parzen ``SearchSpaceError`` (a ``ValueError``).
"""

from ._core import (  # noqa: F401
    CanceledError,
    InvalidArgumentError,
    NotFoundError,
    ParzenError,
    SearchSpaceError,
    StorageError,
)


class BadSearchSpace(Exception):
    """Something is wrong in the description of the search space"""


class DuplicateLabel(BadSearchSpace):
    """A search space included a duplicate label"""


class InvalidSearchSpace(BadSearchSpace, SearchSpaceError):
    """parzen cannot use this search space; the message names the label."""


class InvalidTrial(ValueError):
    """Non trial-like object used as Trial"""

    def __init__(self, msg, obj):
        ValueError.__init__(self, msg + " " + str(obj))
        self.obj = obj

    def __reduce__(self):
        return (_rebuild_invalid_trial, (self.args[0], self.obj))


def _rebuild_invalid_trial(text, obj):
    e = InvalidTrial.__new__(InvalidTrial)
    ValueError.__init__(e, text)
    e.obj = obj
    return e


class InvalidResultStatus(ValueError):
    """Status of fmin evaluation was not in base.STATUS_STRINGS"""

    def __init__(self, result):
        ValueError.__init__(self, "invalid result status: %r" % (
            result.get("status") if isinstance(result, dict) else result,))
        self.result = result


class InvalidLoss(ValueError):
    """fmin evaluation returned invalid loss value"""

    def __init__(self, result):
        ValueError.__init__(self, "invalid loss: %r" % (
            result.get("loss") if isinstance(result, dict) else result,))
        self.result = result


class AllTrialsFailed(Exception):
    """All optimization steps have finished with status base.STATUS_FAIL"""


class InvalidAnnotatedParameter(ValueError):
    """fn has a type hint that is not from hp."""


class TrialPruned(Exception):
    """Raised by an objective whose ``parzen.report`` returned True: the
    trial stops early and is recorded as pruned (docs/pruning.md)."""
