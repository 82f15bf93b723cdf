"""``atpe.suggest``: parzen has no Adaptive TPE (it needs LightGBM models
that hyperopt ships). Scripts that use it keep working: the call warns once
and uses :func:`parzen.mtpe.suggest`, parzen's multivariate TPE, with its
defaults."""

import warnings

from . import mtpe

_warned = []


def suggest(new_ids, domain, trials, seed, *args, **kwargs):
    if not _warned:
        warnings.warn("parzen has no ATPE; atpe.suggest uses mtpe.suggest "
                      "(parzen's multivariate TPE)",
                      RuntimeWarning, stacklevel=2)
        _warned.append(True)
    return mtpe.suggest(new_ids, domain, trials, seed)
