"""Acquisition criteria for Bayesian optimization (hyperopt.criteria).

Expected improvement (EI) and the upper confidence bound of a Gaussian
belief N(mean, var) about a quantity to *maximize*, over a threshold
``thresh`` (the best value so far). parzen's samplers do not use them (TPE
works on densities in C); they are here for code written against
hyperopt that imports them. EI needs scipy (``pip install scipy``) for the
closed forms; the empirical estimate does not.
"""

import numpy as np


def _special():
    try:
        from scipy import special
    except ImportError as e:  # pragma: no cover - scipy comes with sklearn
        raise ImportError(
            "parzen.criteria needs scipy for the Gaussian forms: "
            "pip install scipy") from e
    return special


def EI_empirical(samples, thresh):  # noqa: N802 - hyperopt's name
    """Mean improvement max(sample - thresh, 0) over samples."""
    return np.maximum(np.asarray(samples) - thresh, 0).mean()


def EI_gaussian_empirical(mean, var, thresh, rng, N):  # noqa: N802
    """EI of N(mean, var) over ``thresh``, estimated from N draws of the
    numpy Generator ``rng``."""
    draws = mean + np.sqrt(var) * rng.standard_normal(N)
    return EI_empirical(draws, thresh)


def EI_gaussian(mean, var, thresh):  # noqa: N802
    """EI of N(mean, var) over ``thresh``, in closed form:
    sigma * (z * Phi(z) + phi(z)) with z = (mean - thresh) / sigma."""
    sp = _special()
    sigma = np.sqrt(var)
    z = (np.asarray(mean, dtype=float) - thresh) / sigma
    pdf = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    return sigma * (z * sp.ndtr(z) + pdf)


def logEI_gaussian(mean, var, thresh):  # noqa: N802
    """log EI_gaussian(mean, var, thresh), finite far below the threshold
    too (where EI itself underflows to 0).

    For z < 0, z Phi(z) + phi(z) = phi(z) (1 - r) with r = -z Phi(z) /
    phi(z) in (0, 1) (a Mills ratio), so its log is log phi(z) +
    log1p(-r), with log Phi from log_ndtr: no underflow at any z.
    """
    sp = _special()
    var = np.asarray(var, dtype=float)
    if np.min(var) < 0:
        raise ValueError("logEI_gaussian: negative variance %r" % (var,))
    sigma = np.sqrt(var)
    z = (np.asarray(mean, dtype=float) - thresh) / sigma
    scalar = z.ndim == 0
    z = np.atleast_1d(z)
    sigma = np.broadcast_to(sigma, z.shape)
    out = np.empty_like(z)
    with np.errstate(all="ignore"):
        neg = z < 0
        zn = z[neg]
        log_pdf = -0.5 * zn * zn - 0.5 * np.log(2 * np.pi)
        r = -zn * np.exp(sp.log_ndtr(zn) - log_pdf)
        out[neg] = np.log(sigma[neg]) + log_pdf + np.log1p(-r)
        zp = z[~neg]
        pdf = np.exp(-0.5 * zp * zp) / np.sqrt(2 * np.pi)
        out[~neg] = np.log(sigma[~neg]) + np.log(zp * sp.ndtr(zp) + pdf)
    out[~np.isfinite(out)] = -np.inf
    return float(out[0]) if scalar else out


def UCB(mean, var, zscore):  # noqa: N802
    """Upper confidence bound: mean + zscore * sqrt(var)."""
    return mean + np.sqrt(var) * zscore
