"""A small, library-neutral description of search spaces.

One space description is translated into
  * a hyperopt-style ``hp`` expression (``to_hp(spec, hp)``, used verbatim
    with both ``parzen.hp`` and ``hyperopt.hp``), and
  * an Optuna define-by-run sampler (``sample_optuna(spec, trial)``).

Both produce the same Python structure for the objective (dicts, tuples,
lists, numbers), so one objective serves every method.

Nodes are tuples ``(kind, label, *args)`` with hyperopt's semantics
(hyperopt-spec.md section 5.1):

  ("uniform", label, low, high)
  ("quniform", label, low, high, q)        round(U(low, high) / q) * q
  ("loguniform", label, low, high)         exp(U(low, high)): bounds in log space
  ("qloguniform", label, low, high, q)
  ("normal", label, mu, sigma), ("qnormal", label, mu, sigma, q)
  ("lognormal", label, mu, sigma), ("qlognormal", label, mu, sigma, q)
  ("randint", label, upper) or ("randint", label, low, high)
  ("choice", label, [option, ...])          options are nested spaces
  ("pchoice", label, [(p, option), ...])

Containers: dict, list, and ``Tuple(...)`` (a plain tuple is a node).
Anything else is a constant.

Optuna has no normal/lognormal priors, no quantized log draw with
hyperopt's rounding and no weighted categorical, so the Optuna translation
keeps the *prior* identical by reparametrising:
  * uniform / loguniform / randint / choice map directly
    (suggest_float, suggest_float(log=True), suggest_int, suggest_categorical);
  * quantized draws are the continuous Optuna draw rounded the hyperopt way
    (np.round(x / q) * q), so the prior matches hyperopt's exactly;
  * normal-family draws are mu + sigma * Phi^-1(u) with u ~ U(0, 1)
    (an exact inverse-CDF transform of the prior), then exp / rounding;
  * pchoice is u ~ U(0, 1) thresholded at the cumulative probabilities.
"""

import math

import numpy as np
from scipy.special import ndtri


class Tuple(tuple):
    """A tuple container (a plain tuple is a space node)."""


_U_EPS = 1e-12


def _q(x, q):
    return float(np.round(x / q) * q)


def to_hp(spec, hp):
    """The hyperopt-style expression of ``spec`` built with module ``hp``."""
    if isinstance(spec, Tuple):
        return tuple(to_hp(s, hp) for s in spec)
    if isinstance(spec, dict):
        return {k: to_hp(v, hp) for k, v in spec.items()}
    if isinstance(spec, list):
        return [to_hp(s, hp) for s in spec]
    if not isinstance(spec, tuple):
        return spec
    kind, label, *args = spec
    if kind == "choice":
        return hp.choice(label, [to_hp(o, hp) for o in args[0]])
    if kind == "pchoice":
        return hp.pchoice(label, [(p, to_hp(o, hp)) for p, o in args[0]])
    return getattr(hp, kind)(label, *args)


def sample_optuna(spec, trial):
    """Draw ``spec`` with an Optuna trial (define-by-run)."""
    if isinstance(spec, Tuple):
        return tuple(sample_optuna(s, trial) for s in spec)
    if isinstance(spec, dict):
        return {k: sample_optuna(v, trial) for k, v in spec.items()}
    if isinstance(spec, list):
        return [sample_optuna(s, trial) for s in spec]
    if not isinstance(spec, tuple):
        return spec
    kind, label, *a = spec
    if kind == "uniform":
        return trial.suggest_float(label, a[0], a[1])
    if kind == "quniform":
        return _q(trial.suggest_float(label, a[0], a[1]), a[2])
    if kind == "loguniform":
        return trial.suggest_float(label, math.exp(a[0]), math.exp(a[1]),
                                   log=True)
    if kind == "qloguniform":
        x = trial.suggest_float(label, math.exp(a[0]), math.exp(a[1]),
                                log=True)
        return _q(x, a[2])
    if kind in ("normal", "qnormal", "lognormal", "qlognormal"):
        u = trial.suggest_float(label, _U_EPS, 1.0 - _U_EPS)
        x = a[0] + a[1] * float(ndtri(u))
        if kind.endswith("lognormal"):
            x = math.exp(x)
        if kind.startswith("q"):
            x = _q(x, a[2])
        return x
    if kind == "randint":
        low, high = (0, a[0]) if len(a) == 1 else (a[0], a[1])
        return trial.suggest_int(label, low, high - 1)
    if kind == "choice":
        opts = a[0]
        i = trial.suggest_categorical(label, list(range(len(opts))))
        return sample_optuna(opts[i], trial)
    if kind == "pchoice":
        u = trial.suggest_float(label, 0.0, 1.0)
        acc = 0.0
        for p, opt in a[0][:-1]:
            acc += p
            if u < acc:
                return sample_optuna(opt, trial)
        return sample_optuna(a[0][-1][1], trial)
    raise ValueError("unknown space node %r" % (kind,))


def box(prefix, lows, highs):
    """A list of uniform parameters x0..x{d-1}."""
    return [("uniform", "%s%d" % (prefix, i), float(lo), float(hi))
            for i, (lo, hi) in enumerate(zip(lows, highs))]
