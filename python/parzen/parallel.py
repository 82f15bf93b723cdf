"""Parallel fmin: Trials classes whose trials run elsewhere, concurrently.

``ParallelTrials`` runs trials in local worker processes (no cluster);
``parzen.spark.SparkTrials`` runs each as a Spark task. Both hand fmin to
the event-driven loop of ``parzen._dispatch``: the driver asks the
algorithm (the C core) for a point the moment a slot frees up, so with
parallelism P there are P trials running whenever work remains.
"""

from __future__ import annotations

import logging
import os
import sys

from . import progress, tracking
from .base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    Domain,
    Trials,
    validate_loss_threshold,
    validate_timeout,
)
from ._dispatch import run_parallel

logger = logging.getLogger("parzen.parallel")


class _DispatchedTrials(Trials):
    """Shared fmin of the parallel Trials classes. Subclasses provide
    make_backend() and may override the logger."""

    asynchronous = True
    _log = logger

    def __init__(self, parallelism, timeout=None, loss_threshold=None):
        super().__init__(exp_key=None, refresh=False)
        validate_timeout(timeout)
        validate_loss_threshold(loss_threshold)
        self.parallelism = parallelism
        self.timeout = timeout
        self.loss_threshold = loss_threshold
        self._fmin_cancelled = False
        self._fmin_cancelled_reason = None
        self.refresh()

    # ------------------------------------------------------- counters
    @property
    def fmin_cancelled_reason(self):
        return self._fmin_cancelled_reason

    def _count(self, state):
        return sum(1 for t in self._dynamic_trials if t["state"] == state)

    def count_successful_trials(self):
        return self._count(JOB_STATE_DONE)

    def count_failed_trials(self):
        return self._count(JOB_STATE_ERROR)

    def count_cancelled_trials(self):
        return self._count(JOB_STATE_CANCEL)

    def count_total_trials(self):
        return (self.count_successful_trials() + self.count_failed_trials()
                + self.count_cancelled_trials())

    def delete_all(self):
        super().delete_all()
        self._fmin_cancelled = False
        self._fmin_cancelled_reason = None

    def make_backend(self):
        raise NotImplementedError

    def make_domain(self, fn, space):
        """The Domain of a run. A domain with a dispatch_point(doc) method
        builds what the workers get itself (see parzen.spark_run)."""
        return Domain(fn, space)

    # ----------------------------------------------------------- fmin
    def _merge_limits(self, timeout, loss_threshold):
        """fmin's timeout/loss_threshold against the constructor's. Unlike
        hyperopt, a loss_threshold given to the constructor is honoured."""
        if timeout is not None:
            if self.timeout is not None:
                self._log.warning("Timeout param was defined in Trials object, "
                                  "ignoring fmin definition")
                timeout = min(timeout, self.timeout)
            else:
                validate_timeout(timeout)
        else:
            timeout = self.timeout
        if loss_threshold is None:
            loss_threshold = self.loss_threshold
        else:
            validate_loss_threshold(loss_threshold)
        return timeout, loss_threshold

    def fmin(self, fn, space, algo=None, max_evals=None, timeout=None,
             loss_threshold=None, max_queue_len=1, rstate=None, verbose=False,
             pass_expr_memo_ctrl=None, catch_eval_exceptions=False,
             return_argmin=True, show_progressbar=True, early_stop_fn=None,
             trials_save_file="", mlflow_tracking=None):
        """Minimize ``fn`` over ``space`` with trials running in parallel.

        Objective exceptions always make ERROR trials (the run goes on);
        ``max_queue_len`` is not needed (slots are refilled as trials end)
        and ``trials_save_file`` is ignored, as in hyperopt's SparkTrials.
        """
        from .fmin import _as_generator, fmin_result

        assert not pass_expr_memo_ctrl, \
            "%s does not support `pass_expr_memo_ctrl`" % type(self).__name__
        if algo is None:
            from . import tpe

            algo = tpe.suggest
            logging.getLogger("parzen.fmin").warning(
                "TPE is being used as the default algorithm.")
        timeout, loss_threshold = self._merge_limits(timeout, loss_threshold)
        domain = self.make_domain(fn, space)
        # -- MLflow tracking (parzen.tracking): NULL when off
        observer = tracking.observer(mlflow_tracking, self)
        backend = observer.wrap_backend(self.make_backend())
        backend.start(fn)  # an unpicklable objective fails before any trial
        self._fmin_cancelled = False
        self._fmin_cancelled_reason = None
        observer.on_run_start(self, domain, algo, max_evals, self.parallelism)
        try:
            with self._progress(show_progressbar, verbose, max_evals) as bar:
                reason = run_parallel(
                    self, domain, algo, backend,
                    max_evals=sys.maxsize if max_evals is None else max_evals,
                    timeout=timeout, loss_threshold=loss_threshold,
                    rstate=_as_generator(rstate), early_stop_fn=early_stop_fn,
                    progress=bar, observer=observer)
        except KeyboardInterrupt:
            self._fmin_cancelled = True
            self._fmin_cancelled_reason = "fmin run cancelled by user"
            raise
        finally:
            self.refresh()
            observer.on_run_end(self, space)
            self._log.info(
                "Total Trials: %d: %d succeeded, %d failed, %d cancelled.",
                self.count_total_trials(), self.count_successful_trials(),
                self.count_failed_trials(), self.count_cancelled_trials())
        self._fmin_cancelled = reason is not None
        self._fmin_cancelled_reason = reason
        return fmin_result(self, space, return_argmin)

    def _progress(self, show_progressbar, verbose, max_evals):
        if not show_progressbar or not verbose:
            callback = progress.no_progress_callback
        elif show_progressbar is True:
            callback = progress.default_callback
        else:
            callback = show_progressbar
        total = max_evals if max_evals not in (None, sys.maxsize) else None
        return callback(initial=self.count_successful_trials(), total=total)



class ParallelTrials(_DispatchedTrials):
    """Run fmin's trials in up to ``parallelism`` local worker processes.

    The objective is cloudpickled to the workers (lambdas and closures
    defined in a script work). A worker that dies mid-trial makes that
    trial ERROR and is replaced; ``timeout``, ``loss_threshold``,
    ``early_stop_fn`` and Ctrl-C stop the running trials (their workers are
    killed) and record them CANCEL. ``parallelism`` defaults to the number
    of CPUs.
    """

    def __init__(self, parallelism=None, timeout=None, loss_threshold=None):
        if parallelism is None or parallelism <= 0:
            parallelism = os.cpu_count() or 1
        super().__init__(int(parallelism), timeout, loss_threshold)

    def make_backend(self):
        from ._local_backend import LocalProcessBackend

        return LocalProcessBackend(self.parallelism)

    def __str__(self):
        return "ParallelTrials(trials=%s)" % (self._trials,)
