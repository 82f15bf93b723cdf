"""Multivariate TPE: ``mtpe.suggest``, parzen's own algorithm (C core).

Not a hyperopt algorithm: hyperopt's ``tpe.suggest`` stays exactly as it
is in :mod:`parzen.tpe`. ``mtpe`` models the parameters that are active
together with one joint (product-kernel) density and counts NaN and
infinite losses as the worst observations. Trials still running are left
out of the model (``hide_pending=0`` counts them as bad observations
instead; the simulated-parallelism experiment measured hiding them as the
better of the two). Older trials weigh less than the newest 25 of their
set (``forget``), and in a space that is one grid an ask does not repeat
a point a trial already has when it has a new candidate (``dedup``). Its
settings were chosen by measurement on bench/quality (docs/benchmarks.md,
"mtpe").

Override parameters with ``functools.partial(mtpe.suggest, gamma=...)``;
every keyword is a C option ``mtpe.<name>`` (docs/python.md).
"""

import logging

from . import _engine

logger = logging.getLogger(__name__)

_default_gamma = 0.10
_default_gamma_cap = 25
_default_prior_weight = 1.0
_default_n_startup_jobs = 10
_default_n_EI_candidates = 24
_default_bw_factor = 0.05
_default_bw_min = 0.03
_default_cat_smooth = 0.5
_default_bw_rule = 0
_default_hide_pending = 1
_default_sample_bw = 1.0
_default_explore = 1.0
_default_explore_until = 30
_default_gap_factor = 1.0
_default_dedup = 1
_default_forget = 25


def suggest(new_ids, domain, trials, seed,
            gamma=_default_gamma, gamma_cap=_default_gamma_cap,
            prior_weight=_default_prior_weight,
            n_startup_jobs=_default_n_startup_jobs,
            n_EI_candidates=_default_n_EI_candidates,
            bw_factor=_default_bw_factor, bw_min=_default_bw_min,
            cat_smooth=_default_cat_smooth, bw_rule=_default_bw_rule,
            hide_pending=_default_hide_pending,
            sample_bw=_default_sample_bw, explore=_default_explore,
            explore_until=_default_explore_until,
            gap_factor=_default_gap_factor, dedup=_default_dedup,
            forget=_default_forget, verbose=True):
    """Propose one NEW trial document (for ``new_ids[0]``) with the
    multivariate TPE; random points until ``n_startup_jobs`` trials are
    visible (DONE, and NEW/RUNNING ones when ``hide_pending=0``)."""
    new_ids = list(new_ids)
    if not new_ids:
        return []
    options = (("mtpe.gamma", gamma), ("mtpe.gamma_cap", gamma_cap),
               ("mtpe.prior_weight", prior_weight),
               ("mtpe.n_startup_jobs", n_startup_jobs),
               ("mtpe.n_EI_candidates", n_EI_candidates),
               ("mtpe.bw_factor", bw_factor), ("mtpe.bw_min", bw_min),
               ("mtpe.cat_smooth", cat_smooth), ("mtpe.bw_rule", bw_rule),
               ("mtpe.hide_pending", hide_pending),
               ("mtpe.sample_bw", sample_bw), ("mtpe.explore", explore),
               ("mtpe.explore_until", explore_until),
               ("mtpe.gap_factor", gap_factor),
               ("mtpe.dedup", dedup),
               ("mtpe.forget", forget))
    mirror = _engine.mirror_for(domain, trials, "mtpe", options)
    values = mirror.propose(0, _engine.seed_of(seed))
    if verbose:
        logger.debug("mtpe using %i trials", len(trials.trials))
    return _engine.make_docs(domain, trials, new_ids[:1], [values])
