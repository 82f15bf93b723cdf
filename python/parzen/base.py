"""Trials, Domain, Ctrl and the constants of hyperopt.base.

A :class:`Trials` is the in-memory document store of hyperopt: a list of
trial documents (dicts with ``tid, state, spec, result, misc, exp_key,
owner, book_time, refresh_time, version``) plus attachments. The search
algorithms (``parzen.tpe`` etc.) mirror it into a C study incrementally.
"""

import datetime
import logging
import math
import operator
import sys
import types

import numpy as np

from . import _core, pyll
from ._space import CompiledSpace, find_params
from .exceptions import (
    AllTrialsFailed,
    InvalidLoss,
    InvalidResultStatus,
    InvalidTrial,
)
from .pyll.base import GarbageCollected

logger = logging.getLogger(__name__)

# -- result status strings
STATUS_NEW = "new"
STATUS_RUNNING = "running"
STATUS_SUSPENDED = "suspended"
STATUS_OK = "ok"
STATUS_FAIL = "fail"
STATUS_STRINGS = (
    "new",  # computations have not started
    "running",  # computations are in prog
    "suspended",  # computations have been suspended, job is not finished
    "ok",  # computations are finished, terminated normally
    "fail",  # computations are finished, terminated with error
)

# -- job states (numbered as the C core's pz_trial_state)
JOB_STATE_NEW = 0
JOB_STATE_RUNNING = 1
JOB_STATE_DONE = 2
JOB_STATE_ERROR = 3
JOB_STATE_CANCEL = 4
JOB_STATES = [JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATE_DONE,
              JOB_STATE_ERROR, JOB_STATE_CANCEL]
JOB_VALID_STATES = {JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATE_DONE}

_STATE_SLOTS = frozenset(JOB_STATES)
_INDEX_KEYS = ("_pz_counts", "_pz_open", "_pz_dyn", "_pz_pos", "_pz_results",
               "_pz_best")


def counts_total(counts):
    return sum(counts)
_OPEN = (JOB_STATE_NEW, JOB_STATE_RUNNING)


def _c_counts():
    return tuple(bool(_core.trial_counts(s)) for s in JOB_STATES)


# -- which states count toward max_evals: the C core's one meaning
# (pz_trial_counts, src/stop.c), read once
_COUNTS = _c_counts()


def counts_toward_budget(state):
    """Does a trial in ``state`` count toward ``max_evals`` when fmin
    decides how many more points to ask for? The C core's meaning
    (pz_trial_counts, docs/architecture.md "One meaning": RUNNING, DONE,
    ERROR; a CANCEL trial gives its place back) plus the queued NEW
    trials, which are started before any new point is asked."""
    return state == JOB_STATE_NEW or (
        state in _STATE_SLOTS and _COUNTS[state])


def trial_loss(state, result):
    """The loss of a trial (pz_trial_loss, docs/architecture.md "One
    meaning"): a DONE ``ok`` trial's loss (NaN stays NaN: never the best);
    +inf for a DONE ``fail`` trial whatever loss it carries, for a DONE
    trial without a usable loss and for NEW/RUNNING; NaN for ERROR and
    CANCEL."""
    loss = result.get("loss") if state == JOB_STATE_DONE else None
    if loss is None:
        value = math.inf
    else:
        try:
            value = float(loss)
        except (TypeError, ValueError):
            value = math.inf
    status = result.get("status")
    return _core.trial_loss(state if state in _STATE_SLOTS else
                            JOB_STATE_CANCEL,
                            status if isinstance(status, str) else None,
                            value)


TRIAL_KEYS = ["tid", "spec", "result", "misc", "state", "owner",
              "book_time", "refresh_time", "exp_key"]
TRIAL_MISC_KEYS = ["tid", "cmd", "idxs", "vals"]


def _all_same(*args):
    return 1 == len(set(args))


def coarse_utcnow():
    """Naive UTC now, truncated to milliseconds (as stored in trial docs)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    microsec = (now.microsecond // 10 ** 3) * (10 ** 3)
    return now.replace(microsecond=microsec)


def SONify(arg, memo=None):  # noqa: N802 - hyperopt's name
    """numpy scalars -> Python scalars, arrays -> lists, recursively (what
    hyperopt does before inserting into a MongoDB)."""
    if memo is None:
        memo = {}
    if id(arg) in memo:
        return memo[id(arg)]
    if isinstance(arg, (datetime.datetime, str, bytes, type(None))):
        rval = arg
    elif isinstance(arg, (bool, np.bool_)):
        rval = bool(arg)
    elif isinstance(arg, (int, float)):
        rval = arg
    elif isinstance(arg, np.floating):
        rval = float(arg)
    elif isinstance(arg, np.integer):
        rval = int(arg)
    elif isinstance(arg, np.ndarray):
        rval = arg.tolist() if arg.ndim else arg.item()
    elif isinstance(arg, dict):
        rval = {SONify(k, memo): SONify(v, memo) for k, v in arg.items()}
    elif isinstance(arg, tuple):
        rval = tuple(SONify(a, memo) for a in arg)
    elif isinstance(arg, list):
        rval = [SONify(a, memo) for a in arg]
    else:
        raise TypeError("SONify", arg)
    memo[id(rval)] = rval
    return rval


def miscs_update_idxs_vals(miscs, idxs, vals, assert_all_vals_used=True,
                           idxs_map=None):
    """Write idxs/vals (label -> tid list / value list) into misc dicts."""
    if idxs_map is None:
        idxs_map = {}
    assert set(idxs.keys()) == set(vals.keys())
    misc_by_id = {m["tid"]: m for m in miscs}
    for m in miscs:
        m["idxs"] = {key: [] for key in idxs}
        m["vals"] = {key: [] for key in idxs}
    for key in idxs:
        assert len(idxs[key]) == len(vals[key])
        for tid, val in zip(idxs[key], vals[key]):
            tid = idxs_map.get(tid, tid)
            if assert_all_vals_used or tid in misc_by_id:
                misc_by_id[tid]["idxs"][key] = [tid]
                misc_by_id[tid]["vals"][key] = [val]
    return miscs


def miscs_to_idxs_vals(miscs, keys=None):
    if keys is None:
        if len(miscs) == 0:
            raise ValueError("cannot infer keys from empty miscs")
        keys = list(miscs[0]["idxs"].keys())
    idxs = {k: [] for k in keys}
    vals = {k: [] for k in keys}
    for misc in miscs:
        for node_id in idxs:
            t_idxs = misc["idxs"][node_id]
            t_vals = misc["vals"][node_id]
            assert len(t_idxs) == len(t_vals)
            assert t_idxs == [] or t_idxs == [misc["tid"]]
            idxs[node_id].extend(t_idxs)
            vals[node_id].extend(t_vals)
    return idxs, vals


def spec_from_misc(misc):
    spec = {}
    for k, v in misc["vals"].items():
        if len(v) == 0:
            pass
        elif len(v) == 1:
            spec[k] = v[0]
        else:
            raise NotImplementedError("multiple values", (k, v))
    return spec


def suggest_of(algo):
    """`algo` as a suggest function. hyperopt's own Spark example passes
    the algorithm's module (``algo=hyperopt.tpe``); its ``suggest`` runs."""
    if isinstance(algo, types.ModuleType):
        suggest = getattr(algo, "suggest", None)
        if not callable(suggest):
            raise TypeError(
                "algo=%s is a module without a suggest function: pass an "
                "algorithm module (tpe, rand, anneal, atpe) or a suggest "
                "function (tpe.suggest)" % algo.__name__)
        return suggest
    return algo


def validate_timeout(timeout):
    if timeout is not None and (
            not isinstance(timeout, (int, float)) or isinstance(timeout, bool)
            or timeout <= 0):
        raise Exception(
            "The timeout argument should be None or a positive value. "
            "Given value: {m}".format(m=timeout))


def validate_loss_threshold(loss_threshold):
    if loss_threshold is not None and (
            not isinstance(loss_threshold, (int, float))
            or isinstance(loss_threshold, bool)):
        raise Exception(
            "The loss_threshold argument should be None or a numeric value. "
            "Given value: {m}".format(m=loss_threshold))


def _is_nan(x):
    try:
        return x != x
    except Exception:
        return False


# ------------------------------------------------------------------ Trials


class Trials:
    """Database interface supporting data-driven model-based optimization.

    ``trials`` (after :meth:`refresh`) lists the documents in states NEW,
    RUNNING and DONE. Inserts never refresh (as in hyperopt).
    """

    asynchronous = False

    def __init__(self, exp_key=None, refresh=True):
        self._ids = set()
        self._dynamic_trials = []
        self._exp_key = exp_key
        self.attachments = {}
        self._max_tid = -1
        self._pz_epoch = 0
        if refresh:
            self.refresh()

    def view(self, exp_key=None, refresh=True):
        rval = object.__new__(self.__class__)
        rval._exp_key = exp_key
        rval._ids = self._ids
        rval._dynamic_trials = self._dynamic_trials
        rval.attachments = self.attachments
        rval._max_tid = self._max_tid
        rval._pz_epoch = 0
        if refresh:
            rval.refresh()
        return rval

    def __getstate__(self):
        state = self.__dict__.copy()
        for k in _INDEX_KEYS:  # rebuilt by the next sync or refresh
            state.pop(k, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_max_tid", -1)
        self.__dict__.setdefault("_pz_epoch", 0)

    def aname(self, trial, name):
        return "ATTACH::{}::{}".format(trial["tid"], name)

    def trial_attachments(self, trial):
        """``trials.trial_attachments(doc)[name]`` (get, set, del, in)."""
        return _Attachments(self, trial)

    def __iter__(self):
        try:
            return iter(self._trials)
        except AttributeError:
            print("You have to refresh before you iterate", file=sys.stderr)
            raise

    def __len__(self):
        try:
            return len(self._trials)
        except AttributeError:
            print("You have to refresh before you compute len",
                  file=sys.stderr)
            raise

    def __getitem__(self, item):
        raise NotImplementedError("")

    def refresh(self):
        """Rebuild ``trials`` from every inserted document (O(N)).

        The C studies that mirror this Trials re-read the whole history
        only when the listed documents, or the ``result`` objects of the
        DONE ones, are not the ones listed before (a document edited in
        place, inserted without a sync, deleted): see ``_pz_epoch``."""
        key = self._exp_key
        dyn = self._dynamic_trials
        if key is None:
            own = dyn
        else:
            own = [tt for tt in dyn if tt["exp_key"] == key]
        listed = [tt for tt in own if tt["state"] in JOB_VALID_STATES]
        old = self.__dict__.get("_trials")
        old_fp = self.__dict__.get("_pz_results")
        fp = {id(tt): tt["result"] for tt in listed
              if tt["state"] == JOB_STATE_DONE}
        if (old is None or old_fp is None or len(old) != len(listed)
                or not all(map(operator.is_, old, listed)) or fp != old_fp):
            self._pz_epoch = self.__dict__.get("_pz_epoch", 0) + 1
        self._trials = listed
        self._pz_results = fp
        self._pz_index(own, dyn)
        self._note_ids(tt["tid"] for tt in listed)

    def _pz_index(self, own, dyn):
        """Counts by state and the open (NEW/RUNNING) documents of `own`,
        read up to the end of `dyn` (what sync() continues from)."""
        counts = [0, 0, 0, 0, 0, 0]  # the five states, then any other
        opened = {}
        self._pz_best = None
        for pos, doc in enumerate(own):
            s = doc["state"]
            counts[s if s in _STATE_SLOTS else 5] += 1
            if s in _OPEN:
                opened[id(doc)] = (doc, s, pos)
            elif s == JOB_STATE_DONE:
                self._pz_consider(doc, pos)
        self._pz_counts = counts
        self._pz_open = opened
        self._pz_dyn = dyn
        self._pz_pos = len(dyn)

    def _pz_consider(self, doc, pos):
        """Keep the best trial (best_trial's rule) as documents finish;
        `pos` orders ties (the first listed wins)."""
        loss = trial_loss(JOB_STATE_DONE, doc["result"])
        if loss != loss or loss == math.inf:
            return
        best = self._pz_best
        if best is None or loss < best[0] or (loss == best[0]
                                              and pos < best[1]):
            self._pz_best = (loss, pos, doc, doc["result"])

    def sync(self):
        """Bring ``trials`` up to date with what changed since the last
        sync or refresh: documents inserted since (appended when listed)
        and documents that were NEW or RUNNING (dropped when they left the
        listed states). O(new + open) documents, where refresh() is O(N).
        Returns the newly seen documents (of this exp_key). The fmin
        driver calls it; a change to a finished document is seen by the
        next refresh()."""
        dyn = self._dynamic_trials
        if (self.__dict__.get("_pz_dyn") is not dyn
                or "_trials" not in self.__dict__
                or self._pz_pos > len(dyn)):
            n = len(self.__dict__.get("_trials") or ())
            self.refresh()
            return self._trials[n:] if n <= len(self._trials) else []
        counts = self._pz_counts
        opened = self._pz_open
        gone = None
        for k, (doc, old, p) in list(opened.items()):
            s = doc["state"]
            if s == old:
                continue
            counts[old] -= 1
            counts[s if s in _STATE_SLOTS else 5] += 1
            if s in _OPEN:
                opened[k] = (doc, s, p)
                continue
            del opened[k]
            if s == JOB_STATE_DONE:
                self._pz_consider(doc, p)
                self._pz_results[k] = doc["result"]
            elif s not in JOB_VALID_STATES:
                if gone is None:
                    gone = set()
                gone.add(k)
        if gone:
            self._trials = [tt for tt in self._trials if id(tt) not in gone]
        pos = self._pz_pos
        if pos == len(dyn):
            return []
        key = self._exp_key
        new = dyn[pos:] if key is None else \
            [tt for tt in dyn[pos:] if tt["exp_key"] == key]
        listed = []
        for p, doc in enumerate(new, counts_total(counts)):
            s = doc["state"]
            counts[s if s in _STATE_SLOTS else 5] += 1
            if s in _OPEN:
                opened[id(doc)] = (doc, s, p)
            elif s == JOB_STATE_DONE:
                self._pz_consider(doc, p)
                self._pz_results[id(doc)] = doc["result"]
            if s in JOB_VALID_STATES:
                listed.append(doc)
        self._trials.extend(listed)
        self._pz_pos = len(dyn)
        self._note_ids(tt["tid"] for tt in listed)
        return new

    def _note_ids(self, tids):
        mx = getattr(self, "_max_tid", -1)
        ids = self._ids
        for tid in tids:
            ids.add(tid)
            if isinstance(tid, int) and tid > mx:
                mx = tid
        self._max_tid = mx

    def _refresh_append(self):
        """hyperopt-era name of :meth:`sync`."""
        self.sync()

    def n_counted(self):
        """Trials counting toward ``max_evals`` (:func:`counts_toward_
        budget`) as of the last sync or refresh."""
        c = self._pz_counts
        return sum(c[s] for s in _STATE_SLOTS if counts_toward_budget(s))

    def queued_docs(self):
        """The NEW documents (queued, not started), oldest first."""
        return [doc for doc, s, _ in self._pz_open.values()
                if s == JOB_STATE_NEW]

    def trial_started(self, doc):
        """The driver starts ``doc``: RUNNING, with its book time. A
        storage that records starts (StoreTrials) writes it here."""
        now = coarse_utcnow()
        doc["state"] = JOB_STATE_RUNNING
        doc["book_time"] = now
        doc["refresh_time"] = now

    def trial_finished(self, doc):
        """The driver recorded ``doc``'s outcome (state, result or
        misc['error'], refresh_time). A storage that records outcomes
        (StoreTrials) writes it here; ``trials`` follows at the next sync."""

    @property
    def trials(self):
        return self._trials

    @property
    def tids(self):
        return [tt["tid"] for tt in self._trials]

    @property
    def specs(self):
        return [tt["spec"] for tt in self._trials]

    @property
    def results(self):
        return [tt["result"] for tt in self._trials]

    @property
    def miscs(self):
        return [tt["misc"] for tt in self._trials]

    @property
    def idxs_vals(self):
        return miscs_to_idxs_vals(self.miscs)

    @property
    def idxs(self):
        return self.idxs_vals[0]

    @property
    def vals(self):
        return self.idxs_vals[1]

    def assert_valid_trial(self, trial):
        if not (hasattr(trial, "keys") and hasattr(trial, "values")):
            raise InvalidTrial("trial should be dict-like", trial)
        for key in TRIAL_KEYS:
            if key not in trial:
                raise InvalidTrial("trial missing key %s", key)
        for key in TRIAL_MISC_KEYS:
            if key not in trial["misc"]:
                raise InvalidTrial('trial["misc"] missing key', key)
        if trial["tid"] != trial["misc"]["tid"]:
            raise InvalidTrial("tid mismatch between root and misc", trial)
        if trial["exp_key"] != self._exp_key:
            raise InvalidTrial("wrong exp_key",
                               (trial["exp_key"], self._exp_key))
        return trial

    def _insert_trial_docs(self, docs):
        """Insert without validating."""
        rval = [doc["tid"] for doc in docs]
        self._dynamic_trials.extend(docs)
        return rval

    def insert_trial_doc(self, doc):
        """Insert one document (validated); does not refresh."""
        doc = self.assert_valid_trial(doc)
        return self._insert_trial_docs([doc])[0]

    def insert_trial_docs(self, docs):
        """Insert documents (validated); does not refresh."""
        docs = [self.assert_valid_trial(doc) for doc in docs]
        return self._insert_trial_docs(docs)

    def new_trial_ids(self, n):
        """Allocate n fresh tids.

        hyperopt returns ``range(len(ids), len(ids) + n)``, which can hand
        out a tid already present when tids are not 0..k-1; here the start
        is also past the largest integer tid seen."""
        mx = getattr(self, "_max_tid", -1)
        aa = max(len(self._ids), mx + 1)
        rval = list(range(aa, aa + n))
        self._ids.update(rval)
        if n:
            self._max_tid = max(mx, aa + n - 1)
        return rval

    def new_trial_docs(self, tids, specs, results, miscs):
        assert len(tids) == len(specs) == len(results) == len(miscs)
        trials_docs = []
        for tid, spec, result, misc in zip(tids, specs, results, miscs):
            doc = {
                "state": JOB_STATE_NEW,
                "tid": tid,
                "spec": spec,
                "result": result,
                "misc": misc,
                "exp_key": self._exp_key,
                "owner": None,
                "version": 0,
                "book_time": None,
                "refresh_time": None,
            }
            trials_docs.append(doc)
        return trials_docs

    def source_trial_docs(self, tids, specs, results, miscs, sources):
        assert _all_same(len(tids), len(specs), len(results), len(miscs),
                         len(sources))
        rval = []
        for tid, spec, result, misc, source in zip(tids, specs, results,
                                                   miscs, sources):
            doc = dict(
                version=0,
                tid=tid,
                spec=spec,
                result=result,
                misc=misc,
                state=source["state"],
                exp_key=source["exp_key"],
                owner=source["owner"],
                book_time=source["book_time"],
                refresh_time=source["refresh_time"],
            )
            for k, v in (("tid", tid), ("cmd", None),
                         ("from_tid", source["tid"])):
                assert doc["misc"].setdefault(k, v) == v
            rval.append(doc)
        return rval

    def delete_all(self):
        self._dynamic_trials = []
        self.attachments = {}
        self.refresh()

    def count_by_state_synced(self, arg, trials=None):
        """Number of trials in state(s) ``arg`` among refreshed trials."""
        if trials is None:
            trials = self._trials
        if arg in JOB_STATES:
            return sum(1 for doc in trials if doc["state"] == arg)
        if hasattr(arg, "__iter__"):
            states = set(arg)
            assert all(x in JOB_STATES for x in states)
            return sum(1 for doc in trials if doc["state"] in states)
        raise TypeError(arg)

    def count_by_state_unsynced(self, arg):
        """What count_by_state_synced would return after a refresh."""
        if self._exp_key is not None:
            exp_trials = [tt for tt in self._dynamic_trials
                          if tt["exp_key"] == self._exp_key]
        else:
            exp_trials = self._dynamic_trials
        return self.count_by_state_synced(arg, trials=exp_trials)

    def losses(self, bandit=None):
        if bandit is None:
            return [r.get("loss") for r in self.results]
        return list(map(bandit.loss, self.results, self.specs))

    def statuses(self, bandit=None):
        if bandit is None:
            return [r.get("status") for r in self.results]
        return list(map(bandit.status, self.results, self.specs))

    def average_best_error(self, bandit=None):
        """True loss of the best trial, or (with loss variances) the
        expected true loss of the best under Gaussian loss uncertainty."""
        if bandit is None:
            results = self.results
            loss = [r["loss"] for r in results if r["status"] == STATUS_OK]
            loss_v = [r.get("loss_variance", 0) for r in results
                      if r["status"] == STATUS_OK]
            true_loss = [r.get("true_loss", r["loss"]) for r in results
                         if r["status"] == STATUS_OK]
        else:
            def fmap(f):
                rval = np.asarray([
                    f(r, s) for (r, s) in zip(self.results, self.specs)
                    if bandit.status(r) == STATUS_OK]).astype("float")
                if not np.all(np.isfinite(rval)):
                    raise ValueError()
                return rval

            loss = fmap(bandit.loss)
            loss_v = fmap(bandit.loss_variance)
            true_loss = fmap(bandit.true_loss)
        loss3 = list(zip(loss, loss_v, true_loss))
        if not loss3:
            raise ValueError("Empty loss vector")
        loss3.sort()
        loss3 = np.asarray(loss3, dtype=float)
        if np.all(loss3[:, 1] == 0):
            best_idx = np.argmin(loss3[:, 0])
            return loss3[best_idx, 2]
        cutoff = 0
        sigma = np.sqrt(loss3[0][1])
        while cutoff < len(loss3) and loss3[cutoff][0] < loss3[0][0] + 3 * sigma:
            cutoff += 1
        pmin = _pmin_sampled(loss3[:cutoff, 0], loss3[:cutoff, 1])
        avg_true_loss = (pmin * loss3[:cutoff, 2]).sum()
        return avg_true_loss

    @property
    def best_trial(self):
        """The trial with status ok and the lowest non-NaN loss (the first
        one on ties); AllTrialsFailed when there is none. O(1): kept as
        trials finish (sync) and recomputed by refresh()."""
        cached = self.__dict__.get("_pz_best")
        if cached is not None and type(self).refresh is Trials.refresh:
            loss, _, doc, result = cached
            if doc["state"] == JOB_STATE_DONE and doc["result"] is result \
                    and trial_loss(JOB_STATE_DONE, result) == loss:
                return doc
        best = None
        best_loss = None
        for t in self._trials:
            r = t["result"]
            if r.get("status") != STATUS_OK:
                continue
            loss = r.get("loss")
            if loss is None or _is_nan(loss):
                continue
            loss = float(loss)
            if best is None or loss < best_loss:
                best, best_loss = t, loss
        if best is None:
            raise AllTrialsFailed
        return best

    @property
    def argmin(self):
        best_trial = self.best_trial
        vals = best_trial["misc"]["vals"]
        return {k: v[0] for k, v in vals.items() if v}

    def fmin(self, fn, space, algo=None, max_evals=None, timeout=None,
             loss_threshold=None, max_queue_len=1, rstate=None, verbose=False,
             pass_expr_memo_ctrl=None, catch_eval_exceptions=False,
             return_argmin=True, show_progressbar=True, early_stop_fn=None,
             trials_save_file="", mlflow_tracking=None, pruner=None):
        """Minimize ``fn`` over ``space`` using this Trials (see fmin)."""
        from .fmin import FminArgs, _run

        return _run(fn, space, FminArgs.of(locals()), trials=self)

    fmin._pz_driver = True  # fmin() runs it itself (with points_to_evaluate)


class _Attachments:
    """The attachments of one trial, stored in ``trials.attachments``."""

    def __init__(self, trials, trial):
        self._trials = trials
        self._trial = trial

    def _key(self, name):
        return self._trials.aname(self._trial, name)

    def __contains__(self, name):
        return self._key(name) in self._trials.attachments

    def __getitem__(self, name):
        return self._trials.attachments[self._key(name)]

    def __setitem__(self, name, value):
        self._trials.attachments[self._key(name)] = value

    def __delitem__(self, name):
        del self._trials.attachments[self._key(name)]


def _pmin_sampled(mean, var, n_samples=1000, rng=None):
    """Probability that each Gaussian is the minimum (Monte Carlo)."""
    if rng is None:
        rng = np.random.default_rng(232342)
    samples = rng.standard_normal((n_samples, len(mean))) * np.sqrt(var) + mean
    winners = (samples.T == samples.min(axis=1)).T
    wincounts = winners.sum(axis=0)
    assert wincounts.shape == mean.shape
    return wincounts.astype("float64") / wincounts.sum()


def trials_from_docs(docs, validate=True, **kwargs):
    """Construct a Trials base class instance from a list of trials
    documents."""
    rval = Trials(**kwargs)
    if validate:
        rval.insert_trial_docs(docs)
    else:
        rval._insert_trial_docs(docs)
    rval.refresh()
    return rval


# -------------------------------------------------------------------- Ctrl


class Ctrl:
    """Control object for interruptible, checkpoint-able evaluation."""

    info = logger.info
    warn = logger.warning
    error = logger.error
    debug = logger.debug

    def __init__(self, trials, current_trial=None):
        self.trials = Trials() if trials is None else trials
        self.current_trial = current_trial

    def checkpoint(self, r=None):
        assert any(t is self.current_trial for t in self.trials._trials)
        if r is not None:
            self.current_trial["result"] = r

    @property
    def attachments(self):
        """Per-trial attachments: ``ctrl.attachments[name] = value``."""
        return self.trials.trial_attachments(trial=self.current_trial)

    def inject_results(self, specs, results, miscs, new_tids=None):
        """Insert extra DONE trials derived from the current one."""
        trial = self.current_trial
        assert trial is not None
        num_news = len(specs)
        assert len(specs) == len(results) == len(miscs)
        if new_tids is None:
            new_tids = self.trials.new_trial_ids(num_news)
        new_trials = self.trials.source_trial_docs(
            tids=new_tids, specs=specs, results=results, miscs=miscs,
            sources=[trial])
        for t in new_trials:
            t["state"] = JOB_STATE_DONE
        return self.trials.insert_trial_docs(new_trials)


# ------------------------------------------------------------------ Domain


def _straight_line_plan(expr):
    """(literals, steps) to evaluate the nodes above the hyperparameters in
    order -- steps are (node, pos inputs, named inputs) -- or False when a
    switch (lazy) or an unregistered op is among them."""
    order = []
    literals = []
    seen = set()
    stack = [(expr, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append((node, list(node.pos_args),
                          [(k, v) for k, v in node.named_args]))
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, pyll.Literal):
            literals.append((node, node.obj))
            continue
        if node.name == "hyperopt_param":
            continue
        if node.name == "switch" or node.name not in pyll.scope._impls:
            return False
        stack.append((node, True))
        for child in reversed(node.inputs()):
            stack.append((child, False))
    return literals, order


class _SpaceParts:
    """What a Domain derives from its space alone (the pyll graph, its
    hyperparameters, the compiled C space), shared by the Domains of one
    space: the resume pattern builds a Domain per fmin call."""

    __slots__ = ("expr", "hp_nodes", "params", "hp_list", "ctrl_literals",
                 "compiled", "plan", "anchors")

    def __init__(self, space, anchors):
        self.expr = pyll.as_apply(space)
        self.hp_nodes = find_params(self.expr)  # DuplicateLabel, cycles
        self.params = {label: node.pos_args[1] if len(node.pos_args) > 1
                       else node.arg["obj"]
                       for label, node in self.hp_nodes.items()}
        self.hp_list = list(self.hp_nodes.items())
        self.ctrl_literals = [
            n for n in pyll.dfs(self.expr)
            if isinstance(n, pyll.Literal) and n.obj is Ctrl]
        self.compiled = None
        self.plan = None
        self.anchors = anchors  # keeps the keyed nodes' ids unique


_PARTS_CACHE = {}
_PARTS_MAX = 16


class _NoKey(Exception):
    pass


def _space_key(obj, anchors):
    """A key naming a space by its containers' shape, its literals and the
    identity of its pyll nodes (a pyll graph is not changed once built);
    _NoKey when it has anything else."""
    t = type(obj)
    if isinstance(obj, pyll.Apply):
        anchors.append(obj)
        return id(obj)
    if t is dict:
        return ("d",) + tuple((k, _space_key(v, anchors))
                              for k, v in obj.items())
    if t is list or t is tuple:
        return (t.__name__,) + tuple(_space_key(v, anchors) for v in obj)
    if t in (str, int, bool) or obj is None or (t is float and obj == obj):
        return (t.__name__, obj)
    raise _NoKey


def _space_parts(space):
    anchors = []
    try:
        key = _space_key(space, anchors)
        hash(key)
    except (_NoKey, TypeError, RecursionError):
        return _SpaceParts(space, None)
    parts = _PARTS_CACHE.get(key)
    if parts is None:
        parts = _SpaceParts(space, anchors)
        if len(_PARTS_CACHE) >= _PARTS_MAX:
            _PARTS_CACHE.pop(next(iter(_PARTS_CACHE)))
        _PARTS_CACHE[key] = parts
    return parts


class Domain:
    """An objective function and its search space.

    Attributes as in hyperopt: ``fn``, ``expr`` (the pyll graph), ``params``
    (label -> distribution node), ``cmd``, ``workdir``, ``name``,
    ``loss_target``. The C form of the space is compiled on first use by an
    algorithm (``compiled``).
    """

    rec_eval_print_node_on_error = False

    # -- the Ctrl class, as a literal usable inside spaces
    pyll_ctrl = pyll.as_apply(Ctrl)

    def __init__(self, fn, expr, workdir=None, pass_expr_memo_ctrl=None,
                 name=None, loss_target=None):
        self.fn = fn
        if pass_expr_memo_ctrl is None:
            self.pass_expr_memo_ctrl = getattr(fn, "fmin_pass_expr_memo_ctrl",
                                               False)
        else:
            self.pass_expr_memo_ctrl = pass_expr_memo_ctrl
        parts = _space_parts(expr)
        self.expr = parts.expr
        self._hp_nodes = parts.hp_nodes
        self.params = parts.params
        self._hp_list = parts.hp_list
        self._ctrl_literals = parts.ctrl_literals
        self.loss_target = loss_target
        self.name = name
        self.workdir = workdir
        self.cmd = ("domain_attachment", "FMinIter_Domain")
        self._compiled = None
        self._parts = parts

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_compiled"] = None
        state.pop("_plan", None)
        state.pop("_parts", None)
        return state

    @property
    def compiled(self):
        """The space compiled to the C core (InvalidSearchSpace if parzen
        cannot represent it)."""
        if self._compiled is None:
            parts = self.__dict__.get("_parts")
            if parts is not None and parts.compiled is not None:
                self._compiled = parts.compiled
            else:
                self._compiled = CompiledSpace(self.expr)
                if parts is not None and self._compiled.exact:
                    parts.compiled = self._compiled  # shared: no state
        return self._compiled

    def memo_from_config(self, config):
        memo = {}
        for label, node in self._hp_list:
            memo[node] = config.get(label, GarbageCollected)
        return memo

    def evaluate(self, config, ctrl, attach_attachments=True):
        """Evaluate the objective at ``config`` (label -> stored value) and
        return the result dict (see hyperopt's result contract)."""
        memo = self.memo_from_config(config)
        for lit in self._ctrl_literals:
            memo[lit] = ctrl
        if self.pass_expr_memo_ctrl:
            rval = self.fn(expr=self.expr, memo=memo, ctrl=ctrl)
        else:
            rval = self.fn(self._eval_point(memo))
        return self._result_dict(rval, ctrl, attach_attachments)

    def _eval_point(self, memo):
        """rec_eval(self.expr, memo), with a precomputed straight-line plan
        when the part of the graph above the hyperparameters has no switch
        (the common flat dict-of-hp space): same result, less overhead."""
        plan = self.__dict__.get("_plan")
        if plan is None:
            parts = self.__dict__.get("_parts")
            plan = parts.plan if parts is not None else None
            if plan is None:
                plan = _straight_line_plan(self.expr)
                if parts is not None:
                    parts.plan = plan
            self._plan = plan
        if plan is False:
            return pyll.rec_eval(
                self.expr, memo=memo,
                print_node_on_error=self.rec_eval_print_node_on_error)
        impls = pyll.scope._impls
        literals, steps = plan
        values = dict(literals)
        values.update(memo)
        try:
            for node, args, kwargs in steps:
                if node in values:
                    continue
                if kwargs:
                    rval = impls[node.name](
                        *[values[a] for a in args],
                        **{k: values[v] for k, v in kwargs})
                else:
                    rval = impls[node.name](*[values[a] for a in args])
                if isinstance(rval, pyll.Apply):
                    rval = pyll.rec_eval(rval, memo=values)
                values[node] = rval
        except Exception:
            # -- the generic evaluator reports errors the usual way
            return pyll.rec_eval(
                self.expr, memo=memo,
                print_node_on_error=self.rec_eval_print_node_on_error)
        return values[self.expr]

    def _result_dict(self, rval, ctrl, attach_attachments):
        if isinstance(rval, (float, int, np.number)):
            dict_rval = {"loss": float(rval), "status": STATUS_OK}
        else:
            dict_rval = dict(rval)
            status = dict_rval["status"]
            if status not in STATUS_STRINGS:
                raise InvalidResultStatus(dict_rval)
            if status == STATUS_OK:
                try:
                    dict_rval["loss"] = float(dict_rval["loss"])
                except (TypeError, KeyError, ValueError):
                    raise InvalidLoss(dict_rval) from None
        if attach_attachments:
            attachments = dict_rval.pop("attachments", {})
            for key, val in list(attachments.items()):
                ctrl.attachments[key] = val
        return dict_rval

    def evaluate_async(self, config, ctrl, attach_attachments=True):
        """First half of evaluate, for pass_expr_memo_ctrl=False only:
        returns (fn, point)."""
        memo = self.memo_from_config(config)
        for lit in self._ctrl_literals:
            memo[lit] = ctrl
        if self.pass_expr_memo_ctrl:
            pyll_rval = self.fn(expr=self.expr, memo=memo, ctrl=ctrl)
        else:
            pyll_rval = pyll.rec_eval(
                self.expr, memo=memo,
                print_node_on_error=self.rec_eval_print_node_on_error)
        return (self.fn, pyll_rval)

    def evaluate_async2(self, rval, ctrl, attach_attachments=True):
        """Second half: turn fn's return value into the result dict."""
        return self._result_dict(rval, ctrl, attach_attachments)

    def short_str(self):
        return "Domain{%s}" % str(self.fn)

    def loss(self, result, config=None):
        """Extract the scalar-valued loss from a result document"""
        return result.get("loss", None)

    def loss_variance(self, result, config=None):
        """Return the variance in the estimate of the loss"""
        return result.get("loss_variance", 0.0)

    def true_loss(self, result, config=None):
        """Return a true loss, in the case that the `loss` is a surrogate"""
        return result.get("true_loss", self.loss(result, config=config))

    def true_loss_variance(self, config=None):
        """Return the variance in  true loss,
        in the case that the `loss` is a surrogate.
        """
        raise NotImplementedError()

    def status(self, result, config=None):
        """Extract the job status from a result document"""
        return result["status"]

    def new_result(self):
        """Return a JSON-encodable object
        to serve as the 'result' for new jobs.
        """
        return {"status": STATUS_NEW}
