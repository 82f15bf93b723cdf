"""The bridge between hyperopt's suggest protocol and the C core.

``suggest(new_ids, domain, trials, seed)`` functions read a Trials object;
the C samplers read a study's history. A :class:`Mirror` keeps one C study
in step with one Trials object **incrementally**: it reads the Trials'
append-only document list (``_dynamic_trials``) from where it stopped and
re-checks only the documents that were still NEW/RUNNING, re-telling those
whose state or loss changed (O(new + pending) per call, never a rebuild of
the whole history). It compares every document again (O(N), re-telling
only what differs) only when history really changed under it: the list
was replaced (``delete_all()``) or a ``refresh()`` found the listed
documents, or their ``result`` objects, not the ones it listed before
(``Trials._pz_epoch``). A refresh that changed nothing costs the mirror
nothing.

This module owns its caches (weak maps keyed by the Trials or the Domain),
so nothing of the C core lives in a Trials' or Domain's ``__dict__``.

Loss fed to C: :func:`parzen.base.trial_loss`'s meaning for DONE trials
(an ``ok`` result's loss; a ``fail`` result is +inf whatever it carries,
as in the C runner and the store), NaN kept (the samplers ignore NaN
trials); NEW/RUNNING are +inf (hyperopt's rule); ERROR/CANCEL are
invisible to the samplers. Documents injected with
``misc['from_tid']`` form a group with their source; only the group member
with the lowest loss is visible (the others are told CANCEL).

Pruning (docs/pruning.md): a DONE document whose result has a true
``"pruned"`` is told PRUNED (``_core.STATE_PRUNED``), its loss its last
reported value; the samplers see it through the study's pruned-trial rule.
A trial's reports reach C live through :meth:`Mirror.report`, or, for a
mirror that did not see them (another algorithm's mirror, a resumed
Trials), from the document's ``result["intermediate_values"]`` (a list of
``[step, value]`` pairs or a ``{step: value}`` dict) when it is first seen
finished. :func:`pruner_for` gives the mirror that holds a run's pruner.
"""

import json
import logging
import math
import weakref

from . import _core
from .base import trial_loss

logger = logging.getLogger(__name__)

INF = math.inf
NAN = math.nan
_DONE = 2
_CANCEL = 4
_PRUNED = _core.STATE_PRUNED


class SamplerUnavailable(NotImplementedError):
    """The C core was built without the requested sampler."""


def intermediate_pairs(iv):
    """[(step, value)] in step order from a result's "intermediate_values",
    in any of the shapes users and parzen write: {step: value}, a list of
    [step, value] pairs, or a list of values (step = index). Raises
    ValueError naming the entry that is not a number at an integer step.
    The one reader of that field (the pruning mirrors, the store, export)."""
    if iv is None:
        return []
    if isinstance(iv, dict):
        items = iv.items()
    elif isinstance(iv, (list, tuple)):
        pairs = all(isinstance(x, (list, tuple)) and len(x) == 2 for x in iv)
        items = iv if pairs else enumerate(iv)
    else:
        raise ValueError("intermediate_values must be a dict {step: value} "
                         "or a list, got %s" % type(iv).__name__)
    out = []
    for step, v in items:
        try:
            out.append((int(step), float(v)))
        except (TypeError, ValueError):
            raise ValueError("intermediate_values[%r] = %r is not a number "
                             "at an integer step" % (step, v)) from None
    out.sort()
    return out


def _doc_reports(doc):
    """The [(step, value)] a document carries, in step order ([] when its
    result has none, or none readable: reports only inform pruning)."""
    result = doc.get("result")
    iv = result.get("intermediate_values") if isinstance(result, dict) \
        else None
    try:
        return intermediate_pairs(iv)
    except ValueError:
        return []


def _is_pruned(doc):
    result = doc.get("result")
    return isinstance(result, dict) and bool(result.get("pruned"))


def _doc_state_loss(doc):
    state = doc["state"]
    if state == _DONE and _is_pruned(doc):
        reports = _doc_reports(doc)
        if reports:
            return _PRUNED, reports[-1][1]
        loss = doc["result"].get("loss")
        try:
            return _PRUNED, float(loss)
        except (TypeError, ValueError):
            return _PRUNED, NAN
    if state == _DONE:
        return state, trial_loss(state, doc["result"])
    if state in (0, 1):
        return state, INF
    return state, NAN


class _Entry:
    __slots__ = ("cid", "doc", "state", "loss", "gkey", "c_state", "c_loss",
                 "counted", "last_step")

    def __init__(self, cid, doc, gkey):
        self.cid = cid
        self.doc = doc
        self.gkey = gkey
        self.state = None
        self.loss = None
        self.c_state = None
        self.c_loss = None
        self.counted = False
        self.last_step = -1  # the last step C holds for this trial

    def eligible(self):
        """Visible to a sampler: a listed state and a non-NaN loss."""
        return self.cid is not None and self.state in (0, 1, 2, _PRUNED) \
            and self.loss == self.loss


def new_study(compiled, sampler, options=()):
    """A C study on the compiled space with a sampler and options."""
    study = _core.Study(compiled.c_space)
    try:
        study.set_sampler(sampler)
    except _core.InvalidArgumentError as e:
        raise SamplerUnavailable(
            "the parzen C core has no '%s' sampler (%s)" % (sampler, e)
        ) from None
    for key, value in options:
        study.set_option(key, float(value))
    return study


class Mirror:
    """A C study that follows one Trials object incrementally."""

    def __init__(self, compiled, sampler, options):
        self.compiled = compiled
        self.study = new_study(compiled, sampler, options)
        self.list_ref = None
        self.epoch = None
        self.n_synced = 0
        self.entries = {}  # id(doc) -> _Entry
        self.pending = {}  # id(doc) -> _Entry whose state was NEW/RUNNING
        self.groups = {}  # group key -> [entries] (only groups of size > 1)
        self.first = {}  # group key -> the first entry of that key
        self.next_cid = 0
        self.n_groups = 0  # groups with a visible member (TPE's N)

    # ------------------------------------------------------------- sync

    def sync(self, trials):
        lst = trials._dynamic_trials
        epoch = getattr(trials, "_pz_epoch", None)
        key = trials._exp_key
        if lst is self.list_ref and epoch == self.epoch and \
                self.n_synced <= len(lst):
            for doc in lst[self.n_synced:]:
                if (key is None or doc["exp_key"] == key) and \
                        id(doc) not in self.entries:
                    self._add_doc(doc)
        else:
            self._full_sync(lst if key is None else
                            [d for d in lst if d["exp_key"] == key])
        self.list_ref = lst
        self.epoch = epoch
        self.n_synced = len(lst)
        if self.pending:
            for k, e in list(self.pending.items()):
                self._refresh_entry(e)
                if e.state not in (0, 1):
                    del self.pending[k]

    def _full_sync(self, lst):
        seen = set()
        for doc in lst:
            k = id(doc)
            seen.add(k)
            e = self.entries.get(k)
            if e is None:
                self._add_doc(doc)
            else:
                self._refresh_entry(e)
        for k in [k for k in self.entries if k not in seen]:
            e = self.entries.pop(k)
            self.pending.pop(k, None)
            e.state, e.loss = _CANCEL, NAN  # gone from the listed trials
            members = self.groups.get(e.gkey)
            if members is not None:
                self._regroup(e.gkey)
                members.remove(e)
                if len(members) == 1:
                    del self.groups[e.gkey]
            else:
                self._settle(e)
                self._count(e, False)
            if self.first.get(e.gkey) is e:
                del self.first[e.gkey]
                if members:
                    self.first[e.gkey] = members[0]

    def _add_doc(self, doc):
        misc = doc["misc"]
        gkey = misc.get("from_tid", doc["tid"])
        try:
            hash(gkey)
        except TypeError:
            gkey = id(doc)
        values = self.compiled.values_for_doc(doc)
        state, loss = _doc_state_loss(doc)
        cid = self.next_cid
        self.next_cid += 1
        e = _Entry(cid, doc, gkey)
        e.state, e.loss = state, loss
        try:
            self.study.add(cid, values, state, loss)
            e.c_state, e.c_loss = state, loss
        except (ValueError, TypeError) as exc:
            logger.debug("trial %r not shown to the sampler: %s",
                         doc.get("tid"), exc)
            e.cid = None
        if state not in (0, 1):
            self._replay_reports(e)
        self.entries[id(doc)] = e
        if state in (0, 1):
            self.pending[id(doc)] = e
        first = self.first.get(gkey)
        if first is None:
            self.first[gkey] = e
            self._count(e, e.eligible())
        else:
            members = self.groups.get(gkey)
            if members is None:
                members = self.groups[gkey] = [first]
            members.append(e)
            self._regroup(gkey)

    def _refresh_entry(self, e):
        state, loss = _doc_state_loss(e.doc)
        if state == e.state and (loss == e.loss or (
                loss != loss and e.loss != e.loss)):
            return
        e.state, e.loss = state, loss
        if state not in (0, 1):
            self._replay_reports(e)
        if e.gkey in self.groups:
            self._regroup(e.gkey)
        else:
            self._settle(e)
            self._count(e, e.eligible())

    def _settle(self, e, hidden=False):
        """Tell C the entry's state (CANCEL when hidden by its group)."""
        if e.cid is None:
            return
        state = _CANCEL if hidden else e.state
        loss = e.loss
        if state == e.c_state and (loss == e.c_loss or (
                loss != loss and e.c_loss != e.c_loss)):
            return
        self.study.tell(e.cid, state, loss)
        e.c_state, e.c_loss = state, loss

    def _count(self, e, counted):
        if counted != e.counted:
            self.n_groups += 1 if counted else -1
            e.counted = counted

    def _regroup(self, gkey):
        """Only the member with the lowest loss (later wins ties) stays
        visible, as in hyperopt's TPE."""
        members = self.groups[gkey]
        best = None
        for e in members:
            if e.eligible() and (best is None or e.loss <= best.loss):
                best = e
        for e in members:
            self._settle(e, hidden=e is not best)
            self._count(e, e is best)

    # ---------------------------------------------------------- pruning

    def _replay_reports(self, e):
        """Give C the reports of a finished document it has not seen."""
        if e.cid is None:
            return
        for step, value in _doc_reports(e.doc):
            if step > e.last_step:
                try:
                    self.study.report(e.cid, step, value)
                except (ValueError, _core.ParzenError) as exc:
                    logger.debug("trial %r: report not mirrored: %s",
                                 e.doc.get("tid"), exc)
                    return
                e.last_step = step

    def _entry_of(self, doc):
        e = self.entries.get(id(doc))
        if e is None:
            self._add_doc(doc)
            e = self.entries[id(doc)]
        return e

    def set_pruner(self, kind, options=None):
        """The study's pruner: kind 'median', 'sha', 'hyperband' or
        'none' and a dict of its options (parzen.h pz_study_set_pruner;
        _core.InvalidArgumentError names a bad key)."""
        self.study.set_pruner(kind, json.dumps(options) if options else None)

    def report(self, doc, step, value):
        """Record the document's intermediate value at 'step': True when
        stored, False for a non-finite value (not stored; warn). Raises
        _core.InvalidArgumentError for a step that does not increase
        (naming the C id: reword it with the tid) and ValueError when the
        document's point is not in the space."""
        e = self._entry_of(doc)
        if e.cid is None:
            raise ValueError("trial %r is not in the study's space"
                             % (doc.get("tid"),))
        stored = self.study.report(e.cid, int(step), float(value))
        if stored:
            e.last_step = int(step)
        return stored

    def should_prune(self, doc):
        """Should the document's trial stop, from its last report?"""
        e = self._entry_of(doc)
        return e.cid is not None and self.study.should_prune(e.cid)

    def last_step(self, doc):
        """The last step C holds for the document's trial (-1: none)."""
        e = self.entries.get(id(doc))
        return -1 if e is None else e.last_step

    # ---------------------------------------------------------- propose

    def propose(self, stream, seed):
        """C values for one new point (nothing is recorded)."""
        return self.study.suggest(stream, seed)


_BY_TRIALS = weakref.WeakKeyDictionary()  # trials -> {signature: {key: m}}
_BY_DOMAIN = weakref.WeakKeyDictionary()  # domain -> {trials: {key: m}}
_RANDOM = weakref.WeakKeyDictionary()  # domain -> its random study


def _per_trials(domain, trials):
    """The {(sampler, options): Mirror} map of (space, trials)."""
    compiled = domain.compiled
    if compiled.exact:
        try:
            cache = _BY_TRIALS.get(trials)
            if cache is None:
                cache = _BY_TRIALS[trials] = {}
            return cache.setdefault(compiled.signature, {})
        except TypeError:  # not weak-referenceable / hashable
            pass
    try:
        cache = _BY_DOMAIN.get(domain)
        if cache is None:
            cache = _BY_DOMAIN[domain] = weakref.WeakKeyDictionary()
        per_trials = cache.get(trials)
        if per_trials is None:
            per_trials = cache[trials] = {}
        return per_trials
    except TypeError:
        return {}


def mirrors_of(trials):
    """The mirrors kept for ``trials`` (exact spaces): {signature:
    {(sampler, options): Mirror}} (for tests and diagnostics)."""
    try:
        return _BY_TRIALS.get(trials, {})
    except TypeError:
        return {}


def mirror_for(domain, trials, sampler, options):
    """The Mirror of (space, trials, sampler, options), created once.

    For an exact space the mirror is keyed by the Trials object and the
    compiled space's canonical form, so calling fmin again on the same
    Trials (the resume pattern: ``max_evals`` one larger each call) reuses
    it instead of re-adding the whole history. Otherwise it is keyed by
    the Domain and the Trials."""
    key = (sampler, tuple(options))
    per_trials = _per_trials(domain, trials)
    m = per_trials.get(key)
    if m is None:
        m = per_trials[key] = Mirror(domain.compiled, sampler, options)
    m.sync(trials)
    return m


def pruner_for(domain, trials, kind, options=None):
    """The mirror that holds a run's pruner (a 'random' study of its own,
    whatever the algorithm), synced with ``trials``; the pruner is set
    when the mirror is made, so its tables build up from every report."""
    opts = tuple(sorted((options or {}).items()))
    per_trials = _per_trials(domain, trials)
    key = ("pruner:" + kind, opts)
    m = per_trials.get(key)
    if m is None:
        m = Mirror(domain.compiled, "random", ())
        m.set_pruner(kind, dict(opts))
        per_trials[key] = m
    m.sync(trials)
    return m


def random_study(domain):
    """A history-free study with the random sampler for a domain."""
    try:
        st = _RANDOM.get(domain)
        if st is None:
            st = _RANDOM[domain] = new_study(domain.compiled, "random")
        return st
    except TypeError:
        return new_study(domain.compiled, "random")


def make_docs(domain, trials, tids, values_list):
    """NEW trial documents for the proposed C values."""
    compiled = domain.compiled
    docs = []
    for tid, values in zip(tids, values_list):
        point = compiled.values_to_point(values)
        if not compiled.exact:
            compiled.remember(tid, values)
        idxs, vals = compiled.misc_idxs_vals(tid, point)
        misc = {"tid": tid, "cmd": domain.cmd, "workdir": domain.workdir,
                "idxs": idxs, "vals": vals}
        docs.extend(trials.new_trial_docs([tid], [None],
                                          [domain.new_result()], [misc]))
    return docs


def seed_of(seed):
    """A C seed from hyperopt's seed argument (an int, or anything numpy
    can turn into one)."""
    try:
        return int(seed) & 0xFFFFFFFFFFFFFFFF
    except (TypeError, ValueError):
        return hash(seed) & 0xFFFFFFFFFFFFFFFF
