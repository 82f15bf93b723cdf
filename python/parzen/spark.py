"""SparkTrials: run fmin's trials as Spark tasks, as hyperopt does.

    best = fmin(fn, space, algo=tpe.suggest, max_evals=64,
                trials=SparkTrials(parallelism=8))

The driver computes every suggestion in parzen's C core and builds each
point; each trial is a single-task Spark job on an executor that only
calls ``fn`` (executors need neither parzen nor its C extension). Unlike
hyperopt's SparkTrials, dispatch is event-driven (a finished trial's slot
is refilled at once, no 1-second polling, no queue of one), a
``loss_threshold`` given to the constructor is honoured, and an early stop
or a reached loss threshold cancels the running trials as a timeout does.
See docs/spark.md.
"""

from __future__ import annotations

import logging
import os
import sys

from .parallel import _DispatchedTrials

try:
    from pyspark.sql import SparkSession

    _have_spark = True
except ImportError:  # pyspark is optional
    _have_spark = False

logger = logging.getLogger("parzen-spark")

FMIN_CANCELLED_REASON_EARLY_STOPPING = "early stopping condition"
FMIN_CANCELLED_REASON_TIMEOUT = "fmin run timeout"
FMIN_CANCELLED_REASON_USER = "fmin run cancelled by user"


def _setup_logger():
    if not logger.handlers and not logging.getLogger().handlers:
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler(sys.stderr))


class SparkTrials(_DispatchedTrials):
    """Trials whose evaluations run on a Spark cluster.

    ``parallelism``: trials in flight at once (default: Spark's default
    parallelism; capped at 128). ``timeout``: seconds for the whole fmin
    run; running trials are cancelled when it passes. ``loss_threshold``:
    stop (and cancel running trials) once a loss below it is found.
    ``spark_session``: the session to use (default: getOrCreate()).
    """

    MAX_CONCURRENT_JOBS_ALLOWED = 128
    _log = logger

    def __init__(self, parallelism=None, timeout=None, loss_threshold=None,
                 spark_session=None, resource_profile=None):
        if not _have_spark:
            raise Exception(
                "SparkTrials cannot import pyspark classes.  Make sure that "
                "PySpark is available in your environment.  E.g., try running "
                "'import pyspark'")
        _setup_logger()
        if spark_session is None:
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            spark_session = SparkSession.builder.getOrCreate()
        self._spark = spark_session
        self._spark_context = spark_session.sparkContext
        self.user_specified_parallelism = parallelism
        self.resource_profile = resource_profile
        super().__init__(
            self._decide_parallelism(parallelism,
                                     self._spark_context.defaultParallelism),
            timeout, loss_threshold)

    @classmethod
    def _decide_parallelism(cls, requested, spark_default_parallelism):
        if requested is None or requested <= 0:
            parallelism = max(spark_default_parallelism, 1)
            logger.warning(
                "Because the requested parallelism was None or a non-positive "
                "value, parallelism will be set to (%d), which is Spark's "
                "default parallelism (%d), or 1, whichever is greater. We "
                "recommend setting parallelism explicitly to a positive value "
                "because the total of Spark task slots is subject to cluster "
                "sizing.", parallelism, spark_default_parallelism)
        else:
            parallelism = int(requested)
        if parallelism > cls.MAX_CONCURRENT_JOBS_ALLOWED:
            logger.warning(
                "Parallelism (%d) is capped at "
                "SparkTrials.MAX_CONCURRENT_JOBS_ALLOWED (%d).", parallelism,
                cls.MAX_CONCURRENT_JOBS_ALLOWED)
            parallelism = cls.MAX_CONCURRENT_JOBS_ALLOWED
        return parallelism

    def make_backend(self):
        from ._spark_backend import SparkBackend

        return SparkBackend(self._spark_context, self.parallelism)

    def fmin(self, fn, space, algo=None, max_evals=None, timeout=None,
             loss_threshold=None, max_queue_len=1, rstate=None, verbose=False,
             pass_expr_memo_ctrl=None, catch_eval_exceptions=False,
             return_argmin=True, show_progressbar=True, early_stop_fn=None,
             trials_save_file="", points_to_evaluate=None,
             mlflow_tracking=None):
        assert not catch_eval_exceptions, \
            "SparkTrials does not support `catch_eval_exceptions`"
        return super().fmin(
            fn, space, algo=algo, max_evals=max_evals, timeout=timeout,
            loss_threshold=loss_threshold, max_queue_len=max_queue_len,
            rstate=rstate, verbose=verbose,
            pass_expr_memo_ctrl=pass_expr_memo_ctrl,
            return_argmin=return_argmin, show_progressbar=show_progressbar,
            early_stop_fn=early_stop_fn, trials_save_file=trials_save_file,
            points_to_evaluate=points_to_evaluate,
            mlflow_tracking=mlflow_tracking)

    fmin._pz_driver = True

    def trial_attachments(self, trial):
        raise NotImplementedError(
            "SparkTrials does not support trial attachments.")

    def __str__(self):
        return "SparkTrials(trials=%s)" % (self._trials,)
