"""parzen: hyperparameter optimization with a C core.

A drop-in replacement for hyperopt: change ``from hyperopt import ...`` to
``from parzen import ...``. The search space language (``hp``, ``pyll``),
``fmin``, ``Trials`` and the algorithms (``tpe``, ``rand``, ``anneal``,
``mix``) behave like hyperopt's; the samplers and the trial history run in
C. ``mtpe`` is parzen's own multivariate TPE. See docs/python.md and docs/compatibility.md.
"""

from . import early_stop, exceptions, hp, pruners, pyll  # noqa: F401
from . import anneal, atpe, mix, mtpe, rand, tpe  # noqa: F401
from ._core import __version__ as _core_version
from .base import (  # noqa: F401
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    JOB_STATES,
    STATUS_FAIL,
    STATUS_NEW,
    STATUS_OK,
    STATUS_RUNNING,
    STATUS_STRINGS,
    STATUS_SUSPENDED,
    Ctrl,
    Domain,
    Trials,
    trials_from_docs,
)
from .fmin import (  # noqa: F401
    FMinIter,
    fmin,
    fmin_pass_expr_memo_ctrl,
    partial,
    space_eval,
)
from ._pruning import report  # noqa: F401
from .exceptions import TrialPruned  # noqa: F401
from .store import StoreTrials  # noqa: F401

__version__ = _core_version


def __getattr__(name):
    # -- SparkTrials is imported lazily (parzen.spark)
    if name == "SparkTrials":
        from .spark import SparkTrials

        return SparkTrials
    raise AttributeError("module 'parzen' has no attribute %r" % (name,))


__all__ = [
    "STATUS_STRINGS", "STATUS_NEW", "STATUS_RUNNING", "STATUS_SUSPENDED",
    "STATUS_OK", "STATUS_FAIL", "JOB_STATES", "JOB_STATE_NEW",
    "JOB_STATE_RUNNING", "JOB_STATE_DONE", "JOB_STATE_ERROR", "Ctrl",
    "Trials", "trials_from_docs", "Domain", "fmin",
    "fmin_pass_expr_memo_ctrl", "FMinIter", "partial", "space_eval", "hp",
    "exceptions", "rand", "tpe", "mtpe", "atpe", "mix", "anneal", "early_stop",
    "pyll", "SparkTrials", "StoreTrials", "__version__", "report",
    "TrialPruned", "pruners",
]
