"""Helpers for tests that claim what a sampler does.

A claim is made against random search at the same budget and seeds (what
any sampler must beat), never only against a loose absolute bar that
random search clears too. Such tests carry ``@pytest.mark.sampler_claim``
(conftest.py): scripts/mutation-check.sh runs them with the samplers
replaced by random search and with TPE's candidate selection removed, and
fails unless each of them fails.

Under the "random" mutant a sampler's points are exactly random search's
(the same C streams), so a strict "better than random" fails there by
construction; the margins below are what makes the claims worth making.
"""

import numpy as np

from parzen import Trials, fmin, rand


def best_losses(algo, fn, space, n, seeds, **kw):
    """min loss of one fmin run per seed (rstate=default_rng(seed))."""
    out = []
    for seed in seeds:
        t = Trials()
        fmin(fn, space, algo=algo, max_evals=n, trials=t,
             rstate=np.random.default_rng(seed), show_progressbar=False,
             **kw)
        assert len(t) == n
        out.append(min(loss for loss in t.losses() if loss is not None))
    return out


def against_random(algo, fn, space, n, seeds, **kw):
    """(algo's best losses, random search's), seed by seed."""
    return (best_losses(algo, fn, space, n, seeds, **kw),
            best_losses(rand.suggest, fn, space, n, seeds, **kw))


def describe(mine, theirs):
    return "best losses %s vs random search's %s" % (
        ["%.3g" % v for v in mine], ["%.3g" % v for v in theirs])


def geo_mean(values):
    return float(np.exp(np.mean(np.log(np.maximum(values, 1e-300)))))


def ratio_to_random(algo, fn, space, n, seeds, **kw):
    """(geometric mean of algo's best losses / random search's, message).
    Geometric: the best losses of a run span decades; positive losses
    only."""
    mine, theirs = against_random(algo, fn, space, n, seeds, **kw)
    ratio = geo_mean(mine) / geo_mean(theirs)
    return ratio, "ratio %.3g; %s" % (ratio, describe(mine, theirs))
