"""``atpe.suggest``: parzen has no Adaptive TPE (it needs LightGBM models
that hyperopt ships). Scripts that use it keep working: the call warns once
and uses :func:`parzen.tpe.suggest` with its defaults."""

import warnings

from . import tpe

_warned = []


def suggest(new_ids, domain, trials, seed, *args, **kwargs):
    if not _warned:
        warnings.warn("parzen has no ATPE; atpe.suggest uses tpe.suggest",
                      RuntimeWarning, stacklevel=2)
        _warned.append(True)
    return tpe.suggest(new_ids, domain, trials, seed)
