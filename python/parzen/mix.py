"""``mix.suggest``: pick one suggest function at random per call."""

import numpy as np

from .base import suggest_of


def suggest(new_ids, domain, trials, seed, p_suggest):
    """Draw one of ``p_suggest = [(probability, suggest_fn), ...]`` (a
    suggest function or an algorithm module) and call it with a seed drawn
    from ``seed``. The probabilities must sum to 1 (``ValueError(
    "Probabilities should sum to 1", ps)`` otherwise)."""
    rng = np.random.default_rng(seed)
    ps, suggests = list(zip(*p_suggest))
    if not np.isclose(sum(ps), 1.0):
        raise ValueError("Probabilities should sum to 1", ps)
    idx = int(np.argmax(rng.multinomial(1, ps)))
    return suggest_of(suggests[idx])(new_ids, domain, trials,
                                     seed=int(rng.integers(2 ** 31)))
