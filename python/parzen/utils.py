"""Small helpers of hyperopt.utils that user code imports.

Importing objects by dotted name (``json_lookup``, ``json_call``,
``get_obj``), numpy set and version helpers (``fast_isin``,
``get_most_recent_inds``, ``pmin_sampled``), and directory helpers
(``working_dir``, ``temp_dir``, ``path_split_all``, ``get_closest_dir``).
"""

import contextlib
import datetime
import importlib
import logging
import os
import shutil

import numpy as np

logger = logging.getLogger(__name__)


def import_tokens(tokens):
    """Import the longest importable prefix of ``tokens`` (a dotted name
    split on '.'); returns (module, the tokens after it)."""
    for i in range(len(tokens), 0, -1):
        try:
            return importlib.import_module(".".join(tokens[:i])), tokens[i:]
        except ImportError:
            continue
    raise ImportError("no module in %r" % ".".join(tokens))


def load_tokens(tokens):
    obj, rest = import_tokens(tokens)
    for name in rest:
        obj = getattr(obj, name)
    return obj


def json_lookup(json):
    """The object named by a dotted string, e.g. 'math.sqrt'."""
    return load_tokens(json.split("."))


def json_call(json, args=(), kwargs=None):
    """Call what ``json`` names: a dotted name, or a dict
    {'name' or 'fn': dotted name, 'args': [...], 'kwargs': {...}}, or a
    list [name, args, kwargs] (missing parts default to ``args`` and
    ``kwargs``)."""
    kwargs = dict(kwargs or {})
    if isinstance(json, str):
        return json_lookup(json)(*args, **kwargs)
    if isinstance(json, dict):
        name = json.get("fn", json.get("name"))
        return json_lookup(name)(*json.get("args", args),
                                 **dict(kwargs, **json.get("kwargs", {})))
    if isinstance(json, (list, tuple)):
        name, *rest = json
        a = rest[0] if rest else args
        kw = dict(kwargs, **(rest[1] if len(rest) > 1 else {}))
        return json_lookup(name)(*a, **kw)
    raise TypeError("json_call: cannot call %r" % (json,))


def get_obj(f, argfile=None, argstr=None, args=(), kwargs=None):
    """json_call(f, ...) with the arguments read from a pickle file
    ``argfile`` or a pickled string ``argstr`` when given."""
    import pickle

    if argfile is not None:
        with open(argfile, "rb") as fh:
            argstr = fh.read()
    if argstr is not None:
        args, kwargs = pickle.loads(argstr)
    return json_call(f, args=args, kwargs=kwargs)


def pmin_sampled(mean, var, n_samples=1000, rng=None):
    """Probability that each of the independent Gaussians N(mean[i],
    var[i]) is the smallest, estimated from ``n_samples`` joint draws."""
    rng = np.random.default_rng() if rng is None else rng
    mean, var = np.asarray(mean, dtype=float), np.asarray(var, dtype=float)
    draws = mean + np.sqrt(var) * rng.standard_normal((n_samples, len(mean)))
    counts = np.bincount(draws.argmin(axis=1), minlength=len(mean))
    return counts / float(n_samples)


def fast_isin(X, Y):
    """Boolean mask over X: which elements are in Y."""
    return np.isin(np.asarray(X), np.asarray(Y))


def get_most_recent_inds(obj):
    """Indices (ascending) of the documents with the highest 'version' of
    each '_id'; of equal versions the later document wins."""
    best = {}
    for i, doc in enumerate(obj):
        key = doc["_id"]
        if key not in best or doc["version"] >= obj[best[key]]["version"]:
            best[key] = i
    return np.array(sorted(best.values()), dtype=int)


def use_obj_for_literal_in_memo(expr, obj, lit, memo):
    """Set memo[node] = obj for each Literal node of ``expr`` holding
    ``lit`` (how hyperopt hands the Ctrl object to a pyll graph)."""
    from .pyll import Literal, dfs

    for node in dfs(expr):
        if isinstance(node, Literal) and node.obj is lit:
            memo[node] = obj
    return memo


def coarse_utcnow():
    """UTC now (naive) to the millisecond, as stored in trial documents."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@contextlib.contextmanager
def working_dir(dir):
    """chdir into ``dir`` for the block, back afterwards."""
    before = os.getcwd()
    os.chdir(dir)
    try:
        yield
    finally:
        os.chdir(before)


def path_split_all(path):
    """Every component of ``path``: 'a/b/c' -> ['a', 'b', 'c']."""
    parts = []
    while True:
        head, tail = os.path.split(path)
        if tail:
            parts.append(tail)
        if not head or head == path:
            if head:
                parts.append(head)
            break
        path = head
    return parts[::-1]


def get_closest_dir(workdir):
    """(the deepest existing directory on the way to ``workdir``, the next
    component, which does not exist yet); '' stands for the current
    directory."""
    parts = path_split_all(workdir)
    for i in range(len(parts) - 1, 0, -1):
        head = os.path.join(*parts[:i])
        if os.path.isdir(head):
            return head, parts[i]
    return "", parts[0]


@contextlib.contextmanager
def temp_dir(dir, erase_after=False, with_sentinel=True):
    """Create ``dir`` (and its missing parents) for the block. With
    ``erase_after``, what was created is removed afterwards; with
    ``with_sentinel``, a file '<first created>.inuse' beside the first
    created directory marks it in use meanwhile. '..' in ``dir`` is a
    RuntimeError (it could reach outside the working tree)."""
    if ".." in path_split_all(dir):
        raise RuntimeError("temp_dir: '..' in %r" % (dir,))
    base, first = get_closest_dir(dir)
    created = os.path.join(base, first)
    new = not os.path.exists(created)
    sentinel = created + ".inuse" if with_sentinel and new else None
    if sentinel is not None:
        open(sentinel, "w").close()
    try:
        os.makedirs(dir, exist_ok=True)
        yield
    finally:
        if erase_after and new:
            shutil.rmtree(created, ignore_errors=True)
        if sentinel is not None and os.path.exists(sentinel):
            os.remove(sentinel)
