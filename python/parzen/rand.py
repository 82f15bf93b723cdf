"""Random search: ``rand.suggest`` draws every point from the prior (in C).

Point i of a call is drawn from the C stream (seed, i): values depend on the
seed and the position in ``new_ids``, not on the ids themselves.
"""

import logging

from . import _engine

logger = logging.getLogger(__name__)


def suggest(new_ids, domain, trials, seed):
    """One NEW trial document per id in ``new_ids``."""
    study = _engine.random_study(domain)
    seed = _engine.seed_of(seed)
    new_ids = list(new_ids)
    values = [study.suggest(i, seed) for i in range(len(new_ids))]
    return _engine.make_docs(domain, trials, new_ids, values)


def suggest_batch(new_ids, domain, trials, seed):
    """``(idxs, vals)``: label -> ids where active / values, for all ids."""
    study = _engine.random_study(domain)
    seed = _engine.seed_of(seed)
    compiled = domain.compiled
    idxs = {label: [] for label in compiled.labels_sorted}
    vals = {label: [] for label in compiled.labels_sorted}
    for i, tid in enumerate(new_ids):
        point = compiled.values_to_point(study.suggest(i, seed))
        for label, v in point.items():
            idxs[label].append(tid)
            vals[label].append(v)
    return idxs, vals
