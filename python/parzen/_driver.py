"""The one trial loop: ask -> dispatch -> record -> stop rules.

Every fmin runs here, whatever keeps the trials (a storage: an in-memory
:class:`~parzen.base.Trials`, or a :class:`~parzen.store.StoreTrials`
that writes each start and outcome to SQLite) and whatever runs them (an
executor: inline in this thread, local worker processes, Spark tasks).

The driver thread owns the trial documents, the Domain and the algorithm.
An executor runs objectives and posts each outcome, exactly once, on the
driver's queue (from any thread); the driver blocks on that queue, records
the outcome, applies the stop rules and refills the free slots at once. So
with P slots, P trials run whenever work remains, and no lock guards the
Trials. The inline executor evaluates a trial inside submit() and posts its
outcome before returning: the same loop then runs trials one after
another, as hyperopt's serial fmin does.

The driver talks to the storage through three hooks of ``Trials``:
``trial_started(doc)``, ``trial_finished(doc)`` and ``sync()`` (bring
``trials.trials`` up to date with what changed since the last sync, in
O(changes); see ``Trials.sync``). It never calls ``refresh()`` (O(N)) on a
Trials of ours, so a run costs O(1) amortised per trial at any size.

Observers (docs/architecture.md, "Observers") see the run: an object with
any of ``on_run_start(run)``, ``on_trial_start(run, doc)``,
``on_trial_end(run, doc)``, ``on_run_end(run, reason, error)``. Register
one with :func:`add_observer` (every run) or pass it to the run. An
observer that raises is logged and dropped for the rest of the run: a
failing side service never fails a tuning run.
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import sys
import threading
import time
import types
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    coarse_utcnow,
    counts_toward_budget,
    spec_from_misc,
)

logger = logging.getLogger("parzen.dispatch")

FMIN_CANCELLED_REASON_TIMEOUT = "fmin run timeout"
FMIN_CANCELLED_REASON_EARLY_STOPPING = "early stopping condition"
FMIN_CANCELLED_REASON_USER = "fmin run cancelled by user"
FMIN_CANCELLED_REASON_LOSS_THRESHOLD = "loss threshold reached"

# How long to wait for cancelled trials to report back before giving up on
# them (they are recorded CANCEL either way).
CANCEL_GRACE_SECS = 30.0


@dataclass
class Outcome:
    """What an executor reports for one trial, exactly once."""

    tid: Any
    kind: str  # "ok", "error" (objective raised), "lost" (worker/job failed)
    value: Any = None  # "ok": the objective's return value
    error: Optional[tuple] = None  # (type string, message or traceback)
    result: Optional[dict] = None  # "ok" from the inline executor: the
    # result document already built by Domain.evaluate
    exc: Optional[BaseException] = None  # "error" inline: the exception


class Executor:
    """Runs objectives somewhere. Subclasses implement submit and cancel.

    ``submit(tid, point, report)`` must not block for the objective (the
    inline executor excepted) and must call ``report(Outcome)`` exactly
    once, from any thread, whatever happens (success, objective exception,
    lost worker, cancellation). ``parallelism`` is the number of slots.
    """

    parallelism: int = 1
    #: True: submit gets the trial document instead of the built point
    #: (the inline executor evaluates with Domain.evaluate and a Ctrl).
    evaluates_documents = False
    #: True: cancel() can stop a running trial (else stop rules only stop
    #: asking; the running trials finish).
    can_cancel = True
    #: How long a stopped run waits for its cancelled trials to report;
    #: None: until they do (SparkTrials told not to cancel jobs).
    cancel_grace: Optional[float] = CANCEL_GRACE_SECS
    #: False: whoever evaluates the trial marks it RUNNING (ExternalExecutor)
    marks_running = True

    def start(self, fn: Callable) -> None:
        """Prepare to run `fn` (e.g. check it pickles). Called once."""

    def submit(self, tid, point, report: Callable[[Outcome], None]) -> None:
        raise NotImplementedError

    def cancel(self, tid) -> None:
        """Stop trial `tid` if it is running; its report still comes."""

    def cancel_all(self, tids) -> None:
        """Stop every trial in `tids` (an executor with a cheaper way to
        stop them all, e.g. a Spark job tag, overrides this)."""
        for tid in tids:
            self.cancel(tid)

    def close(self) -> None:
        """Release workers; called once, when the run ends."""


class InlineExecutor(Executor):
    """Parallelism 1 in the driver's thread: hyperopt's serial fmin. Each
    trial is evaluated by ``Domain.evaluate`` with a ``Ctrl`` (so
    attachments, ``pass_expr_memo_ctrl`` and ``inject_results`` work)."""

    evaluates_documents = True
    can_cancel = False

    def __init__(self, trials, domain, slots=1):
        self.trials = trials
        self.domain = domain
        self.parallelism = max(1, int(slots))

    def submit(self, tid, doc, report):
        from .base import Ctrl

        spec = spec_from_misc(doc["misc"])
        ctrl = Ctrl(self.trials, current_trial=doc)
        try:
            result = self.domain.evaluate(spec, ctrl)
        except Exception as e:
            logger_fmin.error("job exception: %s" % str(e))
            report(Outcome(tid, "error", error=(str(type(e)), str(e)), exc=e))
            return
        report(Outcome(tid, "ok", result=result))


logger_fmin = logging.getLogger("parzen.fmin")


class ExternalExecutor(Executor):
    """Trials evaluated by someone else: workers that take the NEW
    documents of an ``asynchronous`` Trials (hyperopt's MongoTrials
    pattern) and write their outcome into them. The driver inserts up to
    ``slots`` documents; a watcher thread polls them every
    ``poll_interval`` seconds and reports each one that finished."""

    evaluates_documents = True
    can_cancel = False
    marks_running = False

    def __init__(self, slots=1, poll_interval=1.0):
        self.parallelism = max(1, int(slots))
        self.poll_interval = poll_interval
        self.watched: dict = {}
        self.report = None
        self.closed = threading.Event()
        self.thread = None

    def submit(self, tid, doc, report):
        self.watched[tid] = doc
        self.report = report
        if self.thread is None:
            self.thread = threading.Thread(target=self._watch, daemon=True,
                                           name="parzen-external-poll")
            self.thread.start()

    def _watch(self):
        while not self.closed.wait(self.poll_interval):
            for tid, doc in list(self.watched.items()):
                if doc["state"] not in (JOB_STATE_NEW, JOB_STATE_RUNNING):
                    del self.watched[tid]
                    self.report(Outcome(tid, "external"))

    def close(self):
        self.closed.set()


class ThreadedExecutor(Executor):
    """An executor whose trials each block one driver-side thread (a Spark
    job's collect(), a worker process's pipe). Subclasses implement
    run_one(tid, point) -> Outcome and cancel(tid).

    One thread per trial, started by submit()."""

    def submit(self, tid, point, report):
        def target():
            try:
                out = self.run_one(tid, point)
            except BaseException as e:  # never lose a report
                out = Outcome(tid, "lost", error=(str(type(e)), str(e)))
            report(out)

        t = threading.Thread(target=self.wrap_thread(target),
                             name="parzen-trial-%s" % (tid,), daemon=True)
        t.start()

    def wrap_thread(self, target):
        return target

    def run_one(self, tid, point) -> Outcome:
        raise NotImplementedError


# ------------------------------------------------------------- observers

_observers: list = []


def add_observer(observer) -> None:
    """See every run from now on (module docstring)."""
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer) -> None:
    try:
        _observers.remove(observer)
    except ValueError:
        pass


def algo_function(algo):
    """hyperopt accepts an algorithm module (``algo=tpe``) where a suggest
    function is expected: its ``suggest``."""
    from .base import suggest_of

    if isinstance(algo, types.ModuleType):
        return suggest_of(algo)  # a TypeError without a suggest
    if algo is not None and not callable(algo) and \
            callable(getattr(algo, "suggest", None)):
        return algo.suggest
    return algo


# ------------------------------------------------------------------ run


class Run:
    """One fmin call: the state of the loop (driver thread only).

    Public for observers: ``trials``, ``domain``, ``executor``,
    ``max_evals``, ``best_loss``, ``cancel_reason``, ``start_time``
    (time.monotonic()), ``n_started`` (trials started by this run).
    """

    def __init__(self, trials, domain, algo, executor, *, max_evals,
                 timeout=None, loss_threshold=None, rstate,
                 early_stop_fn=None, max_queue_len=1, progress=None,
                 catch_eval_exceptions=True, save=None, observers=(),
                 start_time=None, log=None):
        # the run's lines (SparkTrials: hyperopt's "hyperopt-spark")
        self.log = log or logger
        self.trials = trials
        self.domain = domain
        self.algo = algo
        self.executor = executor
        self.max_evals = max_evals
        self.timeout = timeout
        self.loss_threshold = loss_threshold
        self.rstate = rstate
        self.early_stop_fn = early_stop_fn
        self.early_stop_state: list = []
        self.max_queue_len = max(1, int(max_queue_len))
        self.progress = progress
        self.catch_eval_exceptions = catch_eval_exceptions
        self.save = save
        self.observers = list(_observers) + [
            o for o in observers if o is not None]
        self.events: "queue.SimpleQueue[Outcome]" = queue.SimpleQueue()
        self.inflight: dict = {}  # tid -> trial document
        self.queued: collections.deque = collections.deque()  # NEW docs
        self.asked: set = set()  # id() of the documents this run asked for
        self.cancel_reason: Optional[str] = None
        self.exhausted = False
        self.best_loss = math.inf
        self.start_time = time.monotonic() if start_time is None \
            else start_time
        self.n_started = 0
        self.n_asked = 0  # trials this run asked for, not canceled since
        self.budget = None  # trials this run may ask for (prepare())
        self.legacy = _needs_refresh(trials)

    # ------------------------------------------------------ storage
    def sync(self) -> list:
        """Bring trials.trials up to date; returns the documents seen for
        the first time."""
        if self.legacy:
            self.trials.refresh()
            dyn = self.trials._dynamic_trials
            new, self.legacy_pos = dyn[self.legacy_pos:], len(dyn)
            return new
        return self.trials.sync()

    legacy_pos = 0

    def counted(self) -> int:
        """Trials that count toward max_evals (base.counts_toward_budget)
        as of the last sync or refresh."""
        if self.legacy:
            return sum(1 for d in self.trials.trials
                       if counts_toward_budget(d["state"]))
        return self.trials.n_counted()

    def prepare(self, budget=None) -> None:
        """Fix this run's budget and read the queue. The budget is
        max_evals minus the trials that count as the Trials listed them
        before this call (hyperopt: NEW documents inserted without a
        refresh, e.g. generate_trials_to_calculate's, are evaluated in
        addition); ``budget`` caps it (FMinIter.run(N))."""
        if self.budget is not None:
            return
        if "_pz_counts" not in self.trials.__dict__ and not self.legacy:
            self.trials.refresh()
        if unbounded(self.max_evals):
            self.budget = sys.maxsize
        else:
            self.budget = max(0, self.max_evals - self.counted())
        if budget is not None:
            self.budget = min(self.budget, budget)
        self.sync()
        # -- the best so far, for loss_threshold and the progress line (as
        # hyperopt, which takes the best over every trial)
        best = None if self.legacy else self.trials.__dict__.get("_pz_best")
        if best is not None:
            self.best_loss = best[0]
        docs = self.trials.queued_docs() if not self.legacy else [
            d for d in self.trials.trials if d["state"] == JOB_STATE_NEW]
        self.queued.extend(docs)

    # ------------------------------------------------------- asking
    def ask(self, n) -> list:
        """One call of the algorithm for up to n ids; [] means it has
        nothing more. The new documents are queued."""
        trials = self.trials
        new_ids = trials.new_trial_ids(n)
        seed = int(self.rstate.integers(2**31 - 1))
        docs = self.algo(new_ids, self.domain, trials, seed)
        assert len(new_ids) >= len(docs)
        if docs:
            trials.insert_trial_docs(docs)
            for doc in self.sync():
                if doc["state"] == JOB_STATE_NEW:
                    self.queued.append(doc)
                    self.asked.add(id(doc))
            self.n_asked += len(docs)
        return list(docs or [])

    def launch(self, doc) -> None:
        ex = self.executor
        if ex.marks_running:
            self.trials.trial_started(doc)
        tid = doc["tid"]
        if ex.evaluates_documents:
            payload = doc
        else:
            # The point is built here, on the driver: workers only call fn.
            dispatch_point = getattr(self.domain, "dispatch_point", None)
            if dispatch_point is not None:
                payload = dispatch_point(doc)
            else:
                _fn, payload = self.domain.evaluate_async(
                    spec_from_misc(doc["misc"]), ctrl=None)
        self.inflight[tid] = doc
        self.n_started += 1
        self.notify("on_trial_start", doc)
        self.log.debug("trial task %s started", tid)
        ex.submit(tid, payload, self.events.put)

    def next_queued(self):
        external = not self.executor.marks_running
        while self.queued:
            doc = self.queued.popleft()
            # -- external workers may take a queued document at once
            if doc["state"] == JOB_STATE_NEW or external:
                return doc
        return None

    def fill(self) -> None:
        """Start trials until every slot is busy or the budget is spent."""
        slots = self.executor.parallelism
        while (self.cancel_reason is None
               and len(self.inflight) < slots):
            doc = self.next_queued()
            if doc is None:
                if self.exhausted or self.timed_out():
                    break
                remaining = self.budget - self.n_asked
                if remaining <= 0:
                    break
                if not self.ask(min(self.max_queue_len, remaining)):
                    self.exhausted = True
                    break
                continue
            self.launch(doc)

    def timed_out(self) -> bool:
        if self.timeout is not None and \
                time.monotonic() - self.start_time >= self.timeout:
            self.stop(FMIN_CANCELLED_REASON_TIMEOUT)
            return True
        return False

    # ---------------------------------------------------- recording
    def record(self, out: Outcome, cancel=False) -> None:
        doc = self.inflight.pop(out.tid, None)
        if doc is None:
            return  # a report after we gave up waiting for it
        if out.kind == "external":  # the worker wrote the outcome
            if doc["state"] == JOB_STATE_DONE:
                loss = best_loss_of(doc["result"])
                if loss < self.best_loss:
                    self.best_loss = loss
            self.trials.trial_finished(doc)
            self.notify("on_trial_end", doc)
            return
        if cancel or (self.cancel_reason is not None
                      and self.executor.can_cancel):
            doc["state"] = JOB_STATE_CANCEL
            doc["misc"]["error"] = out.error or ("cancelled", str(out.value))
            self.log.debug("trial task %s cancelled, exception is %s",
                           out.tid, doc["misc"]["error"][1])
        elif out.kind == "ok":
            self.record_success(doc, out)
        else:
            self.record_failure(doc, out)
        if not self.executor.evaluates_documents:
            # hyperopt's lines for a trial's end (its task threads')
            if out.kind == "ok":
                self.log.debug("trial %s task thread exits normally and "
                               "writes results back correctly.", out.tid)
            else:
                self.log.debug("trial %s task thread catches an exception "
                               "and writes the info back correctly.", out.tid)
        doc["refresh_time"] = coarse_utcnow()
        if doc["state"] == JOB_STATE_CANCEL and id(doc) in self.asked:
            self.n_asked -= 1  # a canceled trial gives its slot back
        self.trials.trial_finished(doc)
        self.notify("on_trial_end", doc)

    def record_success(self, doc, out: Outcome) -> None:
        result = out.result
        if result is None:
            try:
                result = self.domain.evaluate_async2(
                    out.value, ctrl=None, attach_attachments=False)
            except Exception as e:  # an invalid result: the trial failed
                import traceback

                # a domain's own verdict (spark_run.CommandFailed) is a
                # message, not a bug: no traceback
                text = str(e) if getattr(e, "pz_trial_error", False) else \
                    "".join(traceback.format_exception(type(e), e,
                                                       e.__traceback__))
                self.record_failure(doc, Outcome(
                    out.tid, "error", error=(str(type(e)), text)))
                return
        doc["state"] = JOB_STATE_DONE
        doc["result"] = result
        loss = best_loss_of(result)
        if loss < self.best_loss:
            self.best_loss = loss
        if not self.executor.evaluates_documents:
            self.log.debug("trial task %s succeeded, result is %s", out.tid,
                           result)

    def record_failure(self, doc, out: Outcome) -> None:
        doc["state"] = JOB_STATE_ERROR
        doc["misc"]["error"] = out.error
        if not self.executor.evaluates_documents:
            self.log.error("trial task %s failed, exception is %s", out.tid,
                           out.error[1] if out.error else "unknown")
        if out.exc is not None and not self.catch_eval_exceptions:
            self.raising = out.exc

    raising: Optional[BaseException] = None

    def after_outcomes(self, n_finished) -> None:
        """What follows a batch of recorded outcomes: the listed trials,
        the checkpoint, progress, and the stop rules."""
        self.sync()
        if self.raising is not None:
            exc, self.raising = self.raising, None
            raise exc
        if self.save is not None:
            self.save(self.trials)
        if self.progress is not None:
            if n_finished:
                self.progress.update(n_finished)
            if self.best_loss < math.inf:
                self.progress.postfix = "best loss: " + str(self.best_loss)
        self.check_stop_rules()

    # ----------------------------------------------------- stopping
    def stop(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            if self.executor.can_cancel:
                self.log.warning("fmin cancelled because of %s", reason)
            elif reason == FMIN_CANCELLED_REASON_EARLY_STOPPING:
                logger_fmin.info("Early stop triggered. Stopping iterations "
                                 "as condition is reach.")
        if self.inflight and self.executor.can_cancel:
            self.log.debug("Cancelling all running jobs (%d trials)",
                           len(self.inflight))
            self.executor.cancel_all(list(self.inflight))

    def check_stop_rules(self) -> None:
        if self.cancel_reason is not None:
            return
        if (self.loss_threshold is not None
                and self.best_loss < self.loss_threshold):
            self.stop(FMIN_CANCELLED_REASON_LOSS_THRESHOLD)
            return
        if self.early_stop_fn is not None:
            stop, self.early_stop_state = self.early_stop_fn(
                self.trials, *self.early_stop_state)
            if stop:
                self.stop(FMIN_CANCELLED_REASON_EARLY_STOPPING)

    def wait_timeout(self) -> Optional[float]:
        if self.cancel_reason is not None:
            # -- trials that cannot be cancelled (external workers) are
            # waited for, as hyperopt waits for its MongoTrials workers
            return self.executor.cancel_grace if self.executor.can_cancel \
                else None
        if self.timeout is None:
            return None
        return max(0.0, self.start_time + self.timeout - time.monotonic())

    def next_event(self) -> Optional[Outcome]:
        try:
            return self.events.get(timeout=self.wait_timeout())
        except queue.Empty:
            return None

    def abandon_inflight(self, why=None) -> None:
        """Cancelled trials that never reported: record them CANCEL."""
        for tid in list(self.inflight):
            self.record(Outcome(tid, "lost", error=(
                "cancelled", why or "no report within %gs of cancellation"
                % CANCEL_GRACE_SECS)), cancel=True)

    # ---------------------------------------------------- observers
    def notify(self, event, *args) -> None:
        for obs in list(self.observers):
            method = getattr(obs, event, None)
            if method is None:
                continue
            try:
                method(self, *args)
            except Exception:
                logger.warning("observer %r failed in %s; it is dropped for "
                               "this run", obs, event, exc_info=True)
                self.observers.remove(obs)

    # ---------------------------------------------------------- loop
    def run(self) -> Optional[str]:
        """Evaluate trials until ``max_evals`` count (see
        base.counts_toward_budget) or a stop rule fires. Returns the
        reason the run was stopped, or None. Ctrl-C cancels the running
        trials, records them CANCEL and re-raises KeyboardInterrupt."""
        self.prepare()
        self.notify("on_run_start")
        error = None
        try:
            self.loop()
            if self.cancel_reason is not None and self.executor.can_cancel:
                self.log.warning(
                    "fmin is cancelled, so new trials will not be launched.")
        except BaseException as e:
            error = e
            if isinstance(e, KeyboardInterrupt):
                self.cancel_reason = self.cancel_reason or \
                    FMIN_CANCELLED_REASON_USER
                self.stop(FMIN_CANCELLED_REASON_USER)
                self.drain()
            raise
        finally:
            try:
                self.executor.close()
            finally:
                self.sync()
                self.notify("on_run_end", self.cancel_reason, error)
        return self.cancel_reason

    def loop(self) -> None:
        while True:
            self.fill()
            if not self.inflight:
                break
            out = self.next_event()
            if out is None:
                if self.cancel_reason is not None:
                    self.abandon_inflight()
                    self.after_outcomes(0)
                    break
                self.stop(FMIN_CANCELLED_REASON_TIMEOUT)
                continue
            n = self.record_counted(out)
            while True:  # every outcome already posted: one batch
                try:
                    out = self.events.get_nowait()
                except queue.Empty:
                    break
                n += self.record_counted(out)
            self.after_outcomes(n)

    def record_counted(self, out) -> int:
        tid = out.tid
        doc = self.inflight.get(tid)
        self.record(out)
        return 1 if doc is not None and \
            doc["state"] in (JOB_STATE_DONE, JOB_STATE_ERROR) else 0

    def drain(self) -> None:
        if not self.executor.can_cancel:  # interrupted in this thread
            self.abandon_inflight(FMIN_CANCELLED_REASON_USER)
            return
        deadline = time.monotonic() + CANCEL_GRACE_SECS
        while self.inflight and time.monotonic() < deadline:
            try:
                self.record(self.events.get(
                    timeout=deadline - time.monotonic()))
            except queue.Empty:
                break
        self.abandon_inflight()


def best_loss_of(result) -> float:
    """The loss a result contributes to the best loss (base.best_loss):
    +inf when it has none."""
    from .base import trial_loss

    return trial_loss(JOB_STATE_DONE, result)


def _needs_refresh(trials) -> bool:
    """A Trials subclass that overrides refresh() keeps its own listing
    rules: the driver then refreshes it (O(N)) instead of syncing."""
    from .base import Trials

    cls = type(trials)
    return cls.refresh is not Trials.refresh and cls.sync is Trials.sync


def run_trials(trials, domain, algo, executor, **kwargs) -> Optional[str]:
    """Run one fmin loop (see :class:`Run`)."""
    return Run(trials, domain, algo, executor, **kwargs).run()


def unbounded(max_evals) -> bool:
    return max_evals is None or max_evals == sys.maxsize
