"""Tree-structured Parzen Estimator: ``tpe.suggest`` backed by the C core.

Behaviour of hyperopt's ``tpe.suggest``: while fewer than
``n_startup_jobs`` trials are usable (NEW/RUNNING/DONE, NaN losses
excluded, injected results grouped with their source) it returns one random
point per id; afterwards it returns exactly one point (for ``new_ids[0]``),
chosen by the C TPE sampler from the mirrored history. Override parameters
with ``functools.partial(tpe.suggest, gamma=..., n_startup_jobs=...)``.
"""

import logging

from . import _engine, rand

logger = logging.getLogger(__name__)

_default_prior_weight = 1.0
_default_n_EI_candidates = 24
_default_gamma = 0.25
_default_n_startup_jobs = 20
_default_linear_forgetting = 25
DEFAULT_LF = _default_linear_forgetting
EPS = 1e-12


def suggest(new_ids, domain, trials, seed,
            prior_weight=_default_prior_weight,
            n_startup_jobs=_default_n_startup_jobs,
            n_EI_candidates=_default_n_EI_candidates,
            gamma=_default_gamma, verbose=True,
            linear_forgetting=_default_linear_forgetting):
    """Propose NEW trial documents with TPE (see the module docstring)."""
    options = (("tpe.prior_weight", prior_weight),
               ("tpe.n_startup_jobs", n_startup_jobs),
               ("tpe.n_EI_candidates", n_EI_candidates),
               ("tpe.gamma", gamma),
               ("tpe.linear_forgetting", linear_forgetting))
    mirror = _engine.mirror_for(domain, trials, "tpe", options)
    n_usable = mirror.n_groups
    if n_usable < n_startup_jobs:
        if verbose:
            logger.debug("TPE using %i/%i trials (startup: random)",
                         n_usable, n_startup_jobs)
        return rand.suggest(new_ids, domain, trials, seed)
    new_ids = list(new_ids)
    if not new_ids:
        return []
    values = mirror.propose(0, _engine.seed_of(seed))
    if verbose:
        logger.debug("TPE using %i trials", n_usable)
    return _engine.make_docs(domain, trials, new_ids[:1], [values])
