"""Durable trials: a :class:`~parzen.base.Trials` kept in parzen's store.

:class:`StoreTrials` is a ``Trials`` whose documents live in a store file
(the one ``parzen run`` writes, docs/cli.md): every insert and every state
change is committed in its own transaction as it happens, so a process
killed at any moment loses no finished trial, and opening the same file
again gives back the documents. ``fmin(trials_save_file="run.db")`` uses
one (docs/python.md, "Durable trials").

What the store holds, per trial (table ``trials``): the id (= ``tid``), the
state, the point as the parameter values (``params``, the stored form of
``misc['vals']``), loss, status, the result document (JSON), the error
text, the queue/start/finish times and the owner (host, pid) that lets a
later process tell a RUNNING trial whose process died from a live one.

What only Python needs travels in the result document under the key
``"__parzen__"`` (written with the trial's outcome): ``misc`` keys other
than ``tid/idxs/vals`` (``error``, ``from_tid``, a non-default ``cmd`` or
``workdir``...), ``idxs``/``vals`` themselves when they are not what the
stored parameters give (e.g. a parameter the C space models as active that
evaluation did not reach, docs/python.md "How it works"),
``exp_key``, ``spec``/``owner``/``version`` when not the defaults, the exact
``book_time``/``refresh_time`` and the trial's attachments. Values JSON
cannot hold are tagged (``{"$pz": "tuple"|"float"|"bytes"|"datetime"|
"ndarray"|"pickle", ...}``): tuples, NaN/inf, bytes, datetimes and numeric
arrays round-trip exactly; numpy scalars become Python numbers (as
hyperopt's SONify does); anything else is pickled (cloudpickle), so open
only stores you trust, as with any pickle.

A NEW or RUNNING trial has no outcome yet: it comes back with hyperopt's
defaults (``result={'status': 'new'}``, ``spec=None``, ...) and times from
the store. A finished trial's document is written once, with its outcome
(the store keeps the first outcome): later edits to a DONE/ERROR document
stay in memory.
"""

import atexit
import base64
import contextlib
import datetime
import json
import logging
import math
import os
import pickle
import weakref

import cloudpickle
import numpy as np

from . import _core, base
from .base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
)

logger = logging.getLogger(__name__)

__all__ = ["StoreTrials", "is_store_path", "same_file", "STORE_SUFFIXES",
           "DOC_KEY"]

#: file names ending so are stores for ``fmin(trials_save_file=...)``
STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
#: the key of the result document that holds what only Python needs
DOC_KEY = "__parzen__"

_SQLITE_MAGIC = b"SQLite format 3\x00"
_TAG = "$pz"
_DEFAULT_CMD = ("domain_attachment", "FMinIter_Domain")
_INT_DISTS = ("choice", "pchoice", "randint", "uniformint")
_OUTCOMES = (JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_CANCEL)
# the store's PRUNED state (parzen.h PZ_TRIAL_PRUNED): a hyperopt document
# shows it as DONE with a "pruned" result (docs/pruning.md)
_STORE_PRUNED = 5
_STATES = (JOB_STATE_NEW, JOB_STATE_RUNNING) + _OUTCOMES
_FROM_STORE = "parzen.store"  # misc['error'][0] of an error the store made


def is_store_path(path):
    """True when ``path`` names a parzen store for ``trials_save_file``:
    an existing SQLite file, or a path ending with ``.db``, ``.sqlite`` or
    ``.sqlite3`` unless it is an existing pickle (hyperopt's format, kept
    for compatibility)."""
    try:
        p = os.fsdecode(os.fspath(path))
    except TypeError:
        return False
    try:
        with open(p, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError:
        head = b""
    if head == _SQLITE_MAGIC:
        return True
    if head[:1] == b"\x80":  # a pickle (protocol >= 2)
        return False
    return p.lower().endswith(STORE_SUFFIXES)


def same_file(a, b):
    """Do paths a and b name the same file (b may not exist yet)?"""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


@contextlib.contextmanager
def closing_on_error(trials):
    """Close ``trials`` (if not None) when the block raises."""
    try:
        yield
    except BaseException:
        if trials is not None:
            trials.close()
        raise


# ------------------------------------------------------------- encoding


def _encode(x):
    """A JSON-ready form of ``x`` (see the module docstring)."""
    t = type(x)
    if x is None or t is bool or t is str or t is int:
        return x
    if t is float:
        return x if math.isfinite(x) else {_TAG: "float", "v": repr(x)}
    if t is list:
        return [_encode(v) for v in x]
    if t is dict and _TAG not in x and all(type(k) is str for k in x):
        return {k: _encode(v) for k, v in x.items()}
    if t is tuple:
        return {_TAG: "tuple", "v": [_encode(v) for v in x]}
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return _encode(float(x))
    if t is datetime.datetime:
        return {_TAG: "datetime", "v": x.isoformat()}
    if t is bytes:
        return {_TAG: "bytes", "v": base64.b64encode(x).decode("ascii")}
    if t is np.ndarray and x.dtype.kind in "biuf":
        return {_TAG: "ndarray", "dtype": x.dtype.str, "shape": list(x.shape),
                "v": _encode(x.tolist())}
    return _pickled(x)


def _short_repr(x):
    try:
        r = repr(x)
    except Exception:
        r = "<%s object>" % type(x).__name__
    return r if len(r) <= 200 else r[:197] + "..."


def _pickled(x):
    try:
        data = cloudpickle.dumps(x, protocol=4)
    except Exception as e:
        logger.warning("parzen.store: cannot pickle %s (%s); only its repr "
                       "is stored", _short_repr(x), e)
        return {_TAG: "repr", "v": _short_repr(x)}
    return {_TAG: "pickle", "v": base64.b64encode(data).decode("ascii"),
            "repr": _short_repr(x)}


def _unpickle(obj):
    try:
        return pickle.loads(base64.b64decode(obj["v"]))
    except Exception as e:
        logger.warning("parzen.store: cannot unpickle a stored %s (%s); "
                       "using its repr", obj.get("repr", "value"), e)
        return obj.get("repr")


def _ndarray(obj):
    a = np.array(_decode(obj["v"]), dtype=np.dtype(obj["dtype"]))
    return a.reshape(obj["shape"])


_DECODERS = {
    "float": lambda o: float(o["v"]),
    "tuple": lambda o: tuple(_decode(v) for v in o["v"]),
    "datetime": lambda o: datetime.datetime.fromisoformat(o["v"]),
    "bytes": lambda o: base64.b64decode(o["v"]),
    "ndarray": _ndarray,
    "pickle": _unpickle,
    "repr": lambda o: o["v"],
}


def _decode(x):
    """The inverse of :func:`_encode`."""
    t = type(x)
    if t is list:
        return [_decode(v) for v in x]
    if t is dict:
        kind = x.get(_TAG)
        if kind is None:
            return {k: _decode(v) for k, v in x.items()}
        dec = _DECODERS.get(kind)
        return dec(x) if dec is not None else x
    return x


def _same(a, b):
    """Equal values of equal types (NaN equals NaN), recursively."""
    t = type(a)
    if t is not type(b):
        return False
    if t is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if t is list or t is tuple:
        return len(a) == len(b) and all(map(_same, a, b))
    if t is float:
        return a == b or (a != a and b != b)
    try:
        return bool(a == b)
    except Exception:
        return False


def _utc(seconds):
    """A store time (Unix seconds) as a trial document time: naive UTC,
    milliseconds (as base.coarse_utcnow)."""
    if seconds is None:
        return None
    t = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    t = t.replace(tzinfo=None)
    return t.replace(microsecond=(t.microsecond // 1000) * 1000)


def _type_name(t):
    """'ValueError' for hyperopt's "<class 'ValueError'>"."""
    if isinstance(t, str) and t.startswith("<class '") and t.endswith("'>"):
        return t[8:-2].rsplit(".", 1)[-1]
    return str(t)


# ------------------------------------------------------------ documents



def pruned_result(rec, result):
    """The result of a trial the store holds as PRUNED (a `parzen run
    --pruner` command's, or a Python run's): status "fail", "pruned", its
    reports, its last value as "loss" (docs/pruning.md)."""
    result = dict(result) if isinstance(result, dict) else {}
    reports = [[int(st), float(v)]
               for st, v in rec.get("intermediate_values") or ()]
    if reports or "intermediate_values" not in result:
        result["intermediate_values"] = reports
    reports = result["intermediate_values"]
    result.update(status="fail", pruned=True)
    if reports:
        result["step"], result["loss"] = reports[-1]
    elif rec["loss"] is not None:
        result["loss"] = rec["loss"]
    return result


def record_result(rec):
    """(parzen's side document or None, the decoded result or None) of a
    store record: `result_json` holds either a Python run's result with the
    trial document's other fields under DOC_KEY, or what a `parzen run`
    command wrote (which may use that key for its own ends)."""
    if not rec["result_json"]:
        return None, None
    try:
        obj = json.loads(rec["result_json"])
    except ValueError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    side = obj.get(DOC_KEY)
    if isinstance(side, dict) and side.get("v") == 1:
        del obj[DOC_KEY]
    else:
        side = None  # not ours (a `parzen run` objective's key)
    result = _decode(side["result"]) if side and "result" in side \
        else _decode(obj)
    return side, result



def _reports_of(tid, result):
    """The reports a finished trial's result carries, for the store's
    table; a user's own "intermediate_values" that is not readable as
    reports stays in the result only (it never fails the run)."""
    from ._engine import intermediate_pairs

    try:
        return intermediate_pairs(result.get("intermediate_values"))
    except ValueError as e:
        logger.warning("trial %s: not stored as reports: %s", tid, e)
        return []


class _StoredDoc(dict):
    """A trial document that reports its changes to the store.

    Setting ``doc['state']`` writes a start (RUNNING) at once; an outcome
    (DONE, ERROR, CANCEL) is written when ``refresh_time`` is set next --
    fmin sets it last, after ``result`` or ``misc['error']`` -- or at the
    next refresh, insert or close, whichever comes first. Copies and
    pickles are plain dicts."""

    __slots__ = ("_pz_backing", "_pz_stored", "_pz_values", "_pz_rebuilt")

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        backing = self._pz_backing
        if backing is not None:
            backing.doc_changed(self, key)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self):
        return dict(self)

    def __reduce_ex__(self, protocol):
        return (dict, (dict(self),))


def _stored_doc(fields, stored_state, values, rebuilt):
    doc = _StoredDoc(fields)
    doc._pz_backing = None
    doc._pz_stored = stored_state
    doc._pz_values = tuple(values)
    doc._pz_rebuilt = rebuilt
    return doc


# ------------------------------------------------------------- backing

_LIVE = weakref.WeakSet()


@atexit.register
def _close_all():
    for backing in list(_LIVE):
        if backing.pid != os.getpid():
            continue  # a forked child: the parent's handle, not ours
        try:
            backing.close()
        except Exception:
            logger.exception("parzen.store: closing %s", backing.path)


class _Backing:
    """What a StoreTrials and its views share: the store handle, the study,
    the space, and the documents whose outcome is not written yet."""

    def __init__(self, path, study, attachments):
        if not isinstance(study, str) or not study:
            raise ValueError("study must be a non-empty str, got %r"
                             % (study,))
        self.path = os.fsdecode(os.fspath(path))
        self.study = study
        self.attachments = attachments
        self.store = _core.Store(path, create=True)
        self.pid = os.getpid()
        self.info = None  # the study's settings once it exists
        self.new_seed = None  # the seed of a study created here, or random
        self.new_sampler = None  # its sampler's name, or "tpe"
        self.study_space = None  # its space, or the domain's compiled one
        self._study_space_json = None
        self.space = None  # its _core.Space
        self.compiled = None  # the CompiledSpace of the attached domain
        self.perm = None  # compiled index -> store index (orders differ)
        self.pending = {}  # id(doc) -> doc: outcome not written yet
        self.next_id = 0
        self.warned = set()
        _LIVE.add(self)

    def __repr__(self):
        return "<store %r study %r>" % (self.path, self.study)

    # --------------------------------------------------------- study

    def open_existing(self):
        try:
            info = self.store.open_study(self.study)
        except _core.NotFoundError:
            return False
        self.took(info)
        return True

    def took(self, info):
        self.info = info
        self.space = self.store.space()  # a copy: no text parsed
        labels = self.space.labels()
        self.index = {label: i for i, label in enumerate(labels)}
        self.labels_sorted = sorted(labels)
        self.int_labels = {
            label for i, label in enumerate(labels)
            if self.space.param(i)["dist"] in _INT_DISTS}

    def attach(self, compiled):
        """Use the domain's compiled space (its parameter order is not
        the store's: the store orders them as its JSON form lists them)."""
        self.perm = [self.index[p.c_label] for p in compiled.params]
        self.compiled = compiled

    def compiled_values(self, values):
        """Store-ordered values in the compiled space's order."""
        return [values[j] for j in self.perm]

    def study_space_json(self):
        if self._study_space_json is None:
            self._study_space_json = self.study_space.to_json()
        return self._study_space_json

    def require_space(self):
        if self.info is None:
            raise _core.InvalidArgumentError(
                "%s: study '%s' does not exist yet and its space is unknown: "
                "run fmin with these trials, or call "
                "trials.attach_domain(Domain(fn, space)), before inserting "
                "documents" % (self.path, self.study))

    def close(self):
        try:
            if not self.store.closed:
                self.flush_all()
        finally:
            self.store.close()
            _LIVE.discard(self)

    # ---------------------------------------------------- conversions

    def rebuild(self, tid, values):
        """(idxs, vals) that the stored values give: every label, active
        ones with [tid] / [value] (int for integer distributions)."""
        idxs, vals = {}, {}
        for label in self.labels_sorted:
            v = values[self.index[label]]
            if v != v:
                idxs[label], vals[label] = [], []
            else:
                idxs[label] = [tid]
                vals[label] = [int(v) if label in self.int_labels
                               else float(v)]
        return idxs, vals

    def values_of(self, doc):
        """The C values of a document to insert, checked against the
        space (InvalidArgumentError naming the trial and the file)."""
        try:
            misc = doc["misc"]
            if self.compiled is not None:
                cv = self.compiled.values_for_doc(doc)
                values = [math.nan] * len(self.index)
                for i, j in enumerate(self.perm):
                    values[j] = cv[i]
            else:
                values = [math.nan] * len(self.index)
                for label, v in misc["vals"].items():
                    i = self.index.get(label)
                    if v and i is not None:
                        values[i] = float(v[0])
            self.space.check_point(values)
        except (KeyError, TypeError, ValueError) as e:
            raise _core.InvalidArgumentError(
                "%s: trial %r cannot be stored in study '%s': %s (the store "
                "keeps points of its space)" % (
                    self.path, doc.get("tid"), self.study,
                    "no %s" % e if isinstance(e, KeyError) else e)) from None
        return values

    # ------------------------------------------------------- loading

    def doc_from_record(self, rec, exp_key):
        """A trial document (and its attachments) from a store record."""
        tid, state = rec["id"], rec["state"]
        side, result = record_result(rec)
        if state == _STORE_PRUNED:
            state, result = JOB_STATE_DONE, pruned_result(rec, result)
        elif result is None:
            result = self.default_result(rec)
        elif side is None and state == JOB_STATE_DONE and \
                isinstance(result, dict):
            # -- a result written by `parzen run`: status/loss may be implicit
            result.setdefault("status", rec["status"] or "ok")
            if rec["loss"] is not None:
                result.setdefault("loss", rec["loss"])
        side = side or {}
        values = rec["values"]
        rebuilt = "vals" not in side
        if rebuilt:
            idxs, vals = self.rebuild(tid, values)
        else:
            idxs, vals = _decode(side.get("idxs")), _decode(side["vals"])
        misc = {"tid": tid, "cmd": _DEFAULT_CMD, "workdir": None,
                "idxs": idxs, "vals": vals}
        extra = _decode(side.get("misc", {}))
        misc.update(extra if isinstance(extra, dict) else {})
        for k in side.get("misc_absent", ()):
            misc.pop(k, None)
        if rec["error"] and state in (JOB_STATE_ERROR, JOB_STATE_CANCEL) \
                and "error" not in misc:
            misc["error"] = (_FROM_STORE, rec["error"])
        if state == JOB_STATE_NEW:
            book = refresh = None
        else:
            book = _utc(rec["started_at"])
            refresh = _utc(rec["finished_at"]) or book
        fields = {
            "state": state,
            "tid": tid,
            "spec": _decode(side.get("spec")),
            "result": result,
            "misc": misc,
            "exp_key": _decode(side["exp_key"]) if "exp_key" in side
            else exp_key,
            "owner": _decode(side.get("owner")),
            "version": _decode(side.get("version", 0)),
            "book_time": _decode(side["book_time"]) if "book_time" in side
            else book,
            "refresh_time": _decode(side["refresh_time"])
            if "refresh_time" in side else refresh,
        }
        doc = _stored_doc(fields, state, values, rebuilt)
        atts = {name: _decode(v) for name, v in
                (side.get("attachments") or {}).items()}
        return doc, atts

    @staticmethod
    def default_result(rec):
        state = rec["state"]
        if state == JOB_STATE_DONE:
            result = {"status": rec["status"] or "ok"}
            if rec["loss"] is not None:
                result["loss"] = rec["loss"]
            return result
        if state == JOB_STATE_ERROR:
            return {"status": rec["status"] or "fail"}
        return {"status": base.STATUS_NEW}

    # ------------------------------------------------------- writing

    def insert(self, doc, values):
        """Write one validated document; returns the stored document."""
        tid = self.store.add(values)
        sdoc = _stored_doc(doc, JOB_STATE_NEW, values, False)
        if tid != doc["tid"]:
            self.renumber(sdoc, tid)
        self.next_id = max(self.next_id, tid + 1)
        sdoc._pz_backing = self
        state = sdoc["state"]
        if state == JOB_STATE_RUNNING:
            self.store.start(tid)
            sdoc._pz_stored = JOB_STATE_RUNNING
        elif state in _OUTCOMES:
            self.write_outcome(sdoc)
        return sdoc

    def renumber(self, sdoc, tid):
        """The store gave another id (another process inserted first, or
        the document came with its own tid): the document takes it."""
        old = sdoc["tid"]
        logger.debug("parzen.store: trial %r stored as %d", old, tid)
        misc = dict(sdoc["misc"])
        misc["tid"] = tid
        misc["idxs"] = {k: [tid] if v else [] for k, v in
                        misc.get("idxs", {}).items()}
        dict.__setitem__(sdoc, "misc", misc)
        dict.__setitem__(sdoc, "tid", tid)
        full = getattr(self.compiled, "_full", None)
        if full:
            try:
                if old in full:
                    full[tid] = full.pop(old)
            except TypeError:
                pass

    def doc_changed(self, doc, key):
        if key == "state":
            self.state_changed(doc)
        elif key == "refresh_time" and id(doc) in self.pending:
            self.flush_doc(doc)

    def state_changed(self, doc):
        s, stored = doc["state"], doc._pz_stored
        self.pending.pop(id(doc), None)
        if s == stored:
            return
        if stored in (JOB_STATE_DONE, JOB_STATE_ERROR) or s not in _STATES:
            self.not_persisted(doc, s)
        elif s == JOB_STATE_RUNNING:
            self.store.start(doc["tid"])
            doc._pz_stored = JOB_STATE_RUNNING
        elif s in _OUTCOMES:
            self.pending[id(doc)] = doc
        elif stored == JOB_STATE_RUNNING:  # RUNNING -> NEW
            self.not_persisted(doc, s)
        # -- else CANCEL -> NEW (requeued): stored when it starts

    def not_persisted(self, doc, state):
        key = (doc["tid"], state)
        if key not in self.warned:
            self.warned.add(key)
            logger.warning(
                "%s: trial %r is stored %s; its change to state %r stays in "
                "memory (a stored outcome is final)", self.path, doc["tid"],
                _core.trial_state_name(doc._pz_stored), state)

    def flush_doc(self, doc):
        self.pending.pop(id(doc), None)
        if doc["state"] in _OUTCOMES and doc["state"] != doc._pz_stored:
            self.write_outcome(doc)

    def flush_all(self):
        while self.pending:
            self.flush_doc(next(iter(self.pending.values())))

    def write_outcome(self, doc):
        state = doc["state"]
        result = doc.get("result")
        loss = status = None
        if isinstance(result, dict):
            st = result.get("status")
            status = st if isinstance(st, str) else None
            if state == JOB_STATE_DONE:
                try:
                    loss = float(result.get("loss"))
                except (TypeError, ValueError):
                    loss = None
        error = self.error_text(doc) if state != JOB_STATE_DONE else None
        told = state
        if isinstance(result, dict) and state == JOB_STATE_DONE:
            # -- fmin(pruner=...): the reports go in the store's own table
            # (parzen show/export list them), a pruned trial is PRUNED
            for step, value in _reports_of(doc["tid"], result):
                self.store.report(doc["tid"], step, value)
            if result.get("pruned"):
                # the reason `parzen run --pruner` records (runner_reports.c)
                told, status = _STORE_PRUNED, None
                if result.get("step") is not None:
                    error = "pruned at step %s" % (result["step"],)
        self.store.tell(doc["tid"], told, loss,
                        status=status if state == JOB_STATE_DONE else None,
                        result_json=self.result_json(doc), error=error)
        doc._pz_stored = state

    @staticmethod
    def error_text(doc):
        err = doc["misc"].get("error") if isinstance(doc.get("misc"), dict) \
            else None
        if isinstance(err, (tuple, list)) and len(err) == 2:
            return "%s: %s" % (_type_name(err[0]), err[1])
        if err is not None:
            return str(err)
        return "canceled" if doc["state"] == JOB_STATE_CANCEL else "error"

    def result_json(self, doc):
        result = doc.get("result")
        side = self.sidecar(doc)
        if type(result) is dict and DOC_KEY not in result and \
                all(type(k) is str for k in result):
            obj = {k: _encode(v) for k, v in result.items()}
        else:
            obj = {}
            side["result"] = _encode(result)
        obj[DOC_KEY] = side
        return json.dumps(obj, allow_nan=False, separators=(",", ":"))

    def sidecar(self, doc):
        """What the store columns cannot give back (module docstring)."""
        tid = doc["tid"]
        side = {"v": 1}
        misc = doc.get("misc")
        misc = misc if isinstance(misc, dict) else {}
        extra = {k: v for k, v in misc.items() if k not in ("idxs", "vals")}
        if _same(extra.get("tid"), tid):
            del extra["tid"]
        absent = []
        for k, default in (("cmd", _DEFAULT_CMD), ("workdir", None)):
            if k not in misc:
                absent.append(k)
            elif _same(extra[k], default):
                del extra[k]
        if extra:
            side["misc"] = _encode(extra)
        if absent:
            side["misc_absent"] = absent
        idxs, vals = self.rebuild(tid, doc._pz_values)
        if not (_same(idxs, misc.get("idxs"))
                and _same(vals, misc.get("vals"))):
            side["idxs"] = _encode(misc.get("idxs"))
            side["vals"] = _encode(misc.get("vals"))
        side["exp_key"] = _encode(doc.get("exp_key"))
        for k, default in (("spec", None), ("owner", None), ("version", 0)):
            if k in doc and not _same(doc[k], default):
                side[k] = _encode(doc[k])
        for k in ("book_time", "refresh_time"):
            side[k] = _encode(doc.get(k))
        atts = self.attachments_of(tid)
        if atts:
            side["attachments"] = atts
        return side

    def attachments_of(self, tid):
        if not self.attachments:
            return None
        prefix = "ATTACH::%s::" % (tid,)
        return {k[len(prefix):]: _encode(v)
                for k, v in self.attachments.items()
                if isinstance(k, str) and k.startswith(prefix)}


def _reopen(path, study, exp_key):
    return StoreTrials(path, study=study, exp_key=exp_key)


# --------------------------------------------------------------- trials


class StoreTrials(base.Trials):
    """A :class:`~parzen.base.Trials` whose documents are durable in a
    parzen store file (SQLite, the file ``parzen run`` writes).

    ``StoreTrials(path, study="default", exp_key=None, retry_lost=False)``
    opens (creating it if needed) the store at ``path`` and, if the study
    exists, restores its documents. Trials that were RUNNING in a process
    that is gone are marked lost (CANCEL, ``misc['error']`` says why) and,
    as in hyperopt, do not count in ``len(trials)``: fmin samples new
    points in their place. ``retry_lost=True`` (or :meth:`requeue_lost`)
    puts them back in the queue instead, so fmin re-runs each with its own
    tid and point.

    A new study is created on the first ``fmin`` (which calls
    :meth:`attach_domain`): the store records the space's JSON form; a
    later fmin on the study must use the same space
    (``InvalidArgumentError`` otherwise: use another study name). tids are
    the store's trial ids: a document inserted with another tid takes the
    next id of the study. Two parzen-native arguments serve ``parzen run
    --spark --store`` (so that its studies are the ones ``parzen run``
    writes): ``seed``, the seed stored with a study created here (default:
    random; an existing study keeps its own, :meth:`study_seed`), and
    ``space``, a ``_core.Space`` stored as the study's space instead of the
    domain's compiled one (the same labels: the space file's).

    One process should drive a study at a time; ``parzen show/best/
    export/status`` may read the file meanwhile. Close with :meth:`close`
    (or a ``with`` block); trials still running are then marked CANCEL.
    """

    def __init__(self, path, study="default", exp_key=None, retry_lost=False,
                 refresh=True, seed=None, space=None, sampler=None):
        super().__init__(exp_key=exp_key, refresh=False)
        self._pz = _Backing(path, study, self.attachments)
        self._pz.new_seed = seed
        self._pz.new_sampler = sampler
        self._pz.study_space = space
        if self._pz.open_existing():
            self._pz.store.mark_lost()
            self._load()
        if retry_lost:
            self.requeue_lost(refresh=False)
        if refresh:
            self.refresh()

    def __repr__(self):
        return "StoreTrials(%r, study=%r)" % (self._pz.path, self._pz.study)

    def study_seed(self):
        """The seed stored with the study, or None before it exists."""
        return None if self._pz.info is None else self._pz.info["seed"]

    def study_sampler(self):
        """The sampler name stored with the study, or None before it
        exists."""
        return None if self._pz.info is None else self._pz.info["sampler"]

    def __reduce__(self):
        # -- a pickle refers to the file; unpickling opens it again
        return (_reopen, (self._pz.path, self._pz.study, self._exp_key))

    # ---------------------------------------------------------- access

    @property
    def path(self):
        """The store file."""
        return self._pz.path

    @property
    def study(self):
        """The study's name in the store."""
        return self._pz.study

    @property
    def store(self):
        """The :class:`parzen._core.Store` handle (read it, e.g.
        ``store.trials()``; write through this object only)."""
        return self._pz.store

    def close(self):
        """Write pending outcomes and close the file. Trials still running
        are marked CANCEL ('abandoned'). Idempotent."""
        self._pz.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------- study

    def _load(self):
        pz = self._pz
        docs = []
        for rec in pz.store.trials():
            doc, atts = pz.doc_from_record(rec, self._exp_key)
            for name, value in atts.items():
                self.attachments[self.aname(doc, name)] = value
            doc._pz_backing = pz
            docs.append(doc)
            pz.next_id = max(pz.next_id, doc["tid"] + 1)
        self._dynamic_trials.extend(docs)

    def attach_domain(self, domain, points_to_evaluate=None):
        """Bind the study to ``domain``'s space (a :class:`~parzen.base.
        Domain`, or a space): create the study if it does not exist yet,
        else check that its stored space is the same. fmin calls this.
        ``points_to_evaluate`` are queued if the study has no trial yet."""
        if not isinstance(domain, base.Domain):
            domain = base.Domain(None, domain)
        compiled = domain.compiled
        pz = self._pz
        pz.flush_all()
        study_space = pz.study_space or compiled.c_space
        sig = compiled.signature if pz.study_space is None else \
            pz.study_space_json()
        if sorted(study_space.labels()) != sorted(compiled.c_space.labels()):
            raise _core.InvalidArgumentError(
                "the study's space and the domain's have different labels")
        if pz.info is None or pz.info["space_json"] != sig:
            existed = pz.info is not None
            # -- the parsed space: the store reads no text (the C path
            # does the same; a test counts the parses)
            seed = pz.new_seed
            if seed is None:
                seed = int.from_bytes(os.urandom(8), "little") >> 1
            info = pz.store.open_study(
                pz.study, study_space, pz.new_sampler or "tpe", seed,
                sampler_default=True, seed_default=True)
            pz.took(info)
            if not existed and not info["created_now"]:
                # -- another process created it since we opened the file
                pz.store.mark_lost()
                self._load()
        pz.attach(compiled)
        if not compiled.exact:
            self._fit_inexact(compiled)
        if points_to_evaluate and not self._dynamic_trials:
            from .fmin import generate_trials_to_calculate

            docs = generate_trials_to_calculate(points_to_evaluate)
            for doc in docs._dynamic_trials:
                doc["exp_key"] = self._exp_key
            self.insert_trial_docs(docs._dynamic_trials)
        self.refresh()

    def _fit_inexact(self, compiled):
        """For a space the C core describes inexactly (docs/python.md):
        documents rebuilt from stored values get the labels evaluation
        really reaches, and the samplers see the full stored values."""
        for doc in self._dynamic_trials:
            values = self._pz.compiled_values(doc._pz_values)
            compiled.remember(doc["tid"], values)
            if doc._pz_rebuilt:
                point = compiled.values_to_point(values)
                idxs, vals = compiled.misc_idxs_vals(doc["tid"], point)
                doc["misc"]["idxs"], doc["misc"]["vals"] = idxs, vals
                doc._pz_rebuilt = False

    def requeue_lost(self, refresh=True):
        """Put every CANCEL trial (lost, interrupted, abandoned) back in
        the queue (state NEW, same tid and point) so that fmin re-runs it
        before sampling new points; returns their tids. The store records
        the re-run when it starts."""
        tids = []
        for doc in self._dynamic_trials:
            if doc["state"] != JOB_STATE_CANCEL or (
                    self._exp_key is not None
                    and doc["exp_key"] != self._exp_key):
                continue
            for k, v in (("result", {"status": base.STATUS_NEW}),
                         ("book_time", None), ("refresh_time", None)):
                dict.__setitem__(doc, k, v)
            doc["misc"].pop("error", None)
            doc["state"] = JOB_STATE_NEW
            tids.append(doc["tid"])
        if refresh:
            self.refresh()
        return tids

    # ---------------------------------------------------- Trials hooks

    def view(self, exp_key=None, refresh=True):
        rval = super().view(exp_key=exp_key, refresh=False)
        rval._pz = self._pz
        if refresh:
            rval.refresh()
        return rval

    def trial_finished(self, doc):
        # -- the driver's hook: the outcome is committed now, before the
        # next trial starts (a SIGKILL loses no finished trial)
        self._pz.flush_doc(doc)

    def _note_ids(self, tids):
        # -- called by refresh() and sync(): write the outcomes set since
        # (overriding refresh itself would make the driver refresh, O(N))
        pz = self.__dict__.get("_pz")
        if pz is not None:
            pz.flush_all()
        super()._note_ids(tids)

    def new_trial_ids(self, n):
        """The next n ids of the study (the store assigns them on insert;
        ids the algorithm did not use are handed out again)."""
        pz = self._pz
        pz.flush_all()
        return list(range(pz.next_id, pz.next_id + n))

    def _insert_trial_docs(self, docs):
        pz = self._pz
        pz.flush_all()
        pz.require_space()
        docs = list(docs)
        values = [pz.values_of(doc) for doc in docs]
        tids = []
        for doc, v in zip(docs, values):
            sdoc = pz.insert(doc, v)
            self._dynamic_trials.append(sdoc)
            tids.append(sdoc["tid"])
        return tids

    def delete_all(self):
        raise NotImplementedError(
            "StoreTrials keeps every trial: use another study name or file "
            "(%s)" % self._pz.path)
