"""pyll: the expression-graph language of search spaces (hyperopt.pyll)."""

from . import base, stochastic  # noqa: F401 - stochastic registers the dists
from .base import (  # noqa: F401
    DEFAULT_MAX_PROGRAM_LEN,
    Apply,
    GarbageCollected,
    Lambda,
    Literal,
    PyllCycleError,
    PyllImportError,
    SymbolTable,
    SymbolTableEntry,
    UndefinedValue,
    as_apply,
    clone,
    clone_merge,
    dfs,
    rec_eval,
    scope,
    toposort,
)
from .stochastic import sample  # noqa: F401
