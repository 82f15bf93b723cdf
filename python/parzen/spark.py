"""SparkTrials: run fmin's trials as Spark tasks, as hyperopt does.

    best = fmin(fn, space, algo=tpe.suggest, max_evals=64,
                trials=SparkTrials(parallelism=8))

The driver computes every suggestion in parzen's C core and builds each
point; each trial is a single-task Spark job on an executor that only
calls ``fn`` (executors need neither parzen nor its C extension). On a
classic session the job is an RDD job (parzen._spark_backend); on a Spark
Connect session, which has no RDD API, a one-row DataFrame job
(parzen._connect_backend). The run logs hyperopt's lines on hyperopt's
logger, "hyperopt-spark". Unlike
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

# hyperopt's logger name: a user's hyperopt log configuration applies.
logger = logging.getLogger("hyperopt-spark")
if logger.level == logging.NOTSET:  # hyperopt's level: its INFO lines show
    logger.setLevel(logging.INFO)

FMIN_CANCELLED_REASON_EARLY_STOPPING = "early stopping condition"
FMIN_CANCELLED_REASON_TIMEOUT = "fmin run timeout"
FMIN_CANCELLED_REASON_USER = "fmin run cancelled by user"


def _setup_logger():
    if not logger.handlers and not logging.getLogger().handlers:
        logger.addHandler(logging.StreamHandler(sys.stderr))


class SparkTrials(_DispatchedTrials):
    """Trials whose evaluations run on a Spark cluster.

    ``parallelism``: trials in flight at once (default: Spark's default
    parallelism; capped at 128). ``timeout``: seconds for the whole fmin
    run; running trials are cancelled when it passes. ``loss_threshold``:
    stop (and cancel running trials) once a loss below it is found.
    ``spark_session``: the session to use (default: getOrCreate()), classic
    or Spark Connect. ``resource_profile``: a ``ResourceProfile`` for every
    trial's job, where the cluster supports stage-level scheduling.
    ``report_address`` (parzen only, for ``fmin(pruner=...)``):
    "host[:port]" of this driver that the executors reach, where the
    trials' ``parzen.report()`` values are sent (default
    $PARZEN_REPORT_ADDRESS, else on classic Spark the host Spark knows as
    the driver's). On Spark Connect it is also where the executors reach
    this client for the trial pool.
    ``connect_dispatch`` (parzen only, Spark Connect): "auto" (default:
    the trial pool when the executors reach this client, else one Connect
    query per trial, with one log line saying why), "pool" (the pool or
    an error) or "query" (one query per trial). See docs/spark.md.
    """

    MAX_CONCURRENT_JOBS_ALLOWED = 128
    _log = logger

    def __init__(self, parallelism=None, timeout=None, loss_threshold=None,
                 spark_session=None, resource_profile=None,
                 report_address=None, connect_dispatch="auto"):
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
        self._report_address = report_address
        from ._connect_backend import DISPATCH_MODES

        if connect_dispatch not in DISPATCH_MODES:
            raise ValueError(
                "SparkTrials(connect_dispatch=%r): expected one of %s"
                % (connect_dispatch, ", ".join(repr(m)
                                               for m in DISPATCH_MODES)))
        self.connect_dispatch = connect_dispatch
        self._spark_connect = is_connect_session(spark_session)
        if self._spark_connect:
            self._spark_context = None
            self._spark_pinned_threads_enabled = False
        else:
            self._spark_context = spark_session.sparkContext
            self._spark_pinned_threads_enabled = _pinned_threads(
                self._spark_context)
        # Cancelling by job group (classic) or job tag (Connect). A test may
        # turn it off, as in hyperopt: a run then waits for running trials.
        self._spark_supports_job_cancelling = True
        self.user_specified_parallelism = parallelism
        self._resource_profile = self._usable_profile(resource_profile)
        self.resource_profile = resource_profile
        if parallelism is not None and parallelism > 0:
            spark_default = None  # not needed (a job on Connect)
        elif self._spark_connect:
            from ._connect_backend import default_parallelism

            spark_default = default_parallelism(spark_session)
        else:
            spark_default = self._spark_context.defaultParallelism
        super().__init__(
            self._decide_parallelism(requested_parallelism=parallelism,
                                     spark_default_parallelism=spark_default),
            timeout, loss_threshold)

    def _usable_profile(self, profile):
        """The ResourceProfile to give each trial's job, or None where
        Spark has no stage-level scheduling (local masters, Spark < 4 on
        Connect): hyperopt's warning then, and the profile is ignored."""
        if profile is None:
            return None
        try:
            master = self._spark.conf.get("spark.master", "")
        except Exception:  # not readable (some Connect servers)
            master = ""
        if self._spark_connect:
            from pyspark.sql.connect.dataframe import DataFrame

            supported = "profile" in DataFrame.mapInArrow.__code__.co_varnames
        else:
            from pyspark import RDD

            supported = hasattr(RDD, "withResources")
        if supported and not (master or "").startswith("local"):
            return profile
        logger.warning(
            "SparkTrials was constructed with a ResourceProfile, but this "
            "Apache Spark version does not support stage-level scheduling.")
        return None

    @classmethod
    def _decide_parallelism(cls, requested_parallelism,
                            spark_default_parallelism):
        requested = requested_parallelism
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
        if self._spark_connect:
            from ._connect_backend import ConnectBackend

            from ._pruning import report_address_from

            backend = ConnectBackend(
                self._spark, self.parallelism, self._resource_profile,
                log=logger, dispatch=self.connect_dispatch,
                address=report_address_from(self._report_address))
        else:
            from ._spark_backend import SparkBackend

            backend = SparkBackend(
                self._spark_context, self.parallelism,
                resource_profile=self._resource_profile,
                pinned_threads=self._spark_pinned_threads_enabled,
                session=self._spark)
        if not self._spark_supports_job_cancelling:
            backend.cancel_grace = None  # wait for running trials
            backend.cancel_all = _cannot_cancel
        backend.report_channel = "tcp"  # parzen._pruning.ReportServer
        self._pz_backend = backend  # the last run's (its mode, for tests)
        return backend

    @property
    def connect_mode(self):
        """How the last run dispatched its trials on Spark Connect:
        "pool" or "query" (None: classic Spark, or no run yet)."""
        return getattr(getattr(self, "_pz_backend", None), "mode", None)

    def report_address(self, executor):
        """Where a pruning run's tasks send their reports: the explicit
        address, else (classic) spark.driver.host; Spark Connect needs an
        explicit one (its client is rarely reachable from executors)."""
        from ._pruning import report_address_from

        explicit = report_address_from(self._report_address)
        if explicit:
            return {"report_host": explicit}
        if self._spark_connect and self.connect_dispatch != "query":
            return {}  # the pool's listener (ConnectBackend.listener)
        if self._spark_connect:
            raise ValueError(
                "fmin(pruner=...) with SparkTrials on Spark Connect: the "
                "executors must send parzen.report() values to this client, "
                "which they usually cannot reach; give an address of this "
                "machine that they reach: SparkTrials(report_address="
                "'host[:port]') or $PARZEN_REPORT_ADDRESS")
        conf = self._spark_context.getConf()
        host = conf.get("spark.driver.host", None) or "127.0.0.1"
        bind = conf.get("spark.driver.bindAddress", None) or host
        return {"report_host": host, "bind_host": bind}

    def check_fmin_args(self, args):
        super().check_fmin_args(args)
        assert not args.catch_eval_exceptions, \
            "SparkTrials does not support `catch_eval_exceptions`"

    def trial_attachments(self, trial):
        raise NotImplementedError(
            "SparkTrials does not support trial attachments.")

    def __str__(self):
        return "SparkTrials(trials=%s)" % (self._trials,)


def is_connect_session(spark) -> bool:
    """True for a Spark Connect session (no SparkContext, no RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _pinned_threads(sc) -> bool:
    """PySpark's pinned thread mode (each Python thread has a JVM thread
    of its own, so job groups are per trial thread)."""
    try:
        from py4j.clientserver import ClientServer
    except ImportError:
        return False
    return isinstance(getattr(sc, "_gateway", None), ClientServer)


def _cannot_cancel(tids):
    logger.info(
        "Because the current Apache PySpark version does not support "
        "cancelling jobs by job group ID, SparkTrials will block until all of "
        "its running Spark jobs finish.")
