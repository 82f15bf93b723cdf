"""Local worker processes for ParallelTrials: parallel fmin with no cluster.

Each slot is a long-lived worker process that receives the objective once
(cloudpickled, so lambdas and closures from __main__ work) and then one
point per trial over a pipe. A trial's driver thread blocks on that pipe;
a dead worker (killed, crashed, os._exit) shows as EOF and the trial is
recorded as failed, while its slot gets a fresh worker. Cancelling a trial
kills its worker, the only way to stop arbitrary Python code.

Each worker leads a session (and process group) of its own, and killing a
worker means SIGKILL to that whole group, so whatever the objective started
(a subprocess, a shell pipeline) dies with it, on cancel, timeout and
close alike. Being in their own session, workers no longer get the
terminal's Ctrl-C: the driver kills them itself (fmin's KeyboardInterrupt
cancels every trial; close() kills the workers still busy when the driver
raises; an atexit hook kills any left), and a worker whose driver died
(SIGKILL, SIGHUP) kills its own group within a fraction of a second.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from ._driver import Outcome, ThreadedExecutor as ThreadedBackend

# The worker is started as `python -c WORKER_SOURCE FD DRIVER_PID`: it
# imports neither parzen nor the user's script (multiprocessing's
# spawn/forkserver would re-run an unguarded script), only what unpickling
# the objective needs. Messages travel on a socket of their own, so the
# objective may print. A watchdog thread kills the worker's group once the
# driver is no longer its parent (the driver died without killing it).
WORKER_SOURCE = r"""
import os, pickle, signal, sys, threading, time, traceback
from multiprocessing.connection import Connection
def watch_driver(driver):
    while os.getppid() == driver:
        time.sleep(0.2)
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch_driver, args=(int(sys.argv[2]),),
                 daemon=True).start()
conn = Connection(int(sys.argv[1]))
def _parzen_report(step, value):
    # parzen.report() in the objective (parzen._pruning._WorkerChannel,
    # which serialises callers): a message to the trial's driver thread,
    # its answer back
    conn.send_bytes(pickle.dumps(("report", step, value)))
    return pickle.loads(conn.recv_bytes())
sys.path[:] = pickle.loads(conn.recv_bytes())
import cloudpickle
fn = cloudpickle.loads(conn.recv_bytes())
while True:
    try:
        msg = conn.recv_bytes()
    except (EOFError, OSError):
        break
    point = pickle.loads(msg)
    try:
        reply = ("ok", fn(point))
    except BaseException as e:
        reply = ("error", str(type(e)), "".join(
            traceback.format_exception(type(e), e, e.__traceback__)))
    try:
        data = pickle.dumps(reply)
    except Exception as e:
        data = pickle.dumps(("error", str(type(e)),
                             "the objective's return value could not be "
                             "sent back to the driver: %s" % (e,)))
    conn.send_bytes(data)
"""


# Every worker not yet reaped, for the atexit hook.
_live: "set[_Worker]" = set()
_live_lock = threading.Lock()

# How long close() lets an idle worker exit by itself (flushing what the
# objective printed) before it kills the group.
STOP_GRACE_SECS = 5.0


class _Worker:
    """One worker process (leader of its own process group) and the socket
    the driver talks to it on."""

    def __init__(self, fn_bytes: bytes):
        mine, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER_SOURCE, str(theirs.fileno()),
             str(os.getpid())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
            start_new_session=True)
        theirs.close()
        self.conn = Connection(mine.detach())
        self.reap_lock = threading.Lock()
        with _live_lock:
            _live.add(self)
        try:
            self.conn.send_bytes(pickle.dumps(list(sys.path)))
            self.conn.send_bytes(fn_bytes)
        except BaseException:  # died at once: leave nothing behind
            self.kill()
            raise

    def run(self, point, on_report=None):
        """The trial's reply; ``on_report(step, value)`` answers the
        objective's reports meanwhile (parzen._pruning)."""
        self.conn.send_bytes(pickle.dumps(point))
        while True:
            reply = pickle.loads(self.conn.recv_bytes())
            if reply[0] != "report":
                return reply
            if on_report is None:
                answer = ("error", "parzen.report(): this run has no pruner")
            else:
                answer = on_report(reply[1], reply[2])
            self.conn.send_bytes(pickle.dumps(answer))

    def hang_up(self) -> None:
        """Close the socket: an idle worker sees EOF and exits."""
        self.conn.close()

    def exited(self) -> bool:
        """True once the worker exited; it is not reaped, so its pid still
        names its group."""
        if self.proc.returncode is not None:
            return True
        if not hasattr(os, "waitid"):  # e.g. macOS: poll() reaps it
            with self.reap_lock:
                return self.proc.poll() is not None
        try:
            info = os.waitid(os.P_PID, self.proc.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def stop(self, deadline: float) -> None:
        """Let a hung-up worker exit by `deadline`, then kill its group."""
        while not self.exited() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the worker's whole group, then reap the worker. Safe
        from any thread, any number of times."""
        with self.reap_lock:
            if self.proc.returncode is None:  # unreaped: the group is ours
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.proc.wait()
        with _live_lock:
            _live.discard(self)


@atexit.register
def _kill_leftover_workers() -> None:
    """A driver interrupted inside close() (a second Ctrl-C) or one that
    never called it must not leave workers running."""
    with _live_lock:
        workers = list(_live)
    for w in workers:
        w.kill()


class LocalProcessBackend(ThreadedBackend):
    """Run trials in up to `parallelism` local worker processes."""

    report_channel = "worker"  # reports on the worker's socket
    #: set by parzen._pruning.Pruning: (tid, step, value) -> its reply
    report_handler = None

    def __init__(self, parallelism: int):
        self.parallelism = parallelism
        self.fn_bytes = b""
        self.idle: list[_Worker] = []
        self.busy: dict = {}  # tid -> _Worker
        self.closed = False  # set by close(): no new worker starts
        self.lock = threading.Lock()

    def start(self, fn) -> None:
        import cloudpickle

        try:
            self.fn_bytes = cloudpickle.dumps(fn)
        except Exception as e:
            raise TypeError(
                "the objective cannot be sent to worker processes: it does "
                "not pickle with cloudpickle (%s: %s)" % (type(e).__name__, e)
            ) from e

    def _take(self, tid) -> _Worker:
        with self.lock:
            w = self.idle.pop() if self.idle else None
        if w is None:
            w = _Worker(self.fn_bytes)
        with self.lock:
            closed = self.closed
            if not closed:
                self.busy[tid] = w
        if closed:  # close() ran while this worker started
            w.kill()
            raise OSError("the backend is closed")
        return w

    def _give_back(self, tid, w: _Worker, healthy: bool) -> None:
        with self.lock:
            self.busy.pop(tid, None)
            if healthy:
                self.idle.append(w)
        if not healthy:
            w.kill()

    def run_one(self, tid, point) -> Outcome:
        w = self._take(tid)
        handler = self.report_handler
        on_report = None if handler is None else (
            lambda step, value: handler(tid, step, value))
        try:
            reply = w.run(point, on_report)
        except (EOFError, OSError):
            self._give_back(tid, w, healthy=False)
            return Outcome(tid, "lost", error=(
                "WorkerLost", "the worker process running trial %s died "
                "(exit code %s)" % (tid, w.proc.returncode)))
        self._give_back(tid, w, healthy=True)
        if reply[0] == "ok":
            return Outcome(tid, "ok", value=reply[1])
        return Outcome(tid, "error", error=(reply[1], reply[2]))

    def cancel(self, tid) -> None:
        with self.lock:
            w = self.busy.get(tid)
        if w is not None:
            w.kill()

    def close(self) -> None:
        """Stop the idle workers (each gets STOP_GRACE_SECS to exit) and
        kill the busy ones: after every report that is none, but a driver
        that raised leaves trials running. Kills whole groups."""
        with self.lock:
            self.closed = True
            idle, self.idle = self.idle, []
            busy = list(self.busy.values())
        for w in busy:
            w.kill()
        for w in idle:
            w.hang_up()
        deadline = time.monotonic() + STOP_GRACE_SECS
        for w in idle:
            w.stop(deadline)
