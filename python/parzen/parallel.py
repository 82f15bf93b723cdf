"""Parallel fmin: Trials classes whose trials run elsewhere, concurrently.

``ParallelTrials`` runs trials in local worker processes (no cluster);
``parzen.spark.SparkTrials`` runs each as a Spark task. Both hand fmin to
the one trial loop of ``parzen._driver``: the driver asks the
algorithm (the C core) for a point the moment a slot frees up, so with
parallelism P there are P trials running whenever work remains.
"""

from __future__ import annotations

import logging
import os

from ._driver import FMIN_CANCELLED_REASON_USER
from .base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    Domain,
    Trials,
    validate_loss_threshold,
    validate_timeout,
)

logger = logging.getLogger("parzen.parallel")


class _DispatchedTrials(Trials):
    """A front door onto the one trial loop (parzen._driver) with an
    executor that runs trials elsewhere, concurrently. Subclasses provide
    make_backend() and may override make_domain() and the logger.

    It is the run's storage too, unless ``trials_save_file`` names a
    store: the trials then live in the store file (each start and outcome
    written as it happens), and this object gets a copy of them when the
    run ends, for its counters and ``trials``.

    It observes its runs (parzen._driver observers): on_run_start and
    on_run_end set the cancellation flags and write the end-of-run line;
    a subclass adds its own log lines there.
    """

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
        self._pz_store_path = None
        self.refresh()

    # ------------------------------------------------------- counters
    @property
    def fmin_cancelled_reason(self):
        return self._fmin_cancelled_reason

    def _count(self, state):
        return sum(1 for t in self._dynamic_trials if t["state"] == state)

    def count_successful_trials(self):
        """DONE trials, not counting pruned ones (fmin(pruner=...))."""
        return self._count(JOB_STATE_DONE) - self.count_pruned_trials()

    def count_pruned_trials(self):
        """Trials stopped by the pruner (DONE, result "pruned")."""
        return sum(1 for t in self._dynamic_trials
                   if t["state"] == JOB_STATE_DONE
                   and isinstance(t.get("result"), dict)
                   and t["result"].get("pruned"))

    def count_failed_trials(self):
        return self._count(JOB_STATE_ERROR)

    def count_cancelled_trials(self):
        return self._count(JOB_STATE_CANCEL)

    def count_total_trials(self):
        return (self.count_successful_trials() + self.count_pruned_trials()
                + self.count_failed_trials() + self.count_cancelled_trials())

    def delete_all(self):
        super().delete_all()
        self._fmin_cancelled = False
        self._fmin_cancelled_reason = None
        self._pz_store_path = None

    def make_backend(self):
        raise NotImplementedError

    def make_domain(self, fn, space):
        """The Domain of a run. A domain with a dispatch_point(doc) method
        builds what the workers get itself (see parzen.spark_run)."""
        return Domain(fn, space)

    # ---------------------------------------------------------- storage
    def check_store(self, path):
        """fmin(trials_save_file=store): this object must not hold trials
        of its own (they would not be in the store)."""
        from .store import same_file

        if self._dynamic_trials and not (
                self._pz_store_path is not None
                and same_file(self._pz_store_path, path)):
            raise ValueError(
                "trials_save_file=%r is a parzen store, but this %s already "
                "holds %d trials in memory that are not in it: use a new %s "
                "(the store resumes its own trials)" % (
                    path, type(self).__name__, len(self._dynamic_trials),
                    type(self).__name__))
        self._pz_store_path = path

    def adopt(self, other):
        """Take copies of the documents (and attachments) of ``other``, a
        Trials: the store's after a durable run, a pickle's on resume."""
        self._dynamic_trials = [dict(d) for d in other._dynamic_trials]
        self.attachments = dict(other.attachments)
        self._ids = set(d["tid"] for d in self._dynamic_trials)
        self.refresh()

    # ------------------------------------------------------ observing
    def on_run_start(self, run):
        self._fmin_cancelled = False
        self._fmin_cancelled_reason = None

    def on_run_end(self, run, reason, error):
        if run.trials is not self:
            self.adopt(run.trials)
        if isinstance(error, KeyboardInterrupt):
            reason = FMIN_CANCELLED_REASON_USER
        self._fmin_cancelled = reason is not None
        self._fmin_cancelled_reason = reason
        if getattr(run, "pruning", None) is not None:
            self._log.info(
                "Total Trials: %d: %d succeeded, %d pruned, %d failed, %d "
                "cancelled.", self.count_total_trials(),
                self.count_successful_trials(), self.count_pruned_trials(),
                self.count_failed_trials(), self.count_cancelled_trials())
            return
        self._log.info(
            "Total Trials: %d: %d succeeded, %d failed, %d cancelled.",
            self.count_total_trials(), self.count_successful_trials(),
            self.count_failed_trials(), self.count_cancelled_trials())

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
             trials_save_file="", points_to_evaluate=None,
             mlflow_tracking=None, pruner=None):
        """Minimize ``fn`` over ``space`` with trials running in parallel.

        Every fmin argument means what it means inline (the same loop):
        ``points_to_evaluate`` are evaluated first, ``max_queue_len``
        points are asked at once, ``trials_save_file`` is a pickle
        checkpoint or a durable store. Objective exceptions always make
        ERROR trials (the run goes on).
        """
        from .fmin import FminArgs

        return self._fmin(fn, space, FminArgs.of(locals()))

    def report_address(self, executor):
        """Where a pruning run's trials send their reports, for an
        executor whose channel is "tcp" (parzen._pruning.Pruning's
        keywords ``report_host``, ``bind_host``)."""
        return {}

    def check_fmin_args(self, args):
        """Refuse the fmin arguments this front door cannot honour."""
        assert not args.pass_expr_memo_ctrl, \
            "%s does not support `pass_expr_memo_ctrl`" % type(self).__name__

    def _fmin(self, fn, space, args):
        """fmin with its arguments collected (parzen.fmin.FminArgs)."""
        from dataclasses import replace

        from .fmin import _run

        self.check_fmin_args(args)
        timeout, loss_threshold = self._merge_limits(args.timeout,
                                                     args.loss_threshold)
        args = replace(args, timeout=timeout, loss_threshold=loss_threshold,
                       pass_expr_memo_ctrl=None, catch_eval_exceptions=True)
        try:
            result = _run(fn, space, args, trials=self, front=self)
        except KeyboardInterrupt:  # hyperopt's lines for the fmin thread
            self._log.debug("fmin thread terminated by user.")
            raise
        except BaseException:
            self._log.debug("fmin thread exits with an exception raised.")
            raise
        self._log.debug("fmin thread exits normally.")
        return result

    fmin._pz_driver = True


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
