"""Pruning: ``parzen.report`` in the objective, decisions on the driver.

Two halves that talk over a *report channel*:

- **the trial side** (wherever the objective runs): :func:`report` finds
  the current trial's channel (set around the objective call), checks the
  step and value, sends ``(step, value)`` and returns the driver's answer.
- **the driver side** (:class:`Pruning`, one per fmin run with a pruner):
  every report is handled on the driver thread, which owns the C study
  (``parzen._engine``): the value is stored there and the C pruner decides
  from the reports of every trial. Reports from other threads (a
  ParallelTrials trial thread, a Spark report connection) are posted on the
  run's event queue and their sender waits for the answer.

The channels, one per executor (``Executor.report_channel``):

- ``"inline"``: the objective runs in the driver thread (Trials): a call.
- ``"worker"``: ParallelTrials' worker processes send ``("report", step,
  value)`` on the socket they already share with their trial's driver
  thread and read the answer from it (parzen._local_backend).
- ``"tcp"``: Spark tasks (classic and Connect) connect to a listener the
  driver opens for the run (:class:`ReportServer`) at an address the
  executors can reach, authenticate with the run's secret and exchange
  JSON lines. Classic Spark: the host Spark knows as the driver's
  (``spark.driver.host``); Connect with one query per trial: the address
  must be given (``SparkTrials(report_address=...)`` or
  $PARZEN_REPORT_ADDRESS), since executors usually cannot reach a Connect
  client; Connect's trial pool (parzen._connect_pool) owns the listener
  and its workers send reports on their own connection (``_pool_sender``).

For the worker and TCP channels the objective shipped to the executor is
wrapped (:class:`ReportingObjective`) and receives ``(tid, point)``: the
executors' own task code is unchanged. An executor with no channel (an
``asynchronous`` Trials' external workers) makes fmin raise at start.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import numbers
import os
import secrets
import socket
import sys
import threading
import warnings

from . import _core
from .exceptions import TrialPruned

logger = logging.getLogger("parzen.pruning")

PRUNED_ERROR_TYPES = (str(TrialPruned),)

# How long a trial waits for the driver's answer to one report before it
# goes on as if told to stop (the run has ended or the driver is gone).
ANSWER_TIMEOUT_SECS = float(os.environ.get("PARZEN_REPORT_TIMEOUT", "300"))


# ============================================================ trial side

_local = threading.local()
_process_trial = None  # a worker process's current trial (any thread)


class TrialChannel:
    """The current trial's way to the driver. ``send(step, value)``
    returns True when the trial should stop."""

    def __init__(self, tid):
        self.tid = tid
        self.last_step = None

    def send(self, step, value) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Context:
    """Makes ``channel`` the current trial of this thread (and, with
    ``process_wide``, of threads the objective starts in a worker)."""

    def __init__(self, channel, process_wide=False):
        self.channel = channel
        self.process_wide = process_wide

    def __enter__(self):
        global _process_trial
        self.prev = getattr(_local, "trial", None)
        _local.trial = self.channel
        if self.process_wide:
            self.prev_process, _process_trial = _process_trial, self.channel
        return self.channel

    def __exit__(self, *exc):
        global _process_trial
        _local.trial = self.prev
        if self.process_wide:
            _process_trial = self.prev_process
        return False


def current_trial():
    ch = getattr(_local, "trial", None)
    return ch if ch is not None else _process_trial


def report(value, step) -> bool:
    """Report the trial's intermediate ``value`` (lower is better, as the
    loss) at ``step`` (an int >= 0 that grows from report to report, e.g.
    the epoch). Returns True when the pruner says the trial should stop:
    the objective then raises :class:`parzen.TrialPruned` or returns its
    current result; the trial is recorded as pruned either way.

    Only inside an objective run by ``fmin(..., pruner=...)``. A non-finite
    value is ignored (with a warning naming the trial); a step that does
    not grow is a ValueError naming the trial and both steps.
    """
    ch = current_trial()
    if ch is None:
        raise RuntimeError(
            "parzen.report() called outside a trial: it is only meaningful "
            "inside an objective run by fmin(..., pruner=...) (pass "
            "pruner=parzen.pruners.NopPruner() to record reports without "
            "pruning)")
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError("parzen.report(): trial %s: step must be an integer, "
                        "not %r" % (ch.tid, step))
    step = int(step)
    if step < 0:
        raise ValueError("parzen.report(): trial %s: step must be >= 0, "
                         "not %d" % (ch.tid, step))
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError("parzen.report(): trial %s: value must be a number, "
                        "not %r" % (ch.tid, value)) from None
    if not math.isfinite(value):
        warnings.warn("parzen.report(): trial %s: non-finite value %r at "
                      "step %d ignored" % (ch.tid, value, step),
                      RuntimeWarning, stacklevel=2)
        return False
    if ch.last_step is not None and step <= ch.last_step:
        raise ValueError("parzen.report(): trial %s: step %d reported after "
                         "step %d (steps must grow)"
                         % (ch.tid, step, ch.last_step))
    ch.last_step = step
    return bool(ch.send(step, value))


class _CallChannel(TrialChannel):
    """Inline: the driver is this thread."""

    def __init__(self, tid, handle):
        super().__init__(tid)
        self.handle = handle

    def send(self, step, value):
        return self.handle(self.tid, step, value)


class _WorkerChannel(TrialChannel):
    """A ParallelTrials worker: the function its script exposes as
    ``__main__._parzen_report`` sends on the worker's socket and returns
    the driver's reply ``("prune", bool)`` or ``("error", text)``."""

    lock = threading.Lock()  # objective threads share the worker socket

    def send(self, step, value):
        main = sys.modules.get("__main__")
        send = getattr(main, "_parzen_report", None)
        if send is None:
            raise RuntimeError("parzen.report(): trial %s: this process is "
                               "not a parzen worker" % (self.tid,))
        with self.lock:
            reply = send(step, value)
        return _answer(self.tid, reply)


def _answer(tid, reply):
    if reply[0] == "prune":
        return bool(reply[1])
    raise ValueError(reply[1])


class _TcpChannel(TrialChannel):
    """A Spark task: one connection to the driver's ReportServer, opened
    at the first report, JSON lines both ways."""

    def __init__(self, tid, address, token):
        super().__init__(tid)
        self.address = address
        self.token = token
        self.sock = None
        self.rfile = None

    def _connect(self):
        host, port = self.address
        try:
            self.sock = socket.create_connection((host, port), timeout=30)
        except OSError as e:
            raise RuntimeError(
                "parzen.report(): trial %s cannot reach the driver's report "
                "listener at %s:%d (%s); set SparkTrials(report_address=...) "
                "or $PARZEN_REPORT_ADDRESS to an address the executors reach"
                % (self.tid, host, port, e)) from None
        self.sock.settimeout(ANSWER_TIMEOUT_SECS)
        self.rfile = self.sock.makefile("rb")
        self._line({"token": self.token, "tid": self.tid})

    def _line(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def send(self, step, value):
        if self.sock is None:
            self._connect()
        self._line({"step": step, "value": value})
        line = self.rfile.readline()
        if not line:
            return True  # the run ended: stop
        msg = json.loads(line)
        if "error" in msg:
            raise ValueError(msg["error"])
        return bool(msg["prune"])

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


# Set by a Spark Connect pool worker (parzen._connect_pool) around each
# trial: a function (step, value) -> ("prune", bool) | ("error", text) that
# sends the report on the worker's own connection to the driver.
_pool_sender = None


class _SenderChannel(TrialChannel):
    """A Spark Connect pool worker: reports go on the connection the
    worker already has with the driver."""

    def __init__(self, tid, sender):
        super().__init__(tid)
        self.sender = sender

    def send(self, step, value):
        return _answer(self.tid, self.sender(step, value))


class ReportingObjective:
    """The objective as shipped to worker processes or Spark tasks when
    the run prunes: called with ``(tid, point)``, it runs ``fn(point)`` as
    trial ``tid`` with the channel back to the driver. Pickled by
    reference to this module, so the executors need parzen (the objective
    calls parzen.report anyway)."""

    def __init__(self, fn, address=None, token=None):
        self.fn = fn
        self.address = address  # None: a ParallelTrials worker
        self.token = token

    def __call__(self, payload):
        tid, point = payload
        if _pool_sender is not None:  # a Connect pool worker's connection
            ch = _SenderChannel(tid, _pool_sender)
        elif self.address is None:
            ch = _WorkerChannel(tid)
        else:
            ch = _TcpChannel(tid, self.address, self.token)
        try:
            with _Context(ch, process_wide=True):
                return self.fn(point)
        finally:
            ch.close()


# =========================================================== driver side


class Report:
    """A report waiting for the driver thread (an event on the run's
    queue, next to the executors' Outcomes)."""

    __slots__ = ("tid", "step", "value", "done", "answer", "error")

    def __init__(self, tid, step, value):
        self.tid = tid
        self.step = step
        self.value = value
        self.done = threading.Event()
        self.answer = True
        self.error = None

    def reply(self):
        """("prune", bool) or ("error", text), for the channels."""
        if self.error is not None:
            return ("error", self.error)
        return ("prune", self.answer)


class Pruning:
    """The pruning of one fmin run, on the driver. ``handle`` runs on the
    driver thread only; ``post`` may be called from any thread."""

    def __init__(self, pruner, executor, *, report_host=None,
                 bind_host=None):
        self.pruner = pruner
        channel = getattr(executor, "report_channel", None)
        if channel is None:
            raise ValueError(
                "fmin(pruner=...): %s cannot stream parzen.report() values to "
                "the driver while a trial runs, so it cannot prune (use "
                "Trials, ParallelTrials or SparkTrials)"
                % (_executor_name(executor),))
        self.channel = channel
        self.run = None
        self.mirror = None
        self.driver_thread = None
        self.reports = {}  # tid -> [[step, value], ...]
        self.told_to_stop = {}  # tid -> the last answer was True
        self.pending = set()
        self.lock = threading.Lock()
        self.closed = False
        self.server = None
        if channel == "worker" or hasattr(executor, "report_handler"):
            # reports arrive on the executor's own connections (a local
            # worker's socket, a Spark Connect pool worker's)
            executor.report_handler = self.post_reply
        if channel == "tcp":
            # an executor with a listener of its own (the Spark Connect
            # pool) shares it: one listener, one port
            shared = getattr(executor, "listener", None)
            self.server = shared() if shared is not None else None
            if self.server is None:
                self.server = ReportServer(self.post, report_host, bind_host)
            else:
                self.server.post = self.post

    # ---------------------------------------------------------- setup
    def wrap(self, fn):
        """The objective an out-of-process executor runs."""
        if self.channel == "worker":
            return ReportingObjective(fn)
        if self.channel == "tcp":
            return ReportingObjective(fn, self.server.address,
                                      self.server.token)
        return fn

    @property
    def tags_payload(self):
        return self.channel in ("worker", "tcp")

    def attach(self, run):
        from . import _engine

        self.run = run
        self.driver_thread = threading.get_ident()
        # a C study of its own (no sampler) that holds the run's reports
        self.mirror = _engine.pruner_for(run.domain, run.trials,
                                         self.pruner.kind,
                                         self.pruner.options())

    def inline_trial(self, tid):
        """The context the inline executor evaluates trial ``tid`` in."""
        return _Context(_CallChannel(tid, self.post))

    # --------------------------------------------------------- reports
    def post(self, tid, step, value) -> bool:
        """A report from any thread; returns the answer (True: stop)."""
        if threading.get_ident() == self.driver_thread:
            rep = Report(tid, step, value)
            self.handle(rep)
            return _answer(tid, rep.reply())
        rep = Report(tid, step, value)
        with self.lock:
            if self.closed:
                return True
            self.pending.add(rep)
        self.run.events.put(rep)
        if not rep.done.wait(ANSWER_TIMEOUT_SECS):
            logger.warning("trial %s: no answer from the driver to the report "
                           "at step %s within %gs: stopping it", tid, step,
                           ANSWER_TIMEOUT_SECS)
            return True
        return rep.answer if rep.error is None else _answer(tid, rep.reply())

    def post_reply(self, tid, step, value):
        """For the channels that carry the answer as a message."""
        try:
            return ("prune", self.post(tid, step, value))
        except ValueError as e:
            return ("error", str(e))

    def handle(self, rep: Report) -> None:
        """On the driver thread: store the value, decide, answer."""
        try:
            doc = self.run.inflight.get(rep.tid)
            if doc is None:  # finished, cancelled, or not ours: stop
                rep.answer = True
                return
            # the trials finished since the last report (median and
            # hyperband read the DONE ones): O(new + running)
            self.mirror.sync(self.run.trials)
            last = self.mirror.last_step(doc)
            if last is not None and last >= 0 and rep.step <= last:
                rep.error = ("parzen.report(): trial %s: step %d reported "
                             "after step %d (steps must grow)"
                             % (rep.tid, rep.step, last))
                return
            try:
                stored = self.mirror.report(doc, rep.step, rep.value)
            except (ValueError, _core.InvalidArgumentError) as e:
                rep.error = "parzen.report(): trial %s: %s" % (rep.tid, e)
                return
            if stored:
                self.reports.setdefault(rep.tid, []).append(
                    [rep.step, rep.value])
            else:
                logger.warning("trial %s: non-finite value %r at step %d "
                               "ignored", rep.tid, rep.value, rep.step)
            rep.answer = bool(self.mirror.should_prune(doc))
            self.told_to_stop[rep.tid] = rep.answer
        finally:
            with self.lock:
                self.pending.discard(rep)
            rep.done.set()

    # -------------------------------------------------------- outcomes
    def is_pruned(self, out) -> bool:
        """Does this outcome end its trial as pruned? It raised
        TrialPruned, or it returned after its last report was answered
        "stop"."""
        if out.kind == "error" and out.error and \
                out.error[0] in PRUNED_ERROR_TYPES:
            return True
        if out.exc is not None and isinstance(out.exc, TrialPruned):
            return True
        return out.kind == "ok" and self.told_to_stop.get(out.tid, False)

    def pruned_result(self, out) -> dict:
        """The result document of a pruned trial: status "fail" (so
        best_trial, argmin and loss_threshold never take it), "pruned",
        its last reported value as "loss", the step, every report."""
        base = out.result if out.result is not None else out.value
        result = dict(base) if isinstance(base, dict) else {}
        reports = self.finish(out.tid)
        result["status"] = "fail"
        result["pruned"] = True
        result["intermediate_values"] = reports
        if reports:
            result["step"], result["loss"] = reports[-1]
        else:
            result.pop("loss", None)
        return result

    def finish(self, tid) -> list:
        """The reports of a trial that ended (dropped from the run's
        tables)."""
        self.told_to_stop.pop(tid, None)
        return self.reports.pop(tid, [])

    def close(self) -> None:
        """The run ended: answer whoever still waits ("stop")."""
        with self.lock:
            self.closed = True
            waiting, self.pending = list(self.pending), set()
        for rep in waiting:
            rep.answer = True
            rep.done.set()
        if self.server is not None:
            self.server.close()


def _executor_name(executor):
    inner = getattr(executor, "inner", None)
    if inner is not None:
        executor = inner
    name = type(executor).__name__
    if name == "ExternalExecutor":
        return "an asynchronous Trials (external workers)"
    return name


# ============================================================ TCP server


class ReportServer:
    """The driver's listener for Spark tasks: JSON lines, each connection
    authenticated by its first line, which carries the run's secret
    ``token``. A connection with a wrong token is closed at once. The
    first line says what the connection is:

    - ``{"token", "tid"}``: a trial's reports: then ``{"step", "value"}``
      lines, each answered ``{"prune": bool}`` or ``{"error": text}``;
    - ``{"token", "probe": true}``: a probe checking that the executors
      reach this address: answered ``{"ok": true}``, then closed;
    - ``{"token", "worker": n}``: a Spark Connect pool worker
      (parzen._connect_pool): the connection is handed to ``on_worker(n,
      conn, rfile)``, which owns it from then on (same line format).
    """

    def __init__(self, post, report_host, bind_host=None, on_worker=None):
        self.post = post
        self.on_worker = on_worker
        self.token = secrets.token_hex(16)
        host = report_host or "127.0.0.1"
        port = 0
        if ":" in host and not host.startswith("["):
            host, port_s = host.rsplit(":", 1)
            port = int(port_s)
        bind = bind_host if bind_host is not None else host
        try:
            self.sock = socket.create_server((bind, port))
        except OSError as e:
            raise ValueError(
                "fmin(pruner=...): cannot open the report listener on %s:%d "
                "(%s); set SparkTrials(report_address='host[:port]') or "
                "$PARZEN_REPORT_ADDRESS to an address of this machine that "
                "the executors reach" % (bind, port, e)) from None
        self.address = (host, self.sock.getsockname()[1])
        self.closed = False
        self.conns = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True,
                                       name="parzen-report-listener")
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with self.lock:
                if self.closed:
                    conn.close()
                    return
                self.conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name="parzen-report-conn").start()

    def _serve(self, conn):
        try:
            rfile = conn.makefile("rb")
            hello = json.loads(rfile.readline() or b"null")
            if not isinstance(hello, dict) or not hmac.compare_digest(
                    str(hello.get("token", "")), self.token):
                return
            if hello.get("probe"):
                conn.sendall(b'{"ok": true}\n')
                return
            if "worker" in hello and self.on_worker is not None:
                with self.lock:
                    self.conns.discard(conn)
                conn, handed = None, conn
                self.on_worker(hello["worker"], handed, rfile)
                return
            tid = hello.get("tid")
            for line in rfile:
                conn.sendall(reply_line(self._reply(tid, json.loads(line))))
        except (OSError, ValueError):
            pass
        finally:
            if conn is not None:
                with self.lock:
                    self.conns.discard(conn)
                try:
                    conn.close()
                except OSError:
                    pass

    def _reply(self, tid, msg):
        return report_reply(self.post, tid, msg)

    def close(self):
        with self.lock:
            self.closed = True
            conns, self.conns = list(self.conns), set()
        try:
            self.sock.close()
        except OSError:
            pass
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass


def report_reply(post, tid, msg):
    """The answer to one report line ``{"step", "value"}`` of trial
    ``tid``: ("prune", bool) or ("error", text). ``post`` is
    Pruning.post, or None when the run does not prune."""
    try:
        step, value = int(msg["step"]), float(msg["value"])
    except (KeyError, TypeError, ValueError):
        return ("error", "trial %s: malformed report %r" % (tid, msg))
    if post is None:
        return ("error", "parzen.report(): trial %s: this run has no pruner "
                "(fmin(pruner=...))" % (tid,))
    try:
        return ("prune", bool(post(tid, step, value)))
    except ValueError as e:
        return ("error", str(e))


def reply_line(reply) -> bytes:
    """A report's answer as the line the trial side reads."""
    kind, arg = reply
    out = {"prune": arg} if kind == "prune" else {"error": arg}
    return json.dumps(out).encode() + b"\n"


def report_address_from(explicit):
    """An explicit report address: the argument, else
    $PARZEN_REPORT_ADDRESS, else None."""
    return explicit or os.environ.get("PARZEN_REPORT_ADDRESS") or None

