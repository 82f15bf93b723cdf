"""A parzen run as an Optuna study: open it in optuna-dashboard.

:func:`to_optuna` writes the trials of a run into an Optuna storage (any
URL Optuna takes: ``sqlite:///optuna.db``, a database server, a journal
file) through Optuna's own API, so optuna-dashboard, Optuna's plots and
``optuna.load_study`` read it like any study. ``parzen export --format
optuna --to URL`` runs :func:`main` (docs/cli.md). Optuna is an optional
dependency: ``pip install "parzen[optuna]"``.

What is written, per trial (docs/python.md, "Look at a run"):

- the **parameters that are active** in the trial (a parameter under a
  choice option the trial did not take is absent, as in Optuna's
  define-by-run studies), each with the distribution matching its ``hp``
  kind: ``choice``/``pchoice`` -> ``CategoricalDistribution`` (the options
  when they are distinct numbers, strings, booleans or null; for options
  that are dicts, their values at the first key whose values are distinct
  scalars, a string-valued key first: ``{"name": "rbf", ...}`` -> ``"rbf"``;
  else the option indices, hyperopt's ``trials.vals`` form); ``uniform`` and
  ``normal`` -> ``FloatDistribution``; ``loguniform``/``lognormal`` ->
  ``log=True`` (bounds ``exp(low)``, ``exp(high)``); a ``q`` ->
  ``step=q`` on the grid of multiples of ``q`` that the quantized values
  lie on (Optuna takes ``step`` or ``log``, not both: ``qlog*`` get the
  step); ``randint``/``uniformint`` -> ``IntDistribution``. Unbounded
  priors (``normal``, ``lognormal``...) get ``mu +- 3 sigma``; every range
  is widened to hold every exported value;
- the **state**: done -> COMPLETE with the loss as the value (minimize);
  a done trial whose status is not ``ok`` or whose loss is missing or NaN,
  error and cancel -> FAIL; running -> RUNNING; new -> WAITING;
- start and finish times (the duration), and user attributes
  ``parzen_tid``, ``parzen_state``, ``parzen_status`` and, for failures,
  ``parzen_error``;
- pruned (a store's state 5, or a done document whose result has a true
  ``"pruned"``) -> PRUNED with its last reported value as the value;
- **intermediate values**: a store's reports (``parzen run`` with
  ``PARZEN_REPORT_FILE``, ``Store.report``), else where the result
  document has ``"intermediate_values"``: ``{step: value}``, a list of
  ``[step, value]`` pairs, or a list of values (step = index).
"""

import argparse
import datetime
import json
import math
import os
import sys

from . import _core, base
from .base import (
    JOB_STATE_DONE,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
)

__all__ = ["to_optuna", "main"]

_STATE_NAMES = {s: _core.trial_state_name(s)
                for s in tuple(base.JOB_STATES) + (_core.STATE_PRUNED,)}
_PRUNED = _core.STATE_PRUNED  # a store's pruned trial
_SCALARS = (type(None), bool, int, float, str)
_OPAQUE = object()  # an option (or a dict value) that is not a literal
#: prior width (in sigmas) given to unbounded distributions
_SIGMAS = 3.0


class ExportError(ValueError):
    """A run that cannot be exported as asked (the message says why)."""


def _import_optuna():
    try:
        import optuna
    except ImportError as e:
        raise ImportError(
            "parzen.export needs Optuna (%s): pip install \"parzen[optuna]\""
            % (e,)) from None
    return optuna


# ------------------------------------------------------------- the rows


class _Row:
    """One trial, whatever it came from."""

    __slots__ = ("tid", "state", "status", "loss", "values", "start", "end",
                 "result", "error", "reports", "pruned")


def _local(dt_utc):
    """A naive UTC datetime as naive local time (Optuna's convention)."""
    if dt_utc is None:
        return None
    return dt_utc.replace(tzinfo=datetime.timezone.utc).astimezone() \
        .replace(tzinfo=None)


def _from_unix(seconds):
    if seconds is None or seconds != seconds:
        return None
    return datetime.datetime.fromtimestamp(seconds)


def _record_rows(records):
    """Rows from store records (``_core.Store.trials()``)."""
    from .store import record_result

    rows = []
    for rec in records:
        r = _Row()
        r.tid, r.state, r.status = rec["id"], rec["state"], rec["status"]
        r.loss, r.values = rec["loss"], list(rec["values"])
        r.start = _from_unix(rec["started_at"])
        r.end = _from_unix(rec["finished_at"])
        r.error = rec["error"]
        r.reports = {int(s): float(v)
                     for s, v in rec.get("intermediate_values") or ()}
        r.pruned = r.state == _PRUNED
        result = record_result(rec)[1]
        r.result = result if isinstance(result, dict) else None
        rows.append(r)
    return rows


def _doc_rows(docs, compiled):
    """Rows from hyperopt trial documents."""
    rows = []
    for doc in docs:
        r = _Row()
        r.tid, r.state = doc["tid"], doc["state"]
        result = doc.get("result")
        r.result = result if isinstance(result, dict) else None
        r.reports = None
        r.pruned = bool(r.result and r.result.get("pruned")) and \
            r.state == JOB_STATE_DONE
        r.status = r.result.get("status") if r.result else None
        r.loss = None
        if r.result is not None and r.state == JOB_STATE_DONE:
            try:
                r.loss = float(r.result.get("loss"))
            except (TypeError, ValueError):
                r.loss = None
        r.values = list(compiled.values_for_doc(doc))
        r.start = _local(doc.get("book_time"))
        r.end = _local(doc.get("refresh_time"))
        err = doc.get("misc", {}).get("error")
        r.error = ("%s: %s" % tuple(err) if isinstance(err, (list, tuple))
                   and len(err) == 2 else (None if err is None else str(err)))
        rows.append(r)
    return rows


# --------------------------------------------------------- the sources


def _json_choices(space_json):
    """{label: [option, ...]} of the choices of a space's JSON form."""
    out = {}

    def walk(node, key):
        if isinstance(node, list):
            for v in node:
                walk(v, None)
        elif isinstance(node, dict):
            kind = node.get("hp")
            if kind in ("choice", "pchoice"):
                label = node.get("label", key)
                opts = node.get("options") or []
                if kind == "pchoice":
                    opts = [o[1] if isinstance(o, list) and len(o) == 2
                            else o for o in opts]
                out[label] = [_json_option(o) for o in opts]
                walk(opts, None)
            elif kind is None:
                for k, v in node.items():
                    walk(v, k)

    walk(json.loads(space_json), None)
    return out


def _json_literal(v):
    """A scalar literal of the JSON form, or _OPAQUE."""
    if isinstance(v, dict) and v.get("hp") == "const":
        v = v.get("value")
    return v if type(v) in _SCALARS else _OPAQUE


def _json_option(o):
    """An option of the JSON form: a scalar, {key: scalar or _OPAQUE}
    for a dict, or _OPAQUE."""
    if isinstance(o, dict) and "hp" not in o:
        return {k: _json_literal(v) for k, v in o.items()}
    return _json_literal(o)


def _graph_option(node):
    """An option of an hp graph, described as _json_option does."""
    from .pyll.base import Literal

    if isinstance(node, Literal):
        obj = node.obj
        if isinstance(obj, dict):
            return {k: v if type(v) in _SCALARS else _OPAQUE
                    for k, v in obj.items()}
        return obj if type(obj) in _SCALARS else _OPAQUE
    if node.name == "dict" and not node.pos_args:
        return {k: v.obj if isinstance(v, Literal) and type(v.obj) in
                _SCALARS else _OPAQUE for k, v in node.named_args}
    return _OPAQUE


def _graph_choices(compiled):
    """{label: [option, ...]} of the choices of an hp graph (options
    described as _json_option does)."""
    from .pyll.base import toposort

    out = {}
    by_node = {id(p.node): p for p in compiled.params
               if p.dist in ("choice", "pchoice")}
    for node in toposort(compiled.expr):
        if node.name != "switch" or not node.pos_args:
            continue
        p = by_node.get(id(node.pos_args[0]))
        if p is not None:
            out[p.c_label] = [_graph_option(o) for o in node.pos_args[1:]]
    return out


def _compiled_of(space):
    """The CompiledSpace for a plain Trials (which keeps documents, not
    the space they were drawn from)."""
    if space is None:
        raise ExportError(
            "to_optuna: a Trials keeps documents, not the space they were "
            "drawn from: pass space= (the space given to fmin)")
    dom = space if isinstance(space, base.Domain) else \
        base.Domain(None, space)
    return dom.compiled


def _source(trials, space, source_study):
    """(rows, C space, {label: options}, default study name)."""
    from .store import StoreTrials

    if isinstance(trials, (str, bytes, os.PathLike)):
        path = os.fsdecode(os.fspath(trials))
        with _core.Store(path, create=False) as store:
            try:
                info = store.open_study(source_study)
            except _core.NotFoundError:
                raise _core.NotFoundError(
                    "%s: no study '%s' (parzen status --store %s lists them)"
                    % (path, source_study, path)) from None
            records = store.trials()
        sj = info["space_json"]
        return (_record_rows(records), _core.Space.from_json(sj),
                _json_choices(sj), source_study)
    if isinstance(trials, StoreTrials):
        trials.refresh()  # writes outcomes still pending
        info = trials._pz.info
        if info is None:
            raise ExportError("%s: study '%s' has no trials yet"
                              % (trials.path, trials.study))
        sj = info["space_json"]
        # -- the domain fmin attached knows literal options the JSON form
        # of an hp space does not keep
        compiled = trials._pz.compiled
        choices = _graph_choices(compiled) if compiled is not None \
            else _json_choices(sj)
        return (_record_rows(trials.store.trials()),
                _core.Space.from_json(sj), choices, trials.study)
    if isinstance(trials, base.Trials):
        compiled = _compiled_of(space)
        # -- every document of the experiment: trials.trials leaves out
        # ERROR ones (hyperopt's JOB_VALID_STATES), the dashboard shows them
        key = trials._exp_key
        docs = [d for d in trials._dynamic_trials
                if key is None or d.get("exp_key") == key]
        return (_doc_rows(docs, compiled),
                compiled.c_space, _graph_choices(compiled), "parzen")
    raise TypeError("to_optuna: trials must be a Trials, a StoreTrials or "
                    "a store path, got %s" % type(trials).__name__)


# ------------------------------------------------------ distributions


def _grid(optuna, q, lo, hi, seen):
    """FloatDistribution(step=q) on multiples of q holding [lo, hi] and
    every value seen (quantized values are round(x/q)*q)."""
    ks = [round(lo / q), round(hi / q)] + [round(v / q) for v in seen]
    return optuna.distributions.FloatDistribution(min(ks) * q, max(ks) * q,
                                                  step=q)


def _float(optuna, lo, hi, seen, log=False):
    lo, hi = min([lo] + seen), max([hi] + seen)
    if log and lo <= 0:  # an exp() that underflowed: no log scale
        log = False
    return optuna.distributions.FloatDistribution(lo, hi, log=log)


def _distinct(values):
    """Distinct scalars Optuna can hold as choices (1 and True are not)."""
    return all(v is not _OPAQUE and type(v) in _SCALARS and
               (type(v) is not float or math.isfinite(v)) for v in values) \
        and len(set(values)) == len(values)


def _names(options):
    """Choice names: the options when they are distinct scalars; for dict
    options, their values at the first key (a string-valued one first)
    whose values are distinct scalars ({"name": "rbf", ...} -> "rbf");
    else None."""
    if _distinct(options):
        return list(options)
    if not all(type(o) is dict for o in options):
        return None
    for want_str in (True, False):
        for key in options[0]:
            values = [o.get(key, _OPAQUE) for o in options]
            if _distinct(values) and (not want_str or all(
                    type(v) is str for v in values)):
                return values
    return None


def _categorical(optuna, n, options):
    """Choices: named as _names says, else the option indices."""
    names = _names(options) if options is not None and \
        len(options) == n else None
    choices = names if names is not None else list(range(n))
    return optuna.distributions.CategoricalDistribution(choices), choices


_BOUNDED = ("uniform", "quniform", "loguniform", "qloguniform")
_NORMAL = ("normal", "qnormal", "lognormal", "qlognormal")


def _distribution(optuna, p, seen, options):
    """(Optuna distribution, value -> Optuna value) of C parameter p."""
    d = p["dist"]
    lo, hi, mu, sigma, q = p["low"], p["high"], p["mu"], p["sigma"], p["q"]
    dists = optuna.distributions
    if d in ("choice", "pchoice"):
        dist, choices = _categorical(optuna, p["n_options"], options)
        return dist, lambda v: choices[int(v)]
    if d == "randint":
        return dists.IntDistribution(int(min([lo] + seen)),
                                     int(max([hi - 1] + seen))), int
    if d == "uniformint":
        return dists.IntDistribution(int(min([round(lo)] + seen)),
                                     int(max([round(hi)] + seen))), int
    if d in _BOUNDED or d in _NORMAL:
        # -- a float range: the bounds, or _SIGMAS around a normal's mean
        #    (an Optuna distribution is bounded); exp() for the log family
        a, b = (lo, hi) if d in _BOUNDED else \
            (mu - _SIGMAS * sigma, mu + _SIGMAS * sigma)
        log = "log" in d
        if log:
            a, b = math.exp(a), math.exp(b)
        if d.startswith("q"):
            return _grid(optuna, q, a, b, seen), float
        return _float(optuna, a, b, seen, log), float
    raise ExportError("parameter '%s': distribution '%s' has no Optuna "
                      "counterpart" % (p["label"], d))


def _distributions(optuna, space, rows, choices):
    out = []
    for i in range(len(space)):
        p = space.param(i)
        seen = [r.values[i] for r in rows if r.values[i] == r.values[i]]
        dist, conv = _distribution(optuna, p, seen,
                                   choices.get(p["label"]))
        out.append((p["label"], dist, conv))
    return out


# ---------------------------------------------------------- the trials


def _intermediate(result, tid):
    from ._engine import intermediate_pairs

    try:
        return dict(intermediate_pairs(
            result.get("intermediate_values") if result else None))
    except ValueError as e:
        raise ExportError("trial %s: %s" % (tid, e)) from None


def _state_value(optuna, r):
    """(Optuna state, value or None, why it failed or None)."""
    S = optuna.trial.TrialState
    if r.pruned:
        ok = r.loss is not None and r.loss == r.loss
        return S.PRUNED, float(r.loss) if ok else None, None
    if r.state == JOB_STATE_DONE:
        status = r.status if r.status is not None else base.STATUS_OK
        if status != base.STATUS_OK:
            return S.FAIL, None, "status '%s'" % (status,)
        if r.loss is None or r.loss != r.loss:
            return S.FAIL, None, "no loss"
        return S.COMPLETE, float(r.loss), None
    if r.state == JOB_STATE_RUNNING:
        return S.RUNNING, None, None
    if r.state == JOB_STATE_NEW:
        return S.WAITING, None, None
    return S.FAIL, None, r.error or _STATE_NAMES.get(r.state, "error")


def _frozen(optuna, r, dists):
    state, value, why = _state_value(optuna, r)
    params, distributions = {}, {}
    for i, (label, dist, conv) in enumerate(dists):
        v = r.values[i]
        if v == v:  # active in this trial
            params[label] = conv(v)
            distributions[label] = dist
    start = end = None
    if state != optuna.trial.TrialState.WAITING:
        start = r.start or r.end or datetime.datetime.now()
    if state.is_finished():
        end = r.end or start
    attrs = {"parzen_tid": r.tid,
             "parzen_state": _STATE_NAMES.get(r.state, str(r.state))}
    if r.status is not None:
        attrs["parzen_status"] = r.status
    if why is not None and state == optuna.trial.TrialState.FAIL:
        attrs["parzen_error"] = why
    return optuna.trial.FrozenTrial(
        number=-1, trial_id=-1, state=state, value=value, values=None,
        datetime_start=start, datetime_complete=end, params=params,
        distributions=distributions, user_attrs=attrs, system_attrs={},
        intermediate_values=r.reports if r.reports else
        _intermediate(r.result, r.tid))


def to_optuna(trials, storage_url, study_name=None, *, space=None,
              source_study="default", replace=False):
    """Write a parzen run into an Optuna storage; returns the
    ``optuna.Study``.

    ``trials``: a :class:`~parzen.base.Trials` with ``space=``, the space
    given to fmin (choices show their literal options), a
    :class:`~parzen.store.StoreTrials`, or the path of a store file (read
    only; ``source_study`` names the study in it). ``storage_url``: an
    Optuna storage URL (``sqlite:///optuna.db``) or storage object.
    ``study_name``: the Optuna study's name (default: the parzen study's
    name, ``"parzen"`` for a plain Trials); a study of that name already
    in the storage is an error unless ``replace=True`` (it is deleted
    first). The study minimizes the loss; what each trial becomes is in
    the module docstring.
    """
    optuna = _import_optuna()
    rows, c_space, choices, default_name = _source(trials, space,
                                                   source_study)
    name = study_name if study_name is not None else default_name
    dists = _distributions(optuna, c_space, rows, choices)
    frozen = [_frozen(optuna, r, dists) for r in rows]
    if replace:
        try:
            optuna.delete_study(study_name=name, storage=storage_url)
        except KeyError:
            pass
    try:
        study = optuna.create_study(storage=storage_url, study_name=name,
                                    direction="minimize")
    except optuna.exceptions.DuplicatedStudyError:
        raise ExportError(
            "study '%s' already exists in %s: choose another name or "
            "replace it (--replace, replace=True)" % (name, storage_url)) \
            from None
    study.set_user_attr("parzen_source", _describe(trials))
    study.add_trials(frozen)
    return study


def _describe(trials):
    if isinstance(trials, (str, bytes, os.PathLike)):
        return os.fsdecode(os.fspath(trials))
    return repr(trials) if not type(trials) is base.Trials else "Trials"


# ---------------------------------------------------------------- CLI


def main(argv=None, prog="python -m parzen.export"):
    """``parzen export --format optuna``: exit status 0, 1 (failure:
    Optuna missing, no such study, the storage refused), 2 (bad input) or
    3 (store), as the other store commands."""
    ap = argparse.ArgumentParser(
        prog=prog, description="Write a parzen study into an Optuna "
        "storage (for optuna-dashboard).")
    ap.add_argument("--store", default="parzen.db",
                    help="the parzen store file (default parzen.db)")
    ap.add_argument("--study", default="default",
                    help="the study to export; the Optuna study gets its "
                    "name (default 'default')")
    ap.add_argument("--to", required=True, metavar="STORAGE_URL",
                    help="an Optuna storage URL, e.g. sqlite:///optuna.db")
    ap.add_argument("--replace", action="store_true",
                    help="replace a study of that name in the storage")
    args = ap.parse_args(argv)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        pass  # to_optuna says what to install
    try:
        study = to_optuna(args.store, args.to, args.study,
                          source_study=args.study, replace=args.replace)
    except ImportError as e:
        return _fail(prog, e, 1)
    except _core.StorageError as e:
        return _fail(prog, e, 3)
    except _core.NotFoundError as e:
        return _fail(prog, e, 1)
    except (ExportError, _core.ParzenError) as e:
        return _fail(prog, e, 2)
    except Exception as e:  # the storage refused (URL, driver, database)
        return _fail(prog, "%s: %s" % (type(e).__name__, e), 1)
    n = len(study.get_trials(deepcopy=False))
    sys.stderr.write("%s: study '%s': %d trials written to %s\n"
                     % (prog.split(" ")[0], study.study_name, n, args.to))
    return 0


def _fail(prog, msg, code):
    text = " ".join(str(msg).split()) or "failed"
    sys.stderr.write("%s: %s\n" % (prog.split(" ")[0], text))
    return code


if __name__ == "__main__":
    sys.exit(main())
