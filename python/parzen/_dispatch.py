"""Event-driven parallel evaluation: the loop behind SparkTrials and
ParallelTrials.

The driver thread owns the Trials, the Domain and the algorithm. A backend
runs objectives elsewhere (Spark executors, local worker processes) and
reports every outcome on one queue that the loop blocks on, so a finished
trial is recorded and its slot refilled at once: no polling interval, no
queue of one. With parallelism P, P trials run whenever work remains.

Only the driver thread touches trial documents; backend threads only put
outcomes on the queue. That is why no lock guards the Trials.
"""

from __future__ import annotations

import logging
import math
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_RUNNING,
    coarse_utcnow,
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
    """What a backend reports for one trial, exactly once."""

    tid: Any
    kind: str  # "ok", "error" (objective raised), "lost" (worker/job failed)
    value: Any = None  # "ok": the objective's return value
    error: Optional[tuple] = None  # (type string, message or traceback)


class Backend:
    """Runs objectives somewhere else. Subclasses implement submit/cancel.

    submit(tid, point, report) must not block for the objective and must
    call report(Outcome) exactly once, from any thread, whatever happens
    (success, objective exception, lost worker, cancellation).
    """

    parallelism: int = 1

    def start(self, fn: Callable) -> None:
        """Prepare to run `fn` (e.g. check it pickles). Called once."""

    def submit(self, tid, point, report: Callable[[Outcome], None]) -> None:
        raise NotImplementedError

    def cancel(self, tid) -> None:
        """Stop trial `tid` if it is running; its report still comes."""

    def close(self) -> None:
        """Release workers; called once, after every report arrived."""


class _Run:
    """The state of one parallel fmin call (driver thread only)."""

    def __init__(self, trials, domain, algo, backend, *, max_evals, timeout,
                 loss_threshold, rstate, early_stop_fn, progress, observer):
        self.trials = trials
        self.domain = domain
        self.algo = algo
        self.backend = backend
        self.max_evals = max_evals
        self.timeout = timeout
        self.loss_threshold = loss_threshold
        self.rstate = rstate
        self.early_stop_fn = early_stop_fn
        self.early_stop_state: list = []
        self.progress = progress
        self.observer = observer  # parzen.tracking hooks (NULL: none)
        self.events: "queue.SimpleQueue[Outcome]" = queue.SimpleQueue()
        self.inflight: dict = {}  # tid -> trial document
        self.cancel_reason: Optional[str] = None
        self.exhausted = False
        self.best_loss = math.inf
        self.start = time.monotonic()

    # ---------------------------------------------------------- asking
    def ask(self) -> list:
        """One call of the algorithm; [] means it has nothing more."""
        trials = self.trials
        new_ids = trials.new_trial_ids(1)
        trials.refresh()
        seed = int(self.rstate.integers(2**31 - 1))
        docs = self.algo(new_ids, self.domain, trials, seed)
        if docs:
            trials.insert_trial_docs(docs)
            trials.refresh()
        return list(docs or [])

    def launch(self, doc) -> None:
        now = coarse_utcnow()
        doc["state"] = JOB_STATE_RUNNING
        doc["book_time"] = now
        doc["refresh_time"] = now
        tid = doc["tid"]
        # The point is built here, on the driver: workers only call fn.
        dispatch_point = getattr(self.domain, "dispatch_point", None)
        if dispatch_point is not None:
            point = dispatch_point(doc)
        else:
            _fn, point = self.domain.evaluate_async(
                spec_from_misc(doc["misc"]), ctrl=None)
        self.inflight[tid] = doc
        self.observer.on_trial_start(doc)
        logger.debug("trial task %s started", tid)
        self.backend.submit(tid, point, self.events.put)

    def fill(self, queued: int, budget: int) -> int:
        """Start trials until every slot is busy; returns trials queued."""
        while (self.cancel_reason is None and not self.exhausted
               and len(self.inflight) < self.backend.parallelism
               and queued < budget):
            docs = self.ask()
            if not docs:
                self.exhausted = True
                break
            for doc in docs:
                self.launch(doc)
            queued += len(docs)
        return queued

    # -------------------------------------------------------- recording
    def record(self, out: Outcome) -> None:
        doc = self.inflight.pop(out.tid, None)
        if doc is None:
            return  # a report after we gave up waiting for it
        doc["refresh_time"] = coarse_utcnow()
        if self.cancel_reason is not None:
            doc["state"] = JOB_STATE_CANCEL
            doc["misc"]["error"] = out.error or ("cancelled", str(out.value))
            logger.debug("trial task %s cancelled, exception is %s", out.tid,
                         doc["misc"]["error"][1])
        elif out.kind == "ok":
            self.record_success(doc, out)
        else:
            self.record_failure(doc, out)
        self.observer.on_trial_end(doc)
        self.trials.refresh()
        if self.progress is not None:
            self.progress.update(1)
            if self.best_loss < math.inf:
                self.progress.postfix = "best loss: " + str(self.best_loss)

    def record_success(self, doc, out: Outcome) -> None:
        try:
            result = self.domain.evaluate_async2(out.value, ctrl=None,
                                                 attach_attachments=False)
        except Exception as e:  # an invalid result is the trial's failure
            import traceback

            self.record_failure(doc, Outcome(
                out.tid, "error",
                error=(str(type(e)), "".join(
                    traceback.format_exception(type(e), e, e.__traceback__)))))
            return
        doc["state"] = JOB_STATE_DONE
        doc["result"] = result
        loss = result.get("loss")
        if loss is not None and not _isnan(loss):
            self.best_loss = min(self.best_loss, float(loss))
        logger.debug("trial task %s succeeded, result is %s", out.tid, result)

    def record_failure(self, doc, out: Outcome) -> None:
        doc["state"] = JOB_STATE_ERROR
        doc["misc"]["error"] = out.error
        logger.error("trial task %s failed, exception is %s", out.tid,
                     out.error[1] if out.error else "unknown")

    # -------------------------------------------------------- stopping
    def cancel_all(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            logger.warning("fmin cancelled because of %s", reason)
        for tid in list(self.inflight):
            self.backend.cancel(tid)

    def check_stop_rules(self) -> None:
        if self.cancel_reason is not None:
            return
        if (self.loss_threshold is not None
                and self.best_loss < self.loss_threshold):
            self.cancel_all(FMIN_CANCELLED_REASON_LOSS_THRESHOLD)
            return
        if self.early_stop_fn is not None:
            stop, self.early_stop_state = self.early_stop_fn(
                self.trials, *self.early_stop_state)
            if stop:
                self.cancel_all(FMIN_CANCELLED_REASON_EARLY_STOPPING)

    def wait_timeout(self) -> Optional[float]:
        if self.cancel_reason is not None:
            return CANCEL_GRACE_SECS
        if self.timeout is None:
            return None
        return max(0.0, self.start + self.timeout - time.monotonic())

    def next_event(self) -> Optional[Outcome]:
        try:
            return self.events.get(timeout=self.wait_timeout())
        except queue.Empty:
            return None

    def abandon_inflight(self) -> None:
        """Cancelled trials that never reported: record them CANCEL."""
        for tid in list(self.inflight):
            self.record(Outcome(tid, "lost", error=(
                "cancelled", "no report within %gs of cancellation"
                % CANCEL_GRACE_SECS)))


def run_parallel(trials, domain, algo, backend: Backend, *, max_evals,
                 timeout=None, loss_threshold=None, rstate, early_stop_fn=None,
                 progress=None, observer=None) -> Optional[str]:
    """Evaluate up to `max_evals` trials in total (hyperopt's meaning: the
    target size of `trials`) with `backend.parallelism` in flight.

    Returns the reason the run was cancelled, or None. Ctrl-C cancels the
    running trials, records them CANCEL and re-raises KeyboardInterrupt.
    `observer` (parzen.tracking) sees each trial start and end.
    """
    if observer is None:
        from .tracking import NULL as observer
    run = _Run(trials, domain, algo, backend, max_evals=max_evals,
               timeout=timeout, loss_threshold=loss_threshold, rstate=rstate,
               early_stop_fn=early_stop_fn, progress=progress,
               observer=observer)
    trials.refresh()
    budget = max_evals - len(trials) if max_evals != sys.maxsize else sys.maxsize
    queued = 0
    try:
        while True:
            queued = run.fill(queued, budget)
            if not run.inflight:
                break
            out = run.next_event()
            if out is None:
                if run.cancel_reason is not None:
                    run.abandon_inflight()
                    break
                run.cancel_all(FMIN_CANCELLED_REASON_TIMEOUT)
                continue
            run.record(out)
            run.check_stop_rules()
    except KeyboardInterrupt:
        run.cancel_all(FMIN_CANCELLED_REASON_USER)
        _drain(run)
        raise
    finally:
        backend.close()
    return run.cancel_reason


def _drain(run: _Run) -> None:
    deadline = time.monotonic() + CANCEL_GRACE_SECS
    while run.inflight and time.monotonic() < deadline:
        try:
            run.record(run.events.get(timeout=deadline - time.monotonic()))
        except queue.Empty:
            break
    run.abandon_inflight()


def _isnan(x) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


class ThreadedBackend(Backend):
    """A backend whose trials each block one driver-side thread (a Spark
    job's collect(), a worker process's pipe). Subclasses implement
    run_one(tid, point) -> Outcome and cancel(tid)."""

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
