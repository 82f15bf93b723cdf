"""Search quality on hyperopt's benchmark domains (spec §8.2-8.3).

parzen's samplers draw from the C core's streams, not numpy's, so each
threshold is checked over several seeds and a majority must pass (spec
§8.3's porting advice)."""

from functools import partial

import numpy as np
import pytest

import domains
from conftest import needs_anneal, needs_tpe
from parzen import Domain, Trials, anneal, fmin, rand, tpe
from parzen.pyll.stochastic import sample


def best_losses(name, algo, n, seeds):
    out = []
    for seed in seeds:
        space, target = domains.ALL[name]()
        t = Trials()
        fmin(domains.identity, space, algo=algo, max_evals=n, trials=t,
             rstate=np.random.default_rng(seed), show_progressbar=False)
        assert len(t) == n
        out.append((t, target))
    return out


# -- many_dists is excluded: its loss target (0) is far below what 500
#    random draws reach (|z| < 1.1 for a sum centred near 50).
RAND_DOMAINS = [n for n in domains.ALL if n != "many_dists"]


@pytest.mark.parametrize("name", RAND_DOMAINS)
def test_rand_average_best_error(name):
    n = 5000 if name == "gauss_wave2" else 500
    runs = best_losses(name, rand.suggest, n, seeds=(4, 5, 6))
    ok = [t.average_best_error() - target < 0.2 for t, target in runs]
    assert sum(ok) >= 2, ok


def mean_best(runs):
    return float(np.mean([min(t.losses()) for t, _ in runs]))


# -- hyperopt's thresholds (spec §8.3) alone are weak: random search meets
#    most of them at these budgets (measured at seeds 0-9: 5/10 on
#    quadratic1, 7/10 q1_lognormal, 9/10 gauss_wave and n_arms, 8/10
#    gauss_wave2 and branin). So each case also claims a lower mean best
#    loss than random search at the same seeds and budget (the same C
#    streams: the "random" mutant ties it exactly and fails).
#    'all': the threshold at every seed, where TPE holds it at 9-10 of 10
#    seeds and TPE without candidate selection does not (measured, seeds
#    0-9: quadratic1 at 1e-5 10/10 vs 9/10 but 1.7e-4 at seed 1;
#    q1_lognormal at 1e-4 8/10 vs 1/10; distractor 9/10 vs 5/10).
#    Elsewhere TPE without selection is as good as TPE at these budgets
#    (gauss_wave 10/10 both, n_arms and many_dists 10/10 both, branin 9/10
#    vs 10/10, gauss_wave2 mean -2.51 vs -2.36): selection=False.
TPE_CASES = [
    ("quadratic1", 1000, 1e-5, dict(n_EI_candidates=5), "all"),
    ("q1_lognormal", 250, 1e-4, {}, "all"),
    ("distractor", 100, -1.96,
     dict(gamma=0.05, prior_weight=0.01, n_EI_candidates=15), "all"),
    ("gauss_wave", 50, -2.0, {}, "majority"),
    ("gauss_wave2", 75, -2.0, {}, "majority"),
    ("n_arms", 50, -2.5, {}, "majority"),
    ("many_dists", 200, 0.0005, {}, "majority"),
    ("branin", 200, 0.7, {}, "majority"),
]


@needs_tpe
@pytest.mark.parametrize("name,n,threshold,kw,need", [
    pytest.param(*c, marks=pytest.mark.sampler_claim(
        "tpe", selection=c[4] == "all"), id=c[0]) for c in TPE_CASES])
def test_tpe_quality(name, n, threshold, kw, need):
    seeds = (0, 1, 2)
    runs = best_losses(name, partial(tpe.suggest, **kw), n, seeds)
    ok = [min(t.losses()) < threshold for t, _ in runs]
    assert sum(ok) >= (3 if need == "all" else 2), ok
    mine = mean_best(runs)
    theirs = mean_best(best_losses(name, rand.suggest, n, seeds))
    assert mine < theirs, (mine, theirs)


ANNEAL_CASES = [
    ("quadratic1", 1000, 1e-5), ("q1_lognormal", 50, 0.01),
    ("distractor", 150, -0.96), ("gauss_wave", 50, -2.0),
    ("gauss_wave2", 50, -2.0), ("n_arms", 50, -2.5),
    ("many_dists", 200, 0.0005), ("branin", 200, 0.7),
]


@needs_anneal
@pytest.mark.sampler_claim("anneal")
@pytest.mark.parametrize("name,n,threshold", ANNEAL_CASES,
                         ids=[c[0] for c in ANNEAL_CASES])
def test_anneal_quality(name, n, threshold):
    seeds = (8, 9, 10)
    runs = best_losses(name, anneal.suggest, n, seeds)
    ok = [min(t.losses()) < threshold for t, _ in runs]
    assert sum(ok) >= 2, ok
    random_runs = best_losses(name, rand.suggest, n, seeds)
    if name == "distractor":
        # -- annealing settles in the sigmoid's basin (loss -1) and misses
        #    the narrow well (-2) that random search finds, so its best is
        #    not random search's better; what it does is exploit: the last
        #    third of its trials sit in a basin (median loss < -0.9 at
        #    every seed; random search's is -0.59 to -0.99 at these seeds)
        def late(rs):
            return [float(np.median(t.losses()[-n // 3:])) for t, _ in rs]

        mine, theirs = late(runs), late(random_runs)
        assert max(mine) < -0.9 and np.mean(mine) < np.mean(theirs) - 0.2, \
            (mine, theirs)
    else:
        mine, theirs = mean_best(runs), mean_best(random_runs)
        assert mine < theirs, (mine, theirs)


@pytest.mark.parametrize("algo", [
    rand.suggest,
    pytest.param(partial(tpe.suggest, n_EI_candidates=3), marks=needs_tpe),
    pytest.param(anneal.suggest, marks=needs_anneal),
])
@pytest.mark.parametrize("name", list(domains.ALL))
def test_smoke_every_domain(algo, name):
    ((t, _),) = best_losses(name, algo, 10, seeds=(0,))
    assert t.statuses() == ["ok"] * 10
    assert all(np.isfinite(loss) for loss in t.losses())


def test_c_prior_matches_numpy_prior():
    """The C sampler's prior and pyll.stochastic (numpy) agree in
    distribution for every hp.* type."""
    space, _ = domains.many_dists()
    d = Domain(domains.identity, space)
    labels = d.compiled.labels_sorted
    idxs, vals = rand.suggest_batch(list(range(3000)), d, Trials(), 1)
    from parzen import hp

    dists = {
        "a": hp.choice("a", [0, 1, 2]), "b": hp.randint("b", 10),
        "bb": hp.randint("bb", 12, 25), "c": hp.uniform("c", 4, 7),
        "d": hp.loguniform("d", -2, 0), "e": hp.quniform("e", 0, 10, 3),
        "f": hp.qloguniform("f", 0, 3, 2), "g": hp.normal("g", 4, 7),
        "h": hp.lognormal("h", -2, 2), "i": hp.qnormal("i", 0, 10, 2),
        "j": hp.qlognormal("j", 0, 2, 1),
        "k": hp.pchoice("k", [(0.1, 0), (0.9, 1)]),
    }
    rng = np.random.default_rng(0)
    py = [sample(dists, rng) for _ in range(3000)]
    for label in labels:
        c = np.asarray(vals[label], dtype=float)
        p = np.asarray([s[label] for s in py], dtype=float)
        assert len(c) == 3000
        # -- two-sample Kolmogorov-Smirnov distance (works for discrete)
        grid = np.union1d(c, p)
        fc = np.searchsorted(np.sort(c), grid, side="right") / len(c)
        fp = np.searchsorted(np.sort(p), grid, side="right") / len(p)
        assert np.max(np.abs(fc - fp)) < 0.05, label
