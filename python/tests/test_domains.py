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


TPE_CASES = [
    ("quadratic1", 1000, 1e-5, dict(n_EI_candidates=5)),
    ("q1_lognormal", 250, 0.01, {}),
    ("distractor", 100, -1.96,
     dict(gamma=0.05, prior_weight=0.01, n_EI_candidates=15)),
    ("gauss_wave", 50, -2.0, {}),
    ("gauss_wave2", 75, -2.0, {}),
    ("n_arms", 50, -2.5, {}),
    ("many_dists", 200, 0.0005, {}),
    ("branin", 200, 0.7, {}),
]


@needs_tpe
@pytest.mark.parametrize("name,n,threshold,kw", TPE_CASES,
                         ids=[c[0] for c in TPE_CASES])
def test_tpe_quality(name, n, threshold, kw):
    runs = best_losses(name, partial(tpe.suggest, **kw), n, seeds=(0, 1, 2))
    ok = [min(t.losses()) < threshold for t, _ in runs]
    assert sum(ok) >= 2, ok


ANNEAL_CASES = [
    ("quadratic1", 1000, 1e-5), ("q1_lognormal", 50, 0.01),
    ("distractor", 150, -0.96), ("gauss_wave", 50, -2.0),
    ("gauss_wave2", 50, -2.0), ("n_arms", 50, -2.5),
    ("many_dists", 200, 0.0005), ("branin", 200, 0.7),
]


@needs_anneal
@pytest.mark.parametrize("name,n,threshold", ANNEAL_CASES,
                         ids=[c[0] for c in ANNEAL_CASES])
def test_anneal_quality(name, n, threshold):
    runs = best_losses(name, anneal.suggest, n, seeds=(8, 9, 10))
    ok = [min(t.losses()) < threshold for t, _ in runs]
    assert sum(ok) >= 2, ok


@pytest.mark.parametrize("algo", [
    rand.suggest,
    pytest.param(partial(tpe.suggest, n_EI_candidates=3), marks=needs_tpe),
    pytest.param(anneal.suggest, marks=needs_anneal),
])
@pytest.mark.parametrize("name", list(domains.ALL))
def test_smoke_every_domain(algo, name):
    best_losses(name, algo, 10, seeds=(0,))


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
