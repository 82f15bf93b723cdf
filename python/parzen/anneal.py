"""Annealing: ``anneal.suggest`` backed by the C core.

Each new point perturbs a good past trial's values, with a width that
shrinks as a label is observed more often (hyperopt's annealing). Unlike
hyperopt, any number of ids is accepted (one point per id), so
``max_queue_len > 1`` works.
"""

import logging

from . import _engine

logger = logging.getLogger(__name__)


def suggest(new_ids, domain, trials, seed, avg_best_idx=2.0,
            shrink_coef=0.1):
    """One NEW trial document per id in ``new_ids``."""
    options = (("anneal.avg_best_idx", avg_best_idx),
               ("anneal.shrink_coef", shrink_coef))
    mirror = _engine.mirror_for(domain, trials, "anneal", options)
    seed = _engine.seed_of(seed)
    new_ids = list(new_ids)
    values = [mirror.propose(i, seed) for i in range(len(new_ids))]
    return _engine.make_docs(domain, trials, new_ids, values)


def suggest_batch(new_ids, domain, trials, seed, avg_best_idx=2.0,
                  shrink_coef=0.1):
    """``(idxs, vals)`` of annealed proposals for all ids."""
    docs = suggest(new_ids, domain, trials, seed, avg_best_idx, shrink_coef)
    idxs = {}
    vals = {}
    for d in docs:
        for label, v in d["misc"]["vals"].items():
            idxs.setdefault(label, []).extend(d["misc"]["idxs"][label])
            vals.setdefault(label, []).extend(v)
    return idxs, vals
