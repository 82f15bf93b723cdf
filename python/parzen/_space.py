"""Compile a pyll search space into a C ``Space``.

The pyll graph stays in Python: it is what builds the point the objective
sees (transforms such as ``scope.int(hp.quniform(...))``, arithmetic on hp
nodes, nested containers). Compiling walks the graph once and finds every
``hyperopt_param`` node with the condition under which it is active -- the
chain of enclosing ``switch`` options -- and adds it to a C space, parents
(choice parameters) before their children.

A parameter reached along several different condition paths (the same node
used in two branches), or under a switch whose index is not directly a
choice parameter, cannot be described by one (parent, option) pair. Such a
parameter gets the longest condition common to all its paths (a superset of
where it is really active), and the space is marked inexact: the real
activity of a proposed point is then found by walking the graph with the
proposed values, exactly as hyperopt's evaluation would reach it.

Distribution arguments must be constants. A constant sub-expression (e.g.
``np.log(10) * 2`` built with pyll arithmetic) is evaluated once here; an
argument that depends on another hyperparameter raises
:class:`~parzen.exceptions.InvalidSearchSpace` naming the label.
"""

import math
import numbers

import numpy as np

from . import _core
from .exceptions import DuplicateLabel, InvalidSearchSpace
from .pyll import Apply, Literal, rec_eval, toposort
from .pyll.base import _switch_index, scope
from .pyll.stochastic import implicit_stochastic_symbols

_OPAQUE = object()  # a switch whose branch we cannot name
_MISSING = object()

#: pyll distribution -> (C distribution, argument names)
_DISTS = {
    "uniform": ("uniform", ("low", "high")),
    "quniform": ("quniform", ("low", "high", "q")),
    "loguniform": ("loguniform", ("low", "high")),
    "qloguniform": ("qloguniform", ("low", "high", "q")),
    "normal": ("normal", ("mu", "sigma")),
    "qnormal": ("qnormal", ("mu", "sigma", "q")),
    "lognormal": ("lognormal", ("mu", "sigma")),
    "qlognormal": ("qlognormal", ("mu", "sigma", "q")),
    "randint": ("randint", ("low", "high")),
    "categorical": ("pchoice", ("p",)),
}

_INT_DISTS = ("randint", "choice", "pchoice")


def hp_label_and_dist(node):
    """(label, distribution node) of a ``hyperopt_param`` node."""
    if len(node.pos_args) >= 2:
        label_node, dist = node.pos_args[0], node.pos_args[1]
    else:
        args = node.arg
        label_node, dist = args["label"], args["obj"]
    if not isinstance(label_node, Literal):
        raise InvalidSearchSpace(
            "hyperparameter labels must be constant strings, got %r"
            % (label_node,))
    label = label_node.obj
    if not isinstance(label, (str, bytes)):
        raise TypeError("require string label")
    return label, dist


def find_params(expr):
    """``{label: hyperopt_param node}`` of a graph; DuplicateLabel when two
    distinct nodes share a label (one node used twice is one parameter)."""
    params = {}
    for node in toposort(expr):
        if node.name == "hyperopt_param":
            label, _ = hp_label_and_dist(node)
            other = params.get(label)
            if other is not None and other is not node:
                raise DuplicateLabel(label)
            params[label] = node
    return params


class Param:
    """One compiled hyperparameter."""

    __slots__ = ("label", "node", "dist_node", "dist", "index", "is_int",
                 "spec", "c_label")

    def __init__(self, label, node, dist_node):
        self.label = label
        self.node = node
        self.dist_node = dist_node
        self.dist = None
        self.index = None
        self.is_int = False
        self.spec = None
        self.c_label = label.decode("utf-8", "surrogateescape") \
            if isinstance(label, bytes) else label

    def __repr__(self):
        return "Param(%r, %s, %r)" % (self.label, self.dist, self.spec)


def _common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x is not y and x != y:
            break
        n += 1
    return a[:n]


def _depends_on_params(node):
    for n in toposort(node):
        if n.name == "hyperopt_param" or n.name in implicit_stochastic_symbols:
            return True
    return False


def _const(label, argname, node):
    """The constant value of a distribution argument."""
    if isinstance(node, Literal):
        return node.obj
    if _depends_on_params(node):
        raise InvalidSearchSpace(
            "hyperparameter '%s': argument '%s' depends on another "
            "hyperparameter or a random draw; parzen needs constant "
            "distribution arguments" % (label, argname))
    return rec_eval(node, print_node_on_error=False)


def _number(label, argname, value):
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidSearchSpace(
            "hyperparameter '%s': argument '%s' must be a number, got %r"
            % (label, argname, value))
    return float(value)


class CompiledSpace:
    """A pyll space compiled to a C Space, plus what maps between them.

    Attributes: ``expr`` (the pyll graph), ``params`` (Param list in C index
    order), ``by_label``, ``labels_sorted`` (hyperopt's order of misc keys),
    ``exact`` (C activity equals graph reachability), ``c_space``.
    """

    def __init__(self, expr):
        self.expr = expr
        order = toposort(expr)
        self.hp_nodes = find_params(expr)
        self.labels_sorted = sorted(self.hp_nodes, key=_label_key)
        self.choice_nodes = set()  # ids of hp nodes used as tracked indices
        tracked = self._tracked_switches(order)
        conds, exact = self._conditions(order, tracked)
        self.exact = all(exact[id(n)] for n in self.hp_nodes.values())
        self.params = []
        self.by_label = {}
        self.c_space = _core.Space()
        self._add_all(conds)
        self._labels = [p.label for p in self.params]
        self._n = len(self.params)
        self._param_ids = {id(p.node): p for p in self.params}
        self._full = {}  # tid -> C values proposed (inexact spaces only)

    # ------------------------------------------------------------ compile

    def _tracked_switches(self, order):
        """Switches whose index is a choice parameter with as many options
        as the switch has branches."""
        tracked = {}
        for node in order:
            if node.name != "switch" or not node.pos_args:
                continue
            idx = node.pos_args[0]
            if idx.name != "hyperopt_param":
                continue
            label, dist = hp_label_and_dist(idx)
            n = self._n_options(label, dist)
            if n is not None and n == len(node.pos_args) - 1:
                tracked[id(node)] = idx
                self.choice_nodes.add(id(idx))
        return tracked

    def _n_options(self, label, dist):
        try:
            args = dist.arg
        except Exception:
            return None
        if dist.name == "randint":
            if _is_none_literal(args.get("high")):
                n = _try_const(args.get("low"))
                if isinstance(n, numbers.Integral) or (
                        isinstance(n, float) and n.is_integer()):
                    return int(n)
            return None
        if dist.name == "categorical":
            p = _try_const(args.get("p"))
            try:
                return len(p)
            except TypeError:
                return None
        return None

    def _conditions(self, order, tracked):
        cond = {}
        exact = {}

        def push(n, c, e):
            k = id(n)
            old = cond.get(k)
            if old is None:
                cond[k] = c
                exact[k] = e
            elif old == c:
                exact[k] = exact[k] and e
            else:
                cond[k] = _common_prefix(old, c)
                exact[k] = False

        root = order[-1]
        cond[id(root)] = ()
        exact[id(root)] = True
        for node in reversed(order):
            c = cond[id(node)]
            e = exact[id(node)]
            if node.name == "switch" and node.pos_args:
                push(node.pos_args[0], c, e)
                idx = tracked.get(id(node))
                for k, opt in enumerate(node.pos_args[1:]):
                    if idx is not None:
                        push(opt, c + ((idx, k),), e)
                    else:
                        push(opt, c + (_OPAQUE,), False)
                for _, v in node.named_args:
                    push(v, c, e)
            else:
                for inp in node.inputs():
                    push(inp, c, e)
        return cond, exact

    def _add_all(self, conds):
        adding = set()
        for label in self.labels_sorted:
            self._add(self.hp_nodes[label], conds, adding)

    def _add(self, node, conds, adding):
        label, dist_node = hp_label_and_dist(node)
        if label in self.by_label:
            return self.by_label[label]
        if id(node) in adding:
            return None  # a cycle of conditions: caller falls back to top
        adding.add(id(node))
        parent, option = None, 0
        for item in reversed(conds[id(node)]):
            if item is _OPAQUE:
                continue
            pnode, k = item
            if pnode is node:
                continue
            pp = self._add(pnode, conds, adding)
            if pp is not None:
                parent, option = pp.index, k
                break
        p = Param(label, node, dist_node)
        self._fill_spec(p, id(node) in self.choice_nodes)
        try:
            p.index = self.c_space.add(p.c_label, p.dist, parent=parent,
                                       option=option, **p.spec)
        except _core.SearchSpaceError as e:
            raise InvalidSearchSpace(str(e)) from None
        self.params.append(p)
        self.by_label[label] = p
        return p

    def _fill_spec(self, p, is_choice):
        label, dist = p.label, p.dist_node
        if dist.name not in _DISTS:
            raise InvalidSearchSpace(
                "hyperparameter '%s': distribution '%s' is not supported "
                "(use the hp.* constructors)" % (label, dist.name))
        cname, argnames = _DISTS[dist.name]
        try:
            args = dist.arg
        except TypeError as e:
            raise InvalidSearchSpace(
                "hyperparameter '%s': bad arguments for %s: %s"
                % (label, dist.name, e)) from None
        size = args.get("size")
        if size is not None and not (isinstance(size, Literal)
                                     and size.obj in ((), None)):
            raise InvalidSearchSpace(
                "hyperparameter '%s': size= is not supported" % (label,))
        vals = {}
        for a in argnames:
            if a not in args:
                raise InvalidSearchSpace(
                    "hyperparameter '%s': %s needs argument '%s'"
                    % (label, dist.name, a))
            vals[a] = _const(label, a, args[a])
        if cname == "randint":
            low, high = vals["low"], vals["high"]
            if high is None:
                low, high = 0, low
            low = _number(label, "low", low)
            high = _number(label, "high", high)
            if is_choice and low == 0:
                p.dist = "choice"
                p.spec = {"n_options": int(high)}
            else:
                p.dist = "randint"
                p.spec = {"low": low, "high": high}
            p.is_int = True
        elif cname == "pchoice":
            probs = [_number(label, "p", x) for x in np.ravel(vals["p"])]
            s = math.fsum(probs)
            if s > 0 and abs(s - 1.0) > 1e-9 and all(x >= 0 for x in probs):
                probs = [x / s for x in probs]
            p.dist = "pchoice"
            p.spec = {"probs": probs}
            p.is_int = True
        else:
            p.dist = cname
            p.spec = {a: _number(label, a, vals[a]) for a in argnames}

    # ----------------------------------------------------------- convert

    def __len__(self):
        return self._n

    @property
    def labels(self):
        """Labels in C index order."""
        return list(self._labels)

    def values_to_point(self, values):
        """C values -> {label: python value} of the active parameters."""
        point = {}
        params = self.params
        for i, v in enumerate(values):
            if v == v:  # not NaN
                p = params[i]
                point[p.label] = int(v) if p.is_int else v
        if not self.exact and point:
            active = self.active_labels(point)
            point = {k: v for k, v in point.items() if k in active}
        return point

    def misc_idxs_vals(self, tid, point):
        """(idxs, vals) of a misc for 'point' (every label, sorted)."""
        idxs = {}
        vals = {}
        get = point.get
        for label in self.labels_sorted:
            v = get(label, _MISSING)
            if v is _MISSING:
                idxs[label] = []
                vals[label] = []
            else:
                idxs[label] = [tid]
                vals[label] = [v]
        return idxs, vals

    def vals_to_values(self, vals):
        """A trial's misc['vals'] -> C values (NaN where absent)."""
        out = []
        nan = math.nan
        for label in self._labels:
            v = vals.get(label)
            if v:
                x = v[0]
                out.append(float(x) if x is not None else nan)
            else:
                out.append(nan)
        return out

    @property
    def signature(self):
        """The canonical form of the C space (equal for equal spaces)."""
        sig = self.__dict__.get("_signature")
        if sig is None:
            sig = self._signature = self.c_space.to_json()
        return sig

    def remember(self, tid, values):
        """Keep the full C proposal of trial 'tid' (inexact spaces: the
        values of parameters the C space thinks active but evaluation did
        not reach are needed when the trial is shown to a sampler)."""
        try:
            self._full[tid] = values
        except TypeError:
            pass

    def values_for_doc(self, doc):
        """C values of a trial document."""
        if self._full:
            try:
                v = self._full.get(doc["tid"])
            except TypeError:
                v = None
            if v is not None:
                return v
        return self.vals_to_values(doc["misc"]["vals"])

    def active_labels(self, point):
        """Labels that evaluation of the graph reaches at 'point'."""
        memo = {}
        for label, v in point.items():
            memo[self.hp_nodes[label]] = v
        active = set()
        seen = set()
        stack = [self.expr]
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if n.name == "hyperopt_param":
                label = n.pos_args[0].obj if n.pos_args else n.arg[
                    "label"].obj
                active.add(label)
                continue
            if n.name == "switch" and n.pos_args:
                idx = n.pos_args[0]
                stack.append(idx)
                try:
                    i = memo[idx] if idx in memo else rec_eval(
                        idx, memo=memo, print_node_on_error=False)
                    stack.append(n.pos_args[_switch_index(i) + 1])
                except Exception:
                    stack.extend(n.pos_args[1:])
                stack.extend(v for _, v in n.named_args)
                continue
            stack.extend(n.inputs())
        return active


def _label_key(label):
    return (isinstance(label, bytes), label)


def _is_none_literal(node):
    return node is None or (isinstance(node, Literal) and node.obj is None)


def _try_const(node):
    if node is None:
        return None
    if isinstance(node, Literal):
        return node.obj
    try:
        if _depends_on_params(node):
            return None
        return rec_eval(node, print_node_on_error=False)
    except Exception:
        return None


__all__ = ["CompiledSpace", "find_params", "hp_label_and_dist", "Param",
           "scope", "Apply"]
