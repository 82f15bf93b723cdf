"""Random distributions as pyll operations, and ``sample``.

Each distribution takes ``rng=`` (a ``numpy.random.Generator``) and
``size=``. ``sample(expr, rng)`` draws one value of a whole space in Python
(the optimizers draw through the C core instead).
"""

import numpy as np

from .base import Literal, as_apply, clone, dfs, rec_eval, scope

implicit_stochastic_symbols = set()


def implicit_stochastic(f):
    implicit_stochastic_symbols.add(f.__name__)
    return f


def _scalar(x):
    """numpy 0-d results -> Python scalars (keeps arrays for size != ())."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return x.item()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _rng(rng):
    if rng is None:
        raise AttributeError(
            "'NoneType' object has no attribute 'uniform': a random "
            "distribution was evaluated without rng= (use "
            "parzen.pyll.stochastic.sample, or give a value for its label)")
    return rng


@implicit_stochastic
@scope.define
def uniform(low, high, rng=None, size=()):
    return _scalar(_rng(rng).uniform(low, high, size=size))


@implicit_stochastic
@scope.define
def loguniform(low, high, rng=None, size=()):
    draw = _rng(rng).uniform(low, high, size=size)
    return _scalar(np.exp(draw))


@implicit_stochastic
@scope.define
def quniform(low, high, q, rng=None, size=()):
    draw = _rng(rng).uniform(low, high, size=size)
    return _scalar(np.round(draw / q) * q)


@implicit_stochastic
@scope.define
def qloguniform(low, high, q, rng=None, size=()):
    draw = np.exp(_rng(rng).uniform(low, high, size=size))
    return _scalar(np.round(draw / q) * q)


@implicit_stochastic
@scope.define
def normal(mu, sigma, rng=None, size=()):
    return _scalar(_rng(rng).normal(mu, sigma, size=size))


@implicit_stochastic
@scope.define
def qnormal(mu, sigma, q, rng=None, size=()):
    draw = _rng(rng).normal(mu, sigma, size=size)
    return _scalar(np.round(draw / q) * q)


@implicit_stochastic
@scope.define
def lognormal(mu, sigma, rng=None, size=()):
    draw = _rng(rng).normal(mu, sigma, size=size)
    return _scalar(np.exp(draw))


@implicit_stochastic
@scope.define
def qlognormal(mu, sigma, q, rng=None, size=()):
    draw = np.exp(_rng(rng).normal(mu, sigma, size=size))
    return _scalar(np.round(draw / q) * q)


@implicit_stochastic
@scope.define
def randint(low, high=None, rng=None, size=()):
    """Integers in [0, low) or [low, high)."""
    return _scalar(_rng(rng).integers(low, high, size=size))


@implicit_stochastic
@scope.define
def randint_via_categorical(p, rng=None, size=()):
    """An integer i with probability p[i] (p need not be normalised)."""
    p = np.asarray(p, dtype=float)
    return categorical(p / p.sum(), rng=rng, size=size)


@implicit_stochastic
@scope.define
def categorical(p, upper=None, rng=None, size=()):
    """Draw index i with probability p[i] (one multinomial draw each)."""
    if len(p) == 1 and isinstance(p[0], np.ndarray):
        p = p[0]
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise NotImplementedError("categorical needs a 1-d p")
    if size == ():
        shape = ()
        n_draws = 1
    else:
        shape = (size,) if np.isscalar(size) else tuple(size)
        n_draws = int(np.prod(shape))
    sample = _rng(rng).multinomial(n=1, pvals=p, size=n_draws)
    rval = np.dot(sample, np.arange(len(p)))
    if shape == ():
        return int(rval[0])
    return rval.reshape(shape)


@scope.define
def one_of(*args):
    ii = scope.randint(len(args))
    return scope.switch(ii, *args)


@scope.define
def choice(args):
    return scope.one_of(*args)


def recursive_set_rng_kwarg(expr, rng=None):
    """Set ``rng=`` on every stochastic node of ``expr`` (in place)."""
    if rng is None:
        rng = np.random.default_rng()
    lrng = as_apply(rng)
    for node in dfs(expr):
        if node.name in implicit_stochastic_symbols:
            for ii, (name, _) in enumerate(list(node.named_args)):
                if name == "rng":
                    node.named_args[ii] = ["rng", lrng]
                    break
            else:
                node.named_args.append(["rng", lrng])
    return expr


def sample(expr, rng=None, **kwargs):
    """Draw one value of ``expr`` (a space) with ``rng`` (a numpy Generator;
    a new one by default). Lists come back as tuples, dicts as dicts."""
    if rng is None:
        rng = np.random.default_rng()
    elif isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(int(rng))
    foo = recursive_set_rng_kwarg(clone(as_apply(expr)), Literal(rng))
    kwargs.setdefault("print_node_on_error", False)
    return rec_eval(foo, **kwargs)
