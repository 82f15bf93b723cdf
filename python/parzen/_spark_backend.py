"""Spark backend of the dispatcher: one trial = one single-task Spark job.

The driver builds each point; the executor only calls the user's
objective. The task function is compiled from source in a namespace that
is not an importable module, so cloudpickle ships it by value and
executors need neither parzen nor its C extension installed.

Each trial's job runs in its own job group, so a timeout, an early stop,
a reached loss threshold or Ctrl-C cancels exactly the running trials.
Objective exceptions come back as values (the Spark task succeeds), so
Spark never retries a failing objective; a task that Spark does re-attempt
(its executor was lost or killed) reports the loss instead of running the
objective a second time.
"""

from __future__ import annotations

import uuid

from ._driver import Outcome, ThreadedExecutor as ThreadedBackend

_TASK_SOURCE = '''
def make_task(fn, point, tid):
    def task(partition):
        # Drain the (one-element) input first: a Python worker that returns
        # before reading its input makes Spark wait ~0.1 s per task.
        for _ in partition:
            pass
        import pickle
        import traceback
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if ctx is not None and ctx.attemptNumber() > 0:
            yield ("lost", "<class 'parzen.spark.TrialLost'>",
                   "trial %s: its Spark task failed (executor lost or task "
                   "killed); parzen does not run a trial twice" % (tid,))
            return
        try:
            value = fn(point)
        except BaseException as e:
            yield ("error", str(type(e)), "".join(
                traceback.format_exception(type(e), e, e.__traceback__)))
            return
        try:
            pickle.dumps(value)
        except Exception as e:
            yield ("error", str(type(e)),
                   "the objective returned a value that cannot be sent to "
                   "the driver: %s" % (e,))
            return
        yield ("ok", value)
    return task
'''


def _compile_task_factory():
    namespace = {"__name__": "parzen_spark_task"}
    exec(compile(_TASK_SOURCE, "<parzen spark task>", "exec"), namespace)
    return namespace["make_task"]


_make_task = _compile_task_factory()


class SparkBackend(ThreadedBackend):
    """Run each trial as a single-task job on `spark_context`, with
    `resource_profile` (RDD.withResources) when one is given."""

    def __init__(self, spark_context, parallelism: int, resource_profile=None,
                 pinned_threads=False, session=None):
        self.sc = spark_context
        self.session = session
        self.parallelism = parallelism
        self.profile = resource_profile
        self.pinned_threads = pinned_threads
        self.group_prefix = "parzen-" + uuid.uuid4().hex[:12]
        self.fn = None

    def wrap_thread(self, target):
        """In pinned thread mode a trial thread inherits the caller's local
        properties (scheduler pool, ...) and job tags, as hyperopt's task
        threads do."""
        if not self.pinned_threads:
            return target
        try:
            from pyspark import inheritable_thread_target
        except ImportError:
            return target
        if self.session is not None and hasattr(self.session, "getTags"):
            return inheritable_thread_target(self.session)(target)
        return inheritable_thread_target(target)

    def start(self, fn) -> None:
        from pyspark import cloudpickle

        try:
            cloudpickle.dumps(fn)
        except Exception as e:
            raise TypeError(
                "the objective cannot be sent to Spark executors: it does not "
                "pickle with cloudpickle (%s: %s)" % (type(e).__name__, e)
            ) from e
        self.fn = fn

    def group(self, tid) -> str:
        return "%s-%s" % (self.group_prefix, tid)

    def run_one(self, tid, point) -> Outcome:
        sc = self.sc
        sc.setJobGroup(self.group(tid), "parzen trial %s" % (tid,),
                       interruptOnCancel=True)
        rdd = sc.parallelize([0], 1)
        if self.profile is not None:
            rdd = rdd.withResources(self.profile)
        try:
            reply = rdd.mapPartitions(_make_task(self.fn, point, tid)).collect()[0]
        except Exception as e:  # cancelled, executor lost, task killed ...
            return Outcome(tid, "lost", error=(str(type(e)), _summary(e)))
        if reply[0] == "ok":
            return Outcome(tid, "ok", value=reply[1])
        return Outcome(tid, reply[0], error=(reply[1], reply[2]))

    def cancel(self, tid) -> None:
        self.sc.cancelJobGroup(self.group(tid))


def _summary(e: BaseException) -> str:
    """Spark's error, without the JVM stack: its first line, plus the
    Python traceback of the worker when there is one (classic and Connect
    errors alike)."""
    text = str(e).strip()
    if not text:
        return type(e).__name__
    lines = text.splitlines()
    # classic: a line "Traceback ..."; Connect: "[PYTHON_EXCEPTION] ...:
    # Traceback ..."
    start = next((i for i, line in enumerate(lines)
                  if "Traceback (most recent call last)" in line), None)
    if start is None:
        return lines[0]
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("\tat ")
                or lines[i].startswith("JVM stacktrace:")), len(lines))
    first = lines[start]
    tb = [first[first.index("Traceback"):]] + lines[start + 1:end]
    head = [] if start == 0 else [lines[0]]
    return "\n".join(head + tb).rstrip()
