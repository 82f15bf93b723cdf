"""The pyll expression graph: hyperopt's space representation, kept in Python.

A search space is a DAG of :class:`Apply` nodes. Each node names an
implementation registered in the global symbol table :data:`scope`; a
:class:`Literal` holds a constant. ``hp.*`` builds ``hyperopt_param`` nodes
(markers for optimizers); ``switch`` nodes (from ``hp.choice``) evaluate only
the selected branch. This module is written from the behaviour described in
hyperopt's documentation and spec; it shares no code with hyperopt.
"""

import copy
import functools
import inspect
import logging
import numbers
import time

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MAX_PROGRAM_LEN = 100000


class PyllImportError(ImportError):
    """A symbol could not be imported into the scope."""


class SymbolTableEntry:
    """A callable that builds an Apply node for one registered symbol."""

    def __init__(self, symbol_table, apply_name, o_len, pure):
        self.symbol_table = symbol_table
        self.apply_name = apply_name
        self.o_len = o_len
        self.pure = pure

    def __call__(self, *args, **kwargs):
        return self.symbol_table._new_apply(
            self.apply_name, args, kwargs, self.o_len, self.pure
        )

    def __repr__(self):
        return "<pyll symbol %r>" % (self.apply_name,)


class SymbolTable:
    """The namespace of pyll operations (the global instance is ``scope``).

    ``scope.foo(a, b)`` builds ``Apply('foo', [a, b])``; evaluation calls the
    Python function registered under ``'foo'``.
    """

    def __init__(self):
        # -- builtins that cannot be introspected are wrapped so that
        #    Apply.arg can bind their arguments.
        self._impls = {}

    def _new_apply(self, name, args, kwargs, o_len, pure):
        pos_args = [as_apply(a) for a in args]
        named_args = sorted((k, as_apply(v)) for k, v in kwargs.items())
        return Apply(name, pos_args=pos_args, named_args=named_args,
                     o_len=o_len, pure=pure)

    # -- builtins exposed as methods, as in hyperopt
    def dict(self, *args, **kwargs):
        return self._new_apply("dict", args, kwargs, o_len=None, pure=True)

    def int(self, arg):
        return self._new_apply("int", [arg], {}, o_len=None, pure=True)

    def float(self, arg):
        return self._new_apply("float", [arg], {}, o_len=None, pure=True)

    def len(self, obj):
        return self._new_apply("len", [obj], {}, o_len=None, pure=True)

    def list(self, init):
        return self._new_apply("list", [init], {}, o_len=None, pure=True)

    def range(self, *args):
        return self._new_apply("range", args, {}, o_len=None, pure=True)

    def max(self, *args):
        return self._new_apply("max", args, {}, o_len=None, pure=True)

    def min(self, *args):
        return self._new_apply("min", args, {}, o_len=None, pure=True)

    def getattr(self, obj, attr, *args):
        return self._new_apply("getattr", [obj, attr] + list(args), {},
                               o_len=None, pure=True)

    def map(self, fn, seq, pure=False):
        return self._new_apply("map", [fn, seq], {}, o_len=None, pure=pure)

    def _define(self, f, o_len, pure):
        name = f.__name__
        if hasattr(self, name) or name in self._impls:
            raise ValueError("Cannot override existing symbol", name)
        entry = SymbolTableEntry(self, name, o_len, pure)
        setattr(self, name, entry)
        self._impls[name] = f
        return f

    def define(self, f, o_len=None, pure=False):
        """Decorator: register ``f`` as a pyll operation named f.__name__."""
        return self._define(f, o_len=o_len, pure=pure)

    def define_if_new(self, f, o_len=None, pure=False):
        if f.__name__ in self._impls:
            return f
        return self._define(f, o_len=o_len, pure=pure)

    def define_pure(self, f):
        return self._define(f, o_len=None, pure=True)

    def define_info(self, o_len=None, pure=False):
        def wrapper(f):
            return self._define(f, o_len=o_len, pure=pure)

        return wrapper

    def undefine(self, f):
        name = f if isinstance(f, str) else f.__name__
        del self._impls[name]
        if name in self.__dict__:
            delattr(self, name)

    def inject(self, *args, **kwargs):
        """Register functions (positionally by __name__, or by keyword)."""
        for f in args:
            self._define(f, o_len=None, pure=False)
        for name, f in kwargs.items():
            if name in self._impls:
                raise ValueError("Cannot override existing symbol", name)
            self._impls[name] = f
            setattr(self, name, SymbolTableEntry(self, name, None, False))

    def import_(self, _globals, *args, **kwargs):
        for name in args:
            if name not in _globals:
                raise PyllImportError(name)
            self.inject(**{name: _globals[name]})
        for new_name, name in kwargs.items():
            self.inject(**{new_name: _globals[name]})

    def __getattr__(self, name):
        # -- only called for names not found normally
        if name.startswith("__"):
            raise AttributeError(name)
        impls = self.__dict__.get("_impls", {})
        if name in impls:
            return SymbolTableEntry(self, name, None, False)
        raise AttributeError(name)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)


scope = SymbolTable()


def _register_builtin(name, fn):
    scope._impls[name] = fn


# ----------------------------------------------------------------- Apply


class Apply:
    """A node of the expression graph: a call of ``scope._impls[name]``.

    ``pos_args`` is a list of Apply, ``named_args`` a list of
    ``[name, Apply]`` pairs (sorted by name when built through ``scope``).
    """

    def __init__(self, name, pos_args, named_args, o_len=None, pure=False,
                 define_params=None):
        self.name = name
        self.pos_args = list(pos_args)
        if isinstance(named_args, dict):
            named_args = list(named_args.items())
        self.named_args = [[kw, arg] for (kw, arg) in named_args]
        self.o_len = o_len
        self.pure = pure
        self.define_params = define_params
        for v in self.pos_args:
            if not isinstance(v, Apply):
                raise TypeError("pos_args must be Apply nodes", v)
        for k, v in self.named_args:
            if not isinstance(v, Apply):
                raise TypeError("named_args must be Apply nodes", v)
            if not isinstance(k, str):
                raise TypeError("named_args keys must be str", k)

    # -- pickling: the structure is plain data
    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)

    def eval(self, memo=None):
        return rec_eval(self, memo=memo)

    def inputs(self):
        rval = list(self.pos_args)
        rval.extend(v for _, v in self.named_args)
        return rval

    @property
    def arg(self):
        """The arguments bound to the implementation's parameter names.

        Values are Apply nodes (defaults become Literals); ``*args`` bind to
        a list and ``**kwargs`` to a dict of nodes.
        """
        fn = scope._impls[self.name]
        try:
            sig = _signature(fn)
        except (TypeError, ValueError):
            rval = {str(i): a for i, a in enumerate(self.pos_args)}
            rval.update(dict((k, v) for k, v in self.named_args))
            return rval
        bound = sig.bind_partial(*self.pos_args,
                                 **dict((k, v) for k, v in self.named_args))
        rval = {}
        for pname, param in sig.parameters.items():
            if pname in bound.arguments:
                val = bound.arguments[pname]
                if param.kind == param.VAR_POSITIONAL:
                    val = list(val)
                elif param.kind == param.VAR_KEYWORD:
                    val = dict(val)
                rval[pname] = val
            elif param.default is not param.empty:
                rval[pname] = Literal(param.default)
        return rval

    def set_kwarg(self, name, value):
        for ii, (key, _) in enumerate(self.named_args):
            if key == name:
                self.named_args[ii][1] = as_apply(value)
                return
        self.named_args.append([name, as_apply(value)])
        self.named_args.sort(key=lambda kv: kv[0])

    def clone_from_inputs(self, inputs, o_len="same"):
        if len(inputs) != len(self.inputs()):
            raise TypeError("wrong number of inputs")
        n_pos = len(self.pos_args)
        pos_args = inputs[:n_pos]
        named_args = [[kw, v] for (kw, _), v in
                      zip(self.named_args, inputs[n_pos:])]
        if o_len == "same":
            o_len = self.o_len
        return self.__class__(self.name, pos_args, named_args, o_len,
                              self.pure, self.define_params)

    def replace_input(self, old_node, new_node):
        rval = []
        for ii, aa in enumerate(self.pos_args):
            if aa is old_node:
                self.pos_args[ii] = new_node
                rval.append(ii)
        for ii, (nn, aa) in enumerate(self.named_args):
            if aa is old_node:
                self.named_args[ii][1] = new_node
                rval.append(ii + len(self.pos_args))
        return rval

    def pprint(self, ofile, lineno=None, indent=0, memo=None):
        if memo is None:
            memo = {}
        if lineno is None:
            lineno = [0]
        if self in memo:
            print(lineno[0], " " * indent + memo[self], file=ofile)
            lineno[0] += 1
        else:
            memo[self] = self.name + ("  [line:%i]" % lineno[0])
            print(lineno[0], " " * indent + self.name, file=ofile)
            lineno[0] += 1
            for arg in self.pos_args:
                arg.pprint(ofile, lineno, indent + 2, memo)
            for name, arg in self.named_args:
                print(lineno[0], " " * indent + " " + name + " =", file=ofile)
                lineno[0] += 1
                arg.pprint(ofile, lineno, indent + 2, memo)

    def __str__(self):
        import io

        sio = io.StringIO()
        self.pprint(sio)
        return sio.getvalue()[:-1]

    def __repr__(self):
        return "<pyll.Apply %s at 0x%x>" % (self.name, id(self))

    # -- operators build nodes
    def __add__(self, other):
        return scope.add(self, other)

    def __radd__(self, other):
        return scope.add(other, self)

    def __sub__(self, other):
        return scope.sub(self, other)

    def __rsub__(self, other):
        return scope.sub(other, self)

    def __neg__(self):
        return scope.neg(self)

    def __mul__(self, other):
        return scope.mul(self, other)

    def __rmul__(self, other):
        return scope.mul(other, self)

    def __truediv__(self, other):
        return scope.truediv(self, other)

    def __rtruediv__(self, other):
        return scope.truediv(other, self)

    def __floordiv__(self, other):
        return scope.floordiv(self, other)

    def __rfloordiv__(self, other):
        return scope.floordiv(other, self)

    def __pow__(self, other):
        return scope.pow(self, other)

    def __rpow__(self, other):
        return scope.pow(other, self)

    def __gt__(self, other):
        return scope.gt(self, other)

    def __ge__(self, other):
        return scope.ge(self, other)

    def __lt__(self, other):
        return scope.lt(self, other)

    def __le__(self, other):
        return scope.le(self, other)

    # -- identity semantics for == and hashing (nodes are dict keys)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __getitem__(self, idx):
        if self.o_len is not None and isinstance(idx, int):
            if idx >= self.o_len:
                # -- lets tuple unpacking and list() stop
                raise IndexError()
        return scope.getitem(self, idx)

    def __len__(self):
        if self.o_len is None:
            raise TypeError("len of pyll.Apply either undefined or unknown")
        return self.o_len

    def __call__(self, *args, **kwargs):
        return scope.call(self, args, kwargs)


_SIG_CACHE = {}


def _signature(fn):
    try:
        return _SIG_CACHE[fn]
    except (KeyError, TypeError):
        pass
    sig = inspect.signature(fn)
    try:
        _SIG_CACHE[fn] = sig
    except TypeError:
        pass
    return sig


class Literal(Apply):
    """A constant leaf of the graph."""

    def __init__(self, obj=None):
        try:
            o_len = len(obj)
        except (AttributeError, TypeError):
            o_len = None
        Apply.__init__(self, "literal", [], {}, o_len, pure=True)
        self._obj = obj

    @property
    def obj(self):
        return self._obj

    def pprint(self, ofile, lineno=None, indent=0, memo=None):
        if lineno is None:
            lineno = [0]
        if memo is None:
            memo = {}
        if self in memo:
            print(lineno[0], " " * indent + memo[self], file=ofile)
        else:
            # TODO: set up a registry for this
            if isinstance(self._obj, np.ndarray):
                msg = "Literal{np.ndarray,shape=%s,min=%f,max=%f}" % (
                    self._obj.shape, self._obj.min(), self._obj.max())
            else:
                msg = "Literal{%s}" % str(self._obj)
            memo[self] = "%s  [line:%i]" % (msg, lineno[0])
            print(lineno[0], " " * indent + msg, file=ofile)
        lineno[0] += 1

    def replace_input(self, old_node, new_node):
        return []

    def clone_from_inputs(self, inputs, o_len="same"):
        return self.__class__(self._obj)

    def __repr__(self):
        return "<pyll.Literal %r>" % (self._obj,)


class Lambda:
    """A pyll function: ``Lambda(name, params, expr)`` evaluated by binding
    its parameter nodes in the memo (used by ``scope.partial``-style code)."""

    def __init__(self, name, params, expr):
        self.__name__ = name
        self.params = params  # list of (name, default-or-Apply placeholder)
        self.expr = expr

    def __call__(self, *args, **kwargs):
        memo = {}
        for (pname, pnode), arg in zip(self.params, args):
            memo[pnode] = arg
        names = dict(self.params)
        for k, v in kwargs.items():
            memo[names[k]] = v
        return rec_eval(self.expr, memo=memo)


class UndefinedValue:
    """Marks a Lambda parameter without a default."""


class _GarbageCollected:
    """Sentinel for inactive hyperparameters in an evaluation memo."""

    def __repr__(self):
        return "GarbageCollected"

    def __reduce__(self):
        return "GarbageCollected"


GarbageCollected = _GarbageCollected()


def as_apply(obj):
    """Smart way of turning an object into an Apply.

    Apply -> itself; tuple -> pos_args (o_len known); list -> pos_args (so a
    list evaluates to a tuple); dict with str keys -> dict node with sorted
    keys; other dicts -> dict of (key, value) pairs; anything else -> Literal.
    """
    if isinstance(obj, Apply):
        return obj
    if isinstance(obj, tuple):
        return Apply("pos_args", [as_apply(a) for a in obj], {}, len(obj))
    if isinstance(obj, list):
        return Apply("pos_args", [as_apply(a) for a in obj], {}, None)
    if isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda kv: kv[0])
        if all(isinstance(k, str) for k in obj):
            named_args = [(k, as_apply(v)) for (k, v) in items]
            return Apply("dict", [], named_args, len(named_args))
        new_items = [(k, as_apply(v)) for (k, v) in items]
        return Apply("dict", [as_apply(new_items)], {}, o_len=None)
    return Literal(obj)


# ------------------------------------------------------------ traversal


def dfs(aa, seq=None, seqset=None):
    """Nodes reachable from ``aa``, each once, inputs before consumers."""
    if seq is None:
        seq = []
        seqset = {}
    root = as_apply(aa)
    if id(root) in seqset:
        return seq
    stack = [(root, iter(root.inputs()))]
    seqset[id(root)] = root
    while stack:
        node, it = stack[-1]
        for child in it:
            if id(child) not in seqset:
                seqset[id(child)] = child
                stack.append((child, iter(child.inputs())))
                break
        else:
            stack.pop()
            seq.append(node)
    return seq


class PyllCycleError(ValueError):
    """The expression graph contains a cycle."""


def toposort(expr):
    """Nodes of ``expr`` in an order where inputs precede consumers.

    Raises PyllCycleError when the graph has a cycle (hyperopt raises
    networkx.NetworkXUnfeasible there).
    """
    root = as_apply(expr)
    WHITE, GRAY = 0, 1
    color = {id(root): GRAY}
    order = []
    stack = [(root, iter(root.inputs()))]
    while stack:
        node, it = stack[-1]
        for child in it:
            c = color.get(id(child))
            if c is None:
                color[id(child)] = GRAY
                stack.append((child, iter(child.inputs())))
                break
            if c == GRAY:
                raise PyllCycleError("the search space graph has a cycle")
        else:
            stack.pop()
            color[id(node)] = WHITE + 2
            order.append(node)
    return order


def clone(expr, memo=None):
    """A deep copy of the graph (shared nodes stay shared)."""
    if memo is None:
        memo = {}
    root = as_apply(expr)
    for node in dfs(root):
        if node not in memo:
            new_inputs = [memo[arg] for arg in node.inputs()]
            memo[node] = node.clone_from_inputs(new_inputs)
    return memo[root]


def clone_merge(expr, memo=None, merge_literals=False):
    """Clone, merging pure nodes that compute the same thing."""
    nodes = dfs(expr)
    if memo is None:
        memo = {}
    # -- key -> canonical node
    by_key = {}
    for node in nodes:
        if node in memo:
            continue
        new_inputs = [memo[arg] for arg in node.inputs()]
        if isinstance(node, Literal):
            if merge_literals:
                try:
                    key = ("literal", type(node.obj), node.obj)
                    hash(key)
                except TypeError:
                    key = None
                if key is not None and key in by_key:
                    memo[node] = by_key[key]
                    continue
                cl = node.clone_from_inputs([])
                if key is not None:
                    by_key[key] = cl
                memo[node] = cl
            else:
                memo[node] = node
            continue
        if node.pure:
            key = (node.name, tuple(id(i) for i in new_inputs[:len(node.pos_args)]),
                   tuple((k, id(v)) for (k, _), v in
                         zip(node.named_args, new_inputs[len(node.pos_args):])))
            if key in by_key:
                memo[node] = by_key[key]
                continue
            cl = node.clone_from_inputs(new_inputs)
            by_key[key] = cl
            memo[node] = cl
        else:
            memo[node] = node.clone_from_inputs(new_inputs)
    return memo[nodes[-1]]


# ------------------------------------------------------------ evaluation


def _switch_index(i):
    """The branch index of a switch: any integral value (Python int, numpy
    integer, 0-d array, integral float) is accepted (spec §10.1)."""
    if isinstance(i, np.ndarray):
        if i.ndim != 0 and i.size != 1:
            raise TypeError("switch argument was", i)
        i = i.reshape(()).item()
    if isinstance(i, bool):
        return int(i)
    if isinstance(i, numbers.Integral):
        ii = int(i)
    else:
        try:
            ii = int(i)
        except Exception:
            raise TypeError("switch argument was", i)
        if ii != i:
            raise ValueError("switch pos must be a non-negative int", i)
    if ii < 0:
        raise ValueError("switch pos must be a non-negative int", i)
    return ii


def rec_eval(expr, deepcopy_inputs=False, memo=None, max_program_len=None,
             memo_gc=True, print_trace=False, print_node_on_error=True):
    """Evaluate ``expr`` (iteratively, so deep graphs are fine).

    ``memo`` maps nodes to precomputed values (e.g. hyperopt_param nodes to
    hyperparameter values); it is not modified. ``switch`` is lazy: only the
    selected branch is evaluated. An implementation returning an Apply is
    evaluated in turn. ``memo_gc`` is accepted for compatibility (values are
    not garbage-collected early here).
    """
    if max_program_len is None:
        max_program_len = DEFAULT_MAX_PROGRAM_LEN
    if deepcopy_inputs not in (0, 1, False, True):
        raise ValueError("deepcopy_inputs should be bool", deepcopy_inputs)
    node = as_apply(expr)
    topnode = node
    memo = {} if memo is None else dict(memo)
    impls = scope._impls
    todo = [topnode]
    while todo:
        if len(todo) > max_program_len:
            raise RuntimeError("Probably infinite loop in document")
        node = todo.pop()
        if node in memo:
            continue
        if isinstance(node, Literal):
            memo[node] = node._obj
            continue
        if print_trace:
            print("rec_eval:", node.name)
        if node.name == "switch":
            switch_i_var = node.pos_args[0]
            if switch_i_var in memo:
                switch_i = _switch_index(memo[switch_i_var])
                try:
                    rval_var = node.pos_args[switch_i + 1]
                except IndexError:
                    raise ValueError("switch index out of range", switch_i)
                if rval_var in memo:
                    memo[node] = memo[rval_var]
                    continue
                waiting_on = [rval_var]
            else:
                waiting_on = [switch_i_var]
        else:
            waiting_on = [v for v in node.pos_args if v not in memo]
            waiting_on.extend(v for _, v in node.named_args if v not in memo)
        if waiting_on:
            todo.append(node)
            todo.extend(waiting_on)
            continue
        args = [memo[v] for v in node.pos_args]
        kwargs = {k: memo[v] for (k, v) in node.named_args}
        if deepcopy_inputs:
            args = copy.deepcopy(args)
            kwargs = copy.deepcopy(kwargs)
        try:
            rval = impls[node.name](*args, **kwargs)
        except Exception as e:
            if print_node_on_error:
                print("=" * 80)
                print("ERROR in rec_eval")
                print("EXCEPTION", type(e), str(e))
                print("NODE")
                print(node)
                print("=" * 80)
            raise
        if isinstance(rval, Apply):
            rval = rec_eval(rval, deepcopy_inputs, memo,
                            max_program_len=max_program_len,
                            print_node_on_error=print_node_on_error)
        memo[node] = rval
    return memo[topnode]


# ------------------------------------------------------------ built-in ops

for _name, _fn in [
    ("list", list), ("dict", dict), ("range", range), ("len", len),
    ("int", int), ("float", float), ("map", map), ("max", max),
    ("min", min), ("getattr", getattr),
]:
    _register_builtin(_name, _fn)


@scope.define_pure
def pos_args(*args):
    return args


@scope.define_pure
def identity(obj):
    return obj


@scope.define_pure
def hyperopt_param(label, obj):
    """A hyperparameter: identity at evaluation, a marker for optimizers."""
    return obj


@scope.define_info(o_len=None, pure=True)
def switch(index, *args):
    # -- rec_eval handles switch lazily; this is for direct calls
    return args[_switch_index(index)]


@scope.define_pure
def getitem(obj, idx):
    return obj[idx]


@scope.define_pure
def add(a, b):
    return a + b


@scope.define_pure
def sub(a, b):
    return a - b


@scope.define_pure
def mul(a, b):
    return a * b


@scope.define_pure
def truediv(a, b):
    return a / b


@scope.define_pure
def div(a, b):
    return a / b


@scope.define_pure
def floordiv(a, b):
    return a // b


@scope.define_pure
def neg(a):
    return -a


def _op_pow(a, b):
    return a ** b


@scope.define_pure
def mod(a, b):
    return a % b


@scope.define_pure
def lt(a, b):
    return a < b


@scope.define_pure
def le(a, b):
    return a <= b


@scope.define_pure
def eq(a, b):
    return a == b


@scope.define_pure
def ne(a, b):
    return a != b


@scope.define_pure
def gt(a, b):
    return a > b


@scope.define_pure
def ge(a, b):
    return a >= b


@scope.define_pure
def exp(a):
    return np.exp(a)


@scope.define_pure
def log(a):
    return np.log(a)


@scope.define_pure
def sqrt(a):
    return np.sqrt(a)


@scope.define_pure
def sin(a):
    return np.sin(a)


@scope.define_pure
def cos(a):
    return np.cos(a)


@scope.define_pure
def tan(a):
    return np.tan(a)


@scope.define_pure
def minimum(x, y):
    return np.minimum(x, y)


@scope.define_pure
def maximum(x, y):
    return np.maximum(x, y)


def _op_abs(x):
    return np.abs(x)


def _op_round(x, ndigits=None):
    return np.round(x, ndigits or 0)


def _op_sum(x, axis=None):
    if axis is None:
        return np.sum(x)
    return np.sum(x, axis=axis)


# -- ops named like Python builtins: registered under the op name without
#    shadowing the builtins in this module.
for _f, _n in [(_op_pow, "pow"), (_op_abs, "abs"), (_op_round, "round"),
               (_op_sum, "sum")]:
    _f.__name__ = _n
    scope.define_pure(_f)


@scope.define_pure
def asarray(a, dtype=None):
    if dtype is None:
        return np.asarray(a)
    return np.asarray(a, dtype=dtype)


@scope.define_pure
def array(a):
    return np.array(a)


@scope.define_pure
def str_join(s, seq):
    return s.join(seq)


@scope.define_pure
def array_union(a, b):
    return np.union1d(a, b)


@scope.define_pure
def repeat(n_times, obj):
    return [obj] * n_times


@scope.define_pure
def bincount(x, offset=0, weights=None, minlength=0, p=None):
    y = np.asarray(x, dtype="int")
    # hyperopt's version also accepts an empty x
    if y.size == 0:
        return np.zeros(minlength, dtype=int)
    return np.bincount(y - offset, weights, minlength)


@scope.define
def call(fn, args=(), kwargs={}):  # noqa: B006 - read-only default
    return fn(*args, **kwargs)


@scope.define
def callpipe1(fn_list, arg):
    for f in fn_list:
        arg = f(arg)
    return arg


@scope.define
def call_method(obj, methodname, *args, **kwargs):
    method = getattr(obj, methodname)
    return method(*args, **kwargs)


@scope.define_pure
def call_method_pure(obj, methodname, *args, **kwargs):
    method = getattr(obj, methodname)
    return method(*args, **kwargs)


@scope.define_pure
def copy_call_method_pure(obj, methodname, *args, **kwargs):
    # -- this method copies object before calling the method
    #    so that in the case where the method modifies the object
    #    the result is pure
    method = getattr(copy.copy(obj), methodname)
    return method(*args, **kwargs)


@scope.define
def partial(name, *args, **kwargs):
    """``scope.partial(fn_or_symbol_name, *args)``: a partially applied
    callable usable with ``scope.call`` / ``callpipe1``."""
    fn = scope._impls[name] if isinstance(name, str) else name
    return functools.partial(fn, *args, **kwargs)


@scope.define
def Raise(etype, *args, **kwargs):  # noqa: N802 - hyperopt's name
    raise etype(*args, **kwargs)


@scope.define_info(o_len=2)
def curtime(obj):
    return time.time(), obj


@scope.define
def pdb_settrace(obj):
    import pdb

    pdb.set_trace()
    return obj


def _kwswitch(kw, **cases):
    """``scope.kwswitch(kw, a=..., b=...)``: a switch on a string key among
    the sorted case names (only the selected case is evaluated)."""
    keys = sorted(cases)
    return scope.switch(scope.call_method_pure(tuple(keys), "index", kw),
                        *[cases[k] for k in keys])


scope.kwswitch = _kwswitch

del _name, _fn, _f, _n
