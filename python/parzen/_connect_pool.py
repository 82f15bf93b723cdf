"""Spark Connect trial pool: a few long-lived Connect queries, each a
worker that runs many trials.

One Connect query per trial (parzen._connect_backend's query dispatch)
costs about 160 ms of CPU on the client, server and Python worker, twice
a classic trial; on a small machine that is the whole throughput. Here
each slot runs ONE query, ``spark.range(1, numPartitions=1).mapInArrow(
worker)``, whose task connects back to a listener on this client (the
pruning listener, parzen._pruning.ReportServer: JSON lines, authenticated
with the run's secret), receives the objective once, then loops: receive
``{"tid", "point"}``, run the objective, send the outcome (the same kinds
and texts as a per-trial task), until told to stop or the connection
closes; then the query returns. Reports of ``parzen.report()`` travel on
the same connection.

Semantics kept from the per-trial dispatch:

- cancel: ``interruptTag`` of the slot's query and the connection closed;
  the trial ends cancelled and the slot's next trial starts a new query.
- the objective never runs twice: a connection that drops mid-trial (the
  executor or its Python worker died) makes that trial lost (the same
  TrialLost error); a Spark retry of a worker task (attemptNumber > 0)
  exits at once without connecting: the driver already wrote its trial
  off, and a second worker for one slot would be one more query to track
  for nothing (the slot starts a fresh query for its next trial anyway).
- executors need no parzen (the worker is shipped by value), only what
  Connect's Arrow UDFs need.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

from ._driver import Outcome
from ._spark_backend import _summary

# The worker and the probe, compiled from source in a namespace that is not
# an importable module, so cloudpickle ships them by value.
_WORKER_SOURCE = '''
def make_worker(address, token, slot):
    def worker(batches):
        for _ in batches:
            pass
        import base64
        import json
        import pickle
        import socket
        import sys
        import traceback

        import pyarrow as pa
        from pyspark import TaskContext

        def summary(kind, served):
            return pa.RecordBatch.from_arrays(
                [pa.array([kind], pa.string()),
                 pa.array([served], pa.int64())], names=["kind", "served"])

        ctx = TaskContext.get()
        if ctx is not None and ctx.attemptNumber() > 0:
            # a retry (the first attempt's executor was lost): its trial
            # is already written off on the driver; serve nothing
            yield summary("retry", 0)
            return
        sock = socket.create_connection(tuple(address), timeout=60)
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        rfile = sock.makefile("rb")

        def send(obj):
            sock.sendall(json.dumps(obj).encode() + b"\\n")

        def recv():
            line = rfile.readline()
            return json.loads(line) if line else None

        def report(step, value):
            send({"step": step, "value": value})
            msg = recv()
            if msg is None:
                return ("prune", True)  # the driver is gone: stop
            if "error" in msg:
                return ("error", msg["error"])
            return ("prune", bool(msg["prune"]))

        def outcome(tid, fn, load_error, point):
            if load_error is not None:
                return load_error
            try:
                value = fn(point)
            except BaseException as e:
                return {"kind": "error", "etype": str(type(e)),
                        "text": "".join(traceback.format_exception(
                            type(e), e, e.__traceback__))}
            try:
                payload = pickle.dumps(value)
            except Exception as e:
                return {"kind": "error", "etype": str(type(e)),
                        "text": "the objective returned a value that cannot "
                                "be sent to the driver: %s" % (e,)}
            return {"kind": "ok",
                    "payload": base64.b64encode(payload).decode()}

        send({"token": token, "worker": slot})
        fn, load_error, served = None, None, 0
        try:
            while True:
                msg = recv()
                if msg is None or msg.get("stop"):
                    break
                if "objective" in msg:
                    try:
                        fn = pickle.loads(base64.b64decode(msg["objective"]))
                    except BaseException as e:
                        load_error = {
                            "kind": "error", "etype": str(type(e)),
                            "text": "the objective could not be loaded on the "
                                    "executor (does it import a module the "
                                    "executors lack?):\\n" + "".join(
                                        traceback.format_exception(
                                            type(e), e, e.__traceback__))}
                    continue
                tid = msg["tid"]
                point = pickle.loads(base64.b64decode(msg["point"]))
                # parzen.report() (a pruning run's objective imported
                # parzen) answers on this connection
                pruning = sys.modules.get("parzen._pruning")
                if pruning is not None:
                    pruning._pool_sender = report
                try:
                    out = outcome(tid, fn, load_error, point)
                finally:
                    if pruning is not None:
                        pruning._pool_sender = None
                out["tid"] = tid
                send(out)
                served += 1
        except OSError:
            pass  # the driver closed the connection (cancel, end of run)
        finally:
            sock.close()
        yield summary("done", served)
    return worker


def make_probe(candidates, token):
    def probe(batches):
        # Runs where trials will run: what the trials need, and which of
        # the client's addresses this executor reaches.
        for _ in batches:
            pass
        import json
        import socket
        import sys

        import pyarrow as pa

        reached, tried = "", []
        for host, port in candidates:
            try:
                with socket.create_connection((host, port), timeout=5) as s:
                    s.settimeout(5)
                    s.sendall(json.dumps({"token": token, "probe": True})
                              .encode() + b"\\n")
                    answer = s.makefile("rb").readline()
                if json.loads(answer or b"null") == {"ok": True}:
                    reached = "%s:%d" % (host, port)
                    break
                tried.append("%s:%d: no answer" % (host, port))
            except (OSError, ValueError) as e:
                tried.append("%s:%d: %s" % (host, port, e))
        yield pa.RecordBatch.from_arrays(
            [pa.array([sys.version.split()[0]], pa.string()),
             pa.array([pa.__version__], pa.string()),
             pa.array([reached], pa.string()),
             pa.array(["; ".join(tried)], pa.string())],
            names=["python", "pyarrow", "reached", "tried"])
    return probe
'''


def _compile():
    namespace = {"__name__": "parzen_connect_pool"}
    exec(compile(_WORKER_SOURCE, "<parzen connect pool>", "exec"), namespace)
    return namespace["make_worker"], namespace["make_probe"]


make_worker, make_probe = _compile()

LOST_TEXT = ("trial %s: its Spark task failed (executor lost or task "
             "killed); parzen does not run a trial twice")
LOST_TYPE = "<class 'parzen.spark.TrialLost'>"

# How long close() waits for the workers' queries to return once told to
# stop, before interrupting them.
STOP_WAIT_SECS = 10.0


def _worker_schema():
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    return StructType([StructField("kind", StringType()),
                       StructField("served", LongType())])


def probe_schema():
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([StructField(n, StringType())
                       for n in ("python", "pyarrow", "reached", "tried")])


def listener_plan(spark, explicit):
    """(bind host, port, candidate addresses) of the pool's listener.
    An explicit "host[:port]" is used alone. Else a local Connect server
    (localhost) gets a loopback listener; a remote one a listener on every
    interface and this host's own addresses as candidates (the probe
    keeps the first one the executors reach)."""
    if explicit:
        host, port = explicit, 0
        if ":" in explicit and not explicit.startswith("["):
            host, port_s = explicit.rsplit(":", 1)
            port = int(port_s)
        return host, port, [host]
    server = ""
    try:
        server = spark.client.host or ""
    except Exception:
        pass
    if server in ("localhost", "::1") or server.startswith("127."):
        return "127.0.0.1", 0, ["127.0.0.1"]
    return "0.0.0.0", 0, _host_addresses()


def _host_addresses() -> list:
    names = []
    for name in (socket.getfqdn(), socket.gethostname()):
        try:
            infos = socket.getaddrinfo(name, None, socket.AF_INET)
        except OSError:
            continue
        for info in infos:
            addr = info[4][0]
            if not addr.startswith("127.") and addr not in names:
                names.append(addr)
    return names


class _Worker:
    """One slot's query and its connection (once it connected)."""

    def __init__(self, n, tag):
        self.n = n
        self.tag = tag
        self.conn = None
        self.rfile = None
        self.ended = threading.Event()  # its query returned or failed
        self.error = None  # the query's failure: (type, text)
        self.dead = False  # cancelled or broken: never reused
        self.thread = None

    def send(self, obj) -> None:
        self.conn.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self):
        line = self.rfile.readline()
        return json.loads(line) if line else None

    def shut(self) -> None:
        conn = self.conn
        if conn is None:
            return
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            conn.close()
        except OSError:
            pass


class WorkerPool:
    """The pool of one run. ``backend`` is the ConnectBackend (session,
    base DataFrame, tags, profile, report handler).

    A trial takes any idle connected worker. When none is idle it starts
    a worker query (at most one per waiting trial) and waits for whichever
    worker connects first: a query the cluster cannot schedule yet (fewer
    task slots than ``parallelism``, or a resource profile that fits one
    task per executor) never holds a trial while another worker is free.
    A worker query that fails before connecting fails one waiting trial
    with Spark's error, as the trial's own query would have."""

    def __init__(self, backend, server, address):
        self.backend = backend
        self.server = server  # parzen._pruning.ReportServer
        self.address = address  # (host, port) the executors reach
        self.cond = threading.Condition()
        self.workers: dict = {}  # n -> _Worker, every query not ended
        self.idle: list = []  # connected workers waiting for a trial
        self.busy: dict = {}  # tid -> _Worker
        self.pending = 0  # worker queries started, not connected yet
        self.waiting = 0  # trials waiting for a worker
        self.failures: list = []  # errors of queries that never connected
        self.cancelled: set = set()
        self.next_n = 0
        self.objective = ""
        self.schema = _worker_schema()
        self.queries = 0  # worker queries started (tests, bench)
        self.closed = False

    def start(self, fn_bytes) -> None:
        self.objective = base64.b64encode(fn_bytes).decode()

    # ------------------------------------------------------- workers
    def accept(self, n, conn, rfile) -> None:
        """The listener's hand-off of worker ``n``'s connection."""
        with self.cond:
            w = self.workers.get(n) if isinstance(n, int) else None
            usable = w is not None and w.conn is None and not w.dead \
                and not self.closed
            if usable:
                w.conn, w.rfile = conn, rfile
                self.pending -= 1
        if not usable:  # unknown, a second connection, or closed
            try:
                conn.close()
            except OSError:
                pass
            return
        try:
            w.send({"objective": self.objective})
        except OSError:
            w.dead = True
        with self.cond:
            if not w.dead:
                self.idle.append(w)
            self.cond.notify_all()

    def _new_worker(self) -> None:
        """Start one worker query (the caller holds self.cond)."""
        n, self.next_n = self.next_n, self.next_n + 1
        w = _Worker(n, "%s-w%d" % (self.backend.tag_prefix, n))
        self.workers[n] = w
        self.queries += 1
        self.pending += 1
        w.thread = threading.Thread(target=self._query, args=(w,),
                                    name="parzen-connect-worker-%d" % n,
                                    daemon=True)
        w.thread.start()

    def _query(self, w) -> None:
        """The worker's query; blocks until the worker returns."""
        b = self.backend
        spark = b.spark
        for t in b.user_tags:
            spark.addTag(t)
        spark.addTag(w.tag)
        error = None
        try:
            df = b.base.mapInArrow(
                make_worker(list(self.address), self.server.token, w.n),
                self.schema, **b.profile_kw())
            from ._connect_backend import _rows

            _rows(df)
        except Exception as e:  # interrupted, executor lost, ...
            error = (str(type(e)), _summary(e))
        finally:
            spark.clearTags()
            with self.cond:
                w.dead = True
                if w.conn is None:  # never connected
                    self.pending -= 1
                    if error is not None and self.waiting > \
                            len(self.failures):
                        self.failures.append(error)
                if w in self.idle:
                    self.idle.remove(w)
                self.workers.pop(w.n, None)
                w.ended.set()
                self.cond.notify_all()
            w.shut()

    def _take(self, tid):
        """An idle worker for trial ``tid``, or the Outcome that ends it
        (cancelled while waiting, or its worker query failed)."""
        with self.cond:
            self.waiting += 1
            try:
                while True:
                    if tid in self.cancelled or self.closed:
                        return Outcome(tid, "lost", error=(
                            "cancelled", "trial %s was cancelled before it "
                            "started" % (tid,)))
                    while self.idle:
                        w = self.idle.pop()
                        if not w.dead:
                            self.busy[tid] = w
                            return w
                    if self.failures:
                        return Outcome(tid, "lost",
                                       error=self.failures.pop(0))
                    if self.pending < self.waiting:
                        self._new_worker()
                    self.cond.wait()
            finally:
                self.waiting -= 1

    # -------------------------------------------------------- trials
    def run_one(self, tid, point) -> Outcome:
        from pyspark import cloudpickle

        w = self._take(tid)
        if isinstance(w, Outcome):
            return w
        try:
            try:
                w.send({"tid": tid, "point": base64.b64encode(
                    cloudpickle.dumps(point)).decode()})
                out = self._serve(w, tid)
            except (OSError, ValueError):
                out = None
            if out is None:  # the connection dropped mid-trial
                w.dead = True
                if tid in self.cancelled:
                    return Outcome(tid, "lost", error=(
                        "cancelled", "trial %s was cancelled" % (tid,)))
                return Outcome(tid, "lost", error=(LOST_TYPE,
                                                   LOST_TEXT % (tid,)))
            return out
        finally:
            with self.cond:
                self.busy.pop(tid, None)
                if not w.dead and not self.closed:
                    self.idle.append(w)
                    self.cond.notify_all()
                    w = None
            if w is not None:
                self._discard(w)

    def _serve(self, w, tid):
        """Reports until the trial's outcome; None if the connection
        dropped."""
        from ._pruning import report_reply, reply_line

        while True:
            msg = w.recv()
            if msg is None:
                return None
            if "step" in msg:
                handler = self.backend.report_handler
                post = None if handler is None else \
                    (lambda t, s, v: _post(handler, t, s, v))
                w.conn.sendall(reply_line(report_reply(post, tid, msg)))
                continue
            return _outcome(tid, msg)

    def cancel(self, tid) -> None:
        with self.cond:
            self.cancelled.add(tid)
            w = self.busy.get(tid)
            if w is not None:
                w.dead = True
            self.cond.notify_all()  # a trial waiting for a worker
        if w is not None:
            self._discard(w)

    def _discard(self, w) -> None:
        """Stop a worker that will not be reused: its query interrupted
        (the objective is killed with its task), its connection closed."""
        if not w.ended.is_set():
            self.backend.interrupt_tag(w.tag)
        w.shut()

    def close(self) -> None:
        """Tell idle workers to stop (their queries return), interrupt
        the rest (busy, or not connected yet), and wait a little for the
        queries to end."""
        with self.cond:
            self.closed = True
            idle, self.idle = self.idle, []
            workers = list(self.workers.values())
            self.cond.notify_all()
        for w in idle:
            try:
                w.send({"stop": True})
            except OSError:
                pass
        for w in workers:
            if w not in idle:
                w.dead = True
                self._discard(w)
        deadline = time.monotonic() + STOP_WAIT_SECS
        for w in workers:
            if not w.ended.wait(max(0.0, deadline - time.monotonic())):
                self._discard(w)


def _post(handler, tid, step, value):
    kind, arg = handler(tid, step, value)
    if kind == "error":
        raise ValueError(arg)
    return arg


def _outcome(tid, msg) -> Outcome:
    kind = msg.get("kind")
    if kind == "ok":
        import pickle

        try:
            value = pickle.loads(base64.b64decode(msg["payload"]))
        except Exception as e:
            return Outcome(tid, "error", error=(str(type(e)), (
                "the objective's return value could not be loaded on the "
                "driver: %s" % (e,))))
        return Outcome(tid, "ok", value=value)
    return Outcome(tid, kind or "lost", error=(msg.get("etype", ""),
                                               msg.get("text", "")))
