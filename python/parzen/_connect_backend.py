"""Spark Connect backend of the dispatcher.

Two dispatch modes, chosen by start() with the probe job: the trial pool
(parzen._connect_pool: a few long-lived worker queries that each run many
trials, when the executors can connect back to this client), else one
trial = one one-row DataFrame job (below), the fallback.

A Spark Connect session (``SparkSession.builder.remote(...)``; Databricks'
shared and serverless compute) has no SparkContext and no RDD API, so a
trial cannot be a single-task RDD job as on classic Spark. Here each trial
is ``spark.range(1, numPartitions=1).mapInArrow(task)``: one partition,
one task, whose Python function unpickles the objective, calls it on the
point (both pickled into the function) and returns one Arrow row: what
happened and the pickled return value. Executors need no parzen, only
what Connect's Arrow UDFs need (pyarrow; Spark's Python workers may import
pandas too); a probe job checks that before the first trial.

Each trial's job carries a job tag of its own: a timeout, an early stop, a
reached loss threshold or Ctrl-C interrupts exactly the running trials
(``interruptTag``). As on classic Spark, objective exceptions come back as
rows (the task succeeds, so Spark never retries a failing objective), and
a re-attempted task (its executor was lost) reports the loss instead of
running the objective a second time.
"""

from __future__ import annotations

import threading
import time
import uuid

from ._driver import Outcome, ThreadedExecutor as ThreadedBackend
from ._spark_backend import _summary

# The task, compiled from source in a namespace that is not an importable
# module, so cloudpickle ships it by value (executors never import parzen).
_TASK_SOURCE = '''
def make_task(fn_bytes, point, tid):
    def task(batches):
        # Drain the (one-row) input before answering.
        for _ in batches:
            pass
        import pickle
        import traceback

        import pyarrow as pa
        from pyspark import TaskContext

        def reply(kind, etype="", text="", payload=b""):
            return pa.RecordBatch.from_arrays(
                [pa.array([kind], pa.string()), pa.array([etype], pa.string()),
                 pa.array([text], pa.string()),
                 pa.array([payload], pa.binary())],
                names=["kind", "etype", "text", "payload"])

        ctx = TaskContext.get()
        if ctx is not None and ctx.attemptNumber() > 0:
            yield reply("lost", "<class 'parzen.spark.TrialLost'>",
                        "trial %s: its Spark task failed (executor lost or "
                        "task killed); parzen does not run a trial twice"
                        % (tid,))
            return
        try:
            fn = pickle.loads(fn_bytes)
        except BaseException as e:
            yield reply("error", str(type(e)),
                        "the objective could not be loaded on the executor "
                        "(does it import a module the executors lack?):\\n"
                        + "".join(traceback.format_exception(
                            type(e), e, e.__traceback__)))
            return
        try:
            value = fn(point)
        except BaseException as e:
            yield reply("error", str(type(e)), "".join(
                traceback.format_exception(type(e), e, e.__traceback__)))
            return
        try:
            payload = pickle.dumps(value)
        except Exception as e:
            yield reply("error", str(type(e)),
                        "the objective returned a value that cannot be sent "
                        "to the driver: %s" % (e,))
            return
        yield reply("ok", payload=payload)
    return task

'''


def _compile():
    namespace = {"__name__": "parzen_connect_task"}
    exec(compile(_TASK_SOURCE, "<parzen connect task>", "exec"), namespace)
    return namespace["make_task"]


_make_task = _compile()

# How often a cancelled trial's tag is interrupted again while its job has
# not ended: a job submitted just after interruptTag would otherwise run.
_REINTERRUPT_SECS = 0.2


def _result_schema():
    from pyspark.sql.types import BinaryType, StringType, StructField, StructType

    return StructType([StructField("kind", StringType()),
                       StructField("etype", StringType()),
                       StructField("text", StringType()),
                       StructField("payload", BinaryType())])


class ExecutorsCannotRunTrials(RuntimeError):
    """The probe job failed: the executors cannot run Connect's Arrow UDFs
    (typically pyarrow or pandas is missing from their Python)."""


DISPATCH_MODES = ("auto", "pool", "query")


class ConnectBackend(ThreadedBackend):
    """Run trials on a Connect `spark`: in a pool of long-lived worker
    queries (parzen._connect_pool) when the executors reach this client,
    else each as a one-row mapInArrow job (``dispatch``: "auto", "pool"
    or "query"; ``address``: an explicit "host[:port]" of this client for
    the executors, SparkTrials(report_address=...))."""

    #: Pruning.post_reply when the run prunes (parzen._pruning)
    report_handler = None

    def __init__(self, spark, parallelism: int, resource_profile=None,
                 log=None, dispatch="auto", address=None):
        if dispatch not in DISPATCH_MODES:
            raise ValueError("SparkTrials(connect_dispatch=%r): expected one "
                             "of %s" % (dispatch, ", ".join(
                                 repr(m) for m in DISPATCH_MODES)))
        self.dispatch = dispatch
        self.address = address
        self.server = None  # the listener of the pool (and of pruning)
        self.candidates: list = []
        self.pool = None
        self.mode = None  # "pool" or "query", decided by start()
        self.spark = spark
        self.parallelism = parallelism
        self.profile = resource_profile
        self.log = log
        self.tag_prefix = "parzen-" + uuid.uuid4().hex[:12]
        self.fn_bytes = b""
        self.base = None
        self.schema = None
        self.lock = threading.Lock()
        self.running: set = set()  # tids whose job may be on the server
        self.cancelled: set = set()
        self.reaper = None
        self.user_tags: list = []

    def start(self, fn) -> None:
        from pyspark import cloudpickle

        try:
            self.fn_bytes = cloudpickle.dumps(fn)
        except Exception as e:
            raise TypeError(
                "the objective cannot be sent to Spark executors: it does not "
                "pickle with cloudpickle (%s: %s)" % (type(e).__name__, e)
            ) from e
        self.schema = _result_schema()
        # The caller's job tags go on every trial's job too (tags are per
        # thread), so interrupting one of them interrupts the trials.
        self.user_tags = sorted(self.spark.getTags())
        self.base = self.spark.range(1, numPartitions=1)
        self.base.columns  # analysed once here, not once per trial
        if self.profile is not None:
            self.profile = _resolve_profile(self.spark, self.profile)
        if self.dispatch != "query":
            self.listener()
        reached, tried = self.check_executors()
        if reached:
            from ._connect_pool import WorkerPool

            host, port = reached.rsplit(":", 1)
            self.pool = WorkerPool(self, self.server, (host, int(port)))
            self.pool.start(self.fn_bytes)
            self.mode = "pool"
            return
        self.mode = "query"
        if self.dispatch == "query":
            return
        if self.report_handler is None:
            self.close_listener()  # (a pruning run's reports still use it)
        tried = tried or "no address of this host found"
        if self.dispatch == "pool":
            raise ExecutorsCannotRunTrials(
                "SparkTrials(connect_dispatch='pool'): the executors cannot "
                "reach this client's trial listener (tried %s); give an "
                "address of this machine that they reach: SparkTrials("
                "report_address='host[:port]') or $PARZEN_REPORT_ADDRESS"
                % (tried,))
        if self.report_handler is not None and not self.address:
            raise ValueError(
                "fmin(pruner=...) with SparkTrials on Spark Connect: the "
                "executors must send parzen.report() values to this client, "
                "and they cannot reach it (tried %s); give an address of "
                "this machine that they reach: SparkTrials(report_address="
                "'host[:port]') or $PARZEN_REPORT_ADDRESS" % (tried,))
        if self.log is not None:
            self.log.warning(
                "SparkTrials on Spark Connect: the executors cannot reach "
                "this client (tried %s), so each trial runs as a Connect "
                "query of its own, about twice the cost of a trial in the "
                "pool of long-lived queries; for the pool, give an address "
                "of this machine that the executors reach: SparkTrials("
                "report_address='host[:port]') or $PARZEN_REPORT_ADDRESS",
                tried)

    def listener(self):
        """The run's listener for the pool's workers and the trials'
        reports (parzen._pruning.ReportServer), opened at the first call;
        None with the per-query dispatch."""
        if self.dispatch == "query":
            return None
        if self.server is None:
            from ._connect_pool import listener_plan
            from ._pruning import ReportServer

            bind, port, hosts = listener_plan(self.spark, self.address)
            self.server = ReportServer(
                None, "%s:%d" % (hosts[0] if hosts else bind, port),
                bind_host=bind, on_worker=self._on_worker)
            port = self.server.sock.getsockname()[1]
            self.candidates = [(h, port) for h in hosts]
        return self.server

    def _on_worker(self, n, conn, rfile):
        pool = self.pool
        if pool is None:  # no pool (yet): not ours
            conn.close()
            return
        pool.accept(n, conn, rfile)

    def close_listener(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    @property
    def queries(self) -> int:
        """Worker queries the pool started (0 with the per-query path)."""
        return self.pool.queries if self.pool is not None else 0

    def check_executors(self):
        """One probe job before any trial: executors that cannot run an
        Arrow UDF make one clear error, not N failed trials. The probe
        also tries the listener's candidate addresses: returns the first
        one it reached ("host:port", or "") and what it tried."""
        from ._connect_pool import make_probe, probe_schema

        token = self.server.token if self.server is not None else ""
        probe = make_probe(self.candidates, token)
        try:
            rows = self.base.mapInArrow(probe, probe_schema(),
                                        **self.profile_kw()).collect()
        except Exception as e:
            text = _summary(e)
            missing = [m for m in ("pyarrow", "pandas")
                       if "No module named '%s'" % m in text]
            what = ("%s missing from the executors' Python" % " and ".join(
                missing)) if missing else "the probe job failed"
            raise ExecutorsCannotRunTrials(
                "SparkTrials on Spark Connect cannot run trials: %s. Each "
                "trial is a one-row mapInArrow job, so the executors' Python "
                "needs pyarrow and pandas (what Spark Connect's Python UDFs "
                "need; not parzen). Spark said: %s" % (what, text)) from None
        row = rows[0] if rows else None
        if row is None:
            return "", ""
        return row["reached"], row["tried"]

    def profile_kw(self) -> dict:
        return {"profile": self.profile} if self.profile is not None else {}

    def tag(self, tid) -> str:
        return "%s-%s" % (self.tag_prefix, tid)

    def interrupt_tag(self, tag) -> None:
        try:
            self.spark.interruptTag(tag)
        except Exception as e:  # the session is gone: nothing runs either
            if self.log is not None:
                self.log.debug("interrupting %s: %s", tag, e)

    def run_one(self, tid, point) -> Outcome:
        if self.pool is not None:
            return self.pool.run_one(tid, point)
        tag = self.tag(tid)
        with self.lock:
            if tid in self.cancelled:
                return Outcome(tid, "lost", error=(
                    "cancelled", "trial %s was cancelled before its job "
                    "started" % (tid,)))
            self.running.add(tid)
        spark = self.spark
        for t in self.user_tags:
            spark.addTag(t)
        spark.addTag(tag)  # tags are per thread: this trial's job only
        try:
            df = self.base.mapInArrow(_make_task(self.fn_bytes, point, tid),
                                      self.schema, **self.profile_kw())
            rows = _rows(df)
        except Exception as e:  # interrupted, executor lost, task killed ...
            return Outcome(tid, "lost", error=(str(type(e)), _summary(e)))
        finally:
            spark.clearTags()
            with self.lock:
                self.running.discard(tid)
        if len(rows) != 1:
            return Outcome(tid, "lost", error=(
                "<class 'parzen.spark.TrialLost'>",
                "trial %s: its job returned %d rows, not 1" % (tid, len(rows))))
        kind, etype, text, payload = rows[0]
        if kind == "ok":
            import pickle

            try:
                value = pickle.loads(payload)
            except Exception as e:
                return Outcome(tid, "error", error=(str(type(e)), (
                    "the objective's return value could not be loaded on "
                    "the driver: %s" % (e,))))
            return Outcome(tid, "ok", value=value)
        return Outcome(tid, kind, error=(etype, text))

    def cancel(self, tid) -> None:
        if self.pool is not None:
            self.pool.cancel(tid)
            return
        with self.lock:
            self.cancelled.add(tid)
            running = tid in self.running
            start_reaper = self.reaper is None
            if start_reaper:
                self.reaper = threading.Thread(
                    target=self._reinterrupt, name="parzen-connect-cancel",
                    daemon=True)
        if running:
            self._interrupt(tid)
        if start_reaper:
            self.reaper.start()

    def _interrupt(self, tid) -> None:
        self.interrupt_tag(self.tag(tid))

    def _reinterrupt(self) -> None:
        """Interrupt cancelled trials again until their jobs have ended: a
        job that reached the server after its tag was interrupted (or
        between the two calls) is stopped too."""
        while True:
            time.sleep(_REINTERRUPT_SECS)
            with self.lock:
                pending = self.running & self.cancelled
                if not pending:
                    self.reaper = None
                    return
            for tid in pending:
                self._interrupt(tid)

    def close(self) -> None:
        """A run that gave up waiting for a trial leaves no job behind."""
        try:
            if self.pool is not None:
                self.pool.close()
        finally:
            self.close_listener()
        with self.lock:
            left = list(self.running)
        for tid in left:
            self.cancel(tid)
        super().close()


def _resolve_profile(spark, profile):
    """The profile to put on the trials' jobs, registered with the trials'
    own Connect session. PySpark registers a ResourceProfile lazily, on
    the *active* Connect session and only when SPARK_CONNECT_MODE_ENABLED
    is set (a session made by builder.remote()): with spark_session= in a
    process that also has another session (or made its session
    otherwise), that fails with "SparkContext must be created to get the
    profile id". And a profile built while this process has (or had) a
    classic SparkContext is a JVM object of that context, whose id means
    nothing to the Connect server ("ResourceProfileId 2 not found"): its
    requests are copied into a profile of our own."""
    lock = getattr(profile, "_lock", None)
    create = getattr(getattr(spark, "client", None), "_create_profile", None)
    if lock is None or create is None:  # another PySpark: its own way
        return profile
    import pyspark.sql.connect.proto as pb2
    from pyspark.resource import ResourceProfile

    if profile._java_resource_profile is not None:
        profile = ResourceProfile(_exec_req=profile.executorResources,
                                  _task_req=profile.taskResources)
    with profile._lock:
        if profile._id is not None:
            return profile
        executor = {k: pb2.ExecutorResourceRequest(
            resource_name=v.resourceName, amount=v.amount,
            discovery_script=v.discoveryScript, vendor=v.vendor)
            for k, v in profile.executorResources.items()}
        task = {k: pb2.TaskResourceRequest(resource_name=v.resourceName,
                                           amount=v.amount)
                for k, v in profile.taskResources.items()}
        profile._id = create(pb2.ResourceProfile(executor_resources=executor,
                                                 task_resources=task))
    return profile


def _rows(df) -> list:
    """The result rows as tuples. toArrow (Spark 4) skips collect()'s
    config round trip and Row conversion."""
    to_arrow = getattr(df, "toArrow", None)
    if to_arrow is not None:
        table = to_arrow()
        cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return list(zip(*cols))
    return [tuple(r) for r in df.collect()]


def default_parallelism(spark) -> int:
    """Spark's default parallelism seen through Connect (there is no
    SparkContext): the number of partitions a range gets by default."""
    from pyspark.sql import functions as F

    conf = spark.conf.get("spark.default.parallelism", None)
    if conf:
        return int(conf)
    row = spark.range(0, 1 << 16).select(
        F.spark_partition_id().alias("p")).agg(F.max("p")).first()
    return int(row[0]) + 1
