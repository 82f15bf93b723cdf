"""The distributions of the ``hp.*`` expressions as scipy-style objects
(hyperopt.rdists): densities, probability masses and draws.

parzen samples and scores in C; these are for code that imports
hyperopt.rdists (to plot a prior, to test a sampler). They need scipy
(``pip install scipy``): importing this module without it raises an
ImportError that says so.

* ``loguniform_gen(low, high)``: exp(U(low, high)), a scipy
  ``rv_continuous`` (so loc/scale, cdf, ppf, moments, fit, ... work).
* ``lognorm_gen(mu, sigma)``: exp(N(mu, sigma)), a scipy ``rv_continuous``.
* ``quniform_gen(low, high, q)``, ``qloguniform_gen``, ``qnormal_gen``,
  ``qlognormal_gen``: round(X / q) * q for X of the unquantized
  distribution; ``pmf``, ``logpmf`` and ``rvs``. A value off the grid of
  multiples of q has mass 0. Draws are ints when q is an int.
"""

import numpy as np

try:
    from scipy import special
    from scipy.stats import rv_continuous
except ImportError as e:  # pragma: no cover - scipy comes with sklearn
    raise ImportError("parzen.rdists needs scipy: pip install scipy") from e

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


class loguniform_gen(rv_continuous):  # noqa: N801 - hyperopt's name
    """exp(U(low, high)): density 1 / (x (high - low)) on [e^low, e^high]."""

    def __init__(self, low=0.0, high=1.0):
        if not low < high:
            raise ValueError("loguniform_gen: low %r is not below high %r"
                             % (low, high))
        self._low, self._high = float(low), float(high)
        self._width = self._high - self._low
        super().__init__(a=np.exp(self._low), b=np.exp(self._high),
                         name="loguniform")

    def _pdf(self, x):
        return 1.0 / (x * self._width)

    def _logpdf(self, x):
        return -np.log(x) - np.log(self._width)

    def _cdf(self, x):
        return (np.log(x) - self._low) / self._width

    def _logcdf(self, x):
        return np.log(np.log(x) - self._low) - np.log(self._width)

    def _ppf(self, q):
        return np.exp(self._low + q * self._width)

    def _rvs(self, size=None, random_state=None):
        return np.exp(random_state.uniform(self._low, self._high, size))


class lognorm_gen(rv_continuous):  # noqa: N801 - hyperopt's name
    """exp(N(mu, sigma)) on (0, inf)."""

    def __init__(self, mu=0.0, sigma=1.0):
        if not sigma > 0:
            raise ValueError("lognorm_gen: sigma %r is not positive"
                             % (sigma,))
        self._mu, self._sigma = float(mu), float(sigma)
        super().__init__(a=0.0, name="lognorm")

    def _z(self, x):
        return (np.log(x) - self._mu) / self._sigma

    def _logpdf(self, x):
        z = self._z(x)
        return -0.5 * z * z - _LOG_SQRT_2PI - np.log(self._sigma) - np.log(x)

    def _pdf(self, x):
        return np.exp(self._logpdf(x))

    def _cdf(self, x):
        return special.ndtr(self._z(x))

    def _logcdf(self, x):
        return special.log_ndtr(self._z(x))

    def _sf(self, x):
        return special.ndtr(-self._z(x))

    def _ppf(self, q):
        return np.exp(self._mu + self._sigma * special.ndtri(q))

    def _rvs(self, size=None, random_state=None):
        return np.exp(random_state.normal(self._mu, self._sigma, size))


def _int_typed(q):
    return isinstance(q, (int, np.integer)) and not isinstance(q, bool)


class _Quantized:
    """round(X / q) * q for a continuous X given by its cdf on the bin
    edges; subclasses say which X. ``_edges_cdf(lo, hi)`` is
    P(lo <= X < hi) for arrays of bin edges."""

    def __init__(self, q):
        if not q > 0:
            raise ValueError("%s: q %r is not positive"
                             % (type(self).__name__, q))
        self.q = q
        self._int = _int_typed(q)

    def _grid(self, x):
        """(k, on the grid) for values x: x = k q up to rounding."""
        x = np.asarray(x, dtype=float)
        k = np.round(x / self.q)
        on = np.abs(k * self.q - x) <= 1e-9 * np.maximum(1.0, np.abs(x))
        return k, on

    def pmf(self, x):
        k, on = self._grid(x)
        lo, hi = (k - 0.5) * self.q, (k + 0.5) * self.q
        p = np.where(on, self._edges_cdf(lo, hi), 0.0)
        p = np.clip(p, 0.0, 1.0)
        return float(p) if p.ndim == 0 else p

    def logpmf(self, x):
        with np.errstate(divide="ignore"):
            p = np.log(np.asarray(self.pmf(x), dtype=float))
        return float(p) if p.ndim == 0 else p

    def rvs(self, size=None, random_state=None):
        rng = random_state
        if rng is None or isinstance(rng, (int, np.integer)):
            rng = np.random.default_rng(rng)
        elif isinstance(rng, np.random.RandomState):
            rng = np.random.default_rng(rng.randint(2 ** 31))
        shape = () if size is None else size
        x = np.round(self._draw(rng, shape) / self.q) * self.q
        if self._int:
            x = x.astype(int)
        if np.ndim(x) == 0:
            return int(x) if self._int else float(x)
        return x


class quniform_gen(_Quantized):  # noqa: N801 - hyperopt's name
    """round(U(low, high) / q) * q."""

    def __init__(self, low, high, q):
        super().__init__(q)
        if not low < high:
            raise ValueError("quniform_gen: low %r is not below high %r"
                             % (low, high))
        self.low, self.high = low, high

    def _edges_cdf(self, lo, hi):
        width = np.minimum(hi, self.high) - np.maximum(lo, self.low)
        return np.maximum(width, 0.0) / (self.high - self.low)

    def _draw(self, rng, shape):
        return rng.uniform(self.low, self.high, shape)


class qloguniform_gen(_Quantized):  # noqa: N801 - hyperopt's name
    """round(exp(U(low, high)) / q) * q."""

    def __init__(self, low, high, q):
        super().__init__(q)
        if not low < high:
            raise ValueError("qloguniform_gen: low %r is not below high %r"
                             % (low, high))
        self.low, self.high = low, high

    def _edges_cdf(self, lo, hi):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_lo = np.where(lo > 0, np.log(np.maximum(lo, 1e-300)), -np.inf)
            log_hi = np.where(hi > 0, np.log(np.maximum(hi, 1e-300)), -np.inf)
        width = np.minimum(log_hi, self.high) - np.maximum(log_lo, self.low)
        return np.maximum(width, 0.0) / (self.high - self.low)

    def _draw(self, rng, shape):
        return np.exp(rng.uniform(self.low, self.high, shape))


class qnormal_gen(_Quantized):  # noqa: N801 - hyperopt's name
    """round(N(mu, sigma) / q) * q."""

    def __init__(self, mu, sigma, q):
        super().__init__(q)
        if not sigma > 0:
            raise ValueError("qnormal_gen: sigma %r is not positive"
                             % (sigma,))
        self.mu, self.sigma = mu, sigma

    def _edges_cdf(self, lo, hi):
        a, b = (lo - self.mu) / self.sigma, (hi - self.mu) / self.sigma
        # -- in the upper tail take the difference of survival functions
        return np.where(a > 0, special.ndtr(-a) - special.ndtr(-b),
                        special.ndtr(b) - special.ndtr(a))

    def _draw(self, rng, shape):
        return rng.normal(self.mu, self.sigma, shape)


class qlognormal_gen(_Quantized):  # noqa: N801 - hyperopt's name
    """round(exp(N(mu, sigma)) / q) * q."""

    def __init__(self, mu, sigma, q):
        super().__init__(q)
        if not sigma > 0:
            raise ValueError("qlognormal_gen: sigma %r is not positive"
                             % (sigma,))
        self.mu, self.sigma = mu, sigma

    def _edges_cdf(self, lo, hi):
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(lo > 0, (np.log(np.maximum(lo, 1e-300)) - self.mu)
                         / self.sigma, -np.inf)
            b = np.where(hi > 0, (np.log(np.maximum(hi, 1e-300)) - self.mu)
                         / self.sigma, -np.inf)
        return np.where(a > 0, special.ndtr(-a) - special.ndtr(-b),
                        special.ndtr(b) - special.ndtr(a))

    def _draw(self, rng, shape):
        return np.exp(rng.normal(self.mu, self.sigma, shape))


def safe_int_cast(obj):
    """Python ints for integer-typed values (numpy scalars or arrays of an
    integer dtype, ints); anything else unchanged."""
    if isinstance(obj, np.ndarray) and np.issubdtype(obj.dtype, np.integer):
        return obj.astype(int)
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    return obj
