"""Local worker processes for ParallelTrials: parallel fmin with no cluster.

Each slot is a long-lived worker process that receives the objective once
(cloudpickled, so lambdas and closures from __main__ work) and then one
point per trial over a pipe. A trial's driver thread blocks on that pipe;
a dead worker (killed, crashed, os._exit) shows as EOF and the trial is
recorded as failed, while its slot gets a fresh worker. Cancelling a trial
kills its worker, the only way to stop arbitrary Python code.
"""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

from ._dispatch import Outcome, ThreadedBackend

# The worker is started as `python -c WORKER_SOURCE FD`: it imports neither
# parzen nor the user's script (multiprocessing's spawn/forkserver would
# re-run an unguarded script), only what unpickling the objective needs.
# Messages travel on a socket of their own, so the objective may print.
WORKER_SOURCE = r"""
import pickle, sys, traceback
from multiprocessing.connection import Connection
conn = Connection(int(sys.argv[1]))
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


class _Worker:
    """One worker process and the socket the driver talks to it on."""

    def __init__(self, fn_bytes: bytes):
        mine, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER_SOURCE, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self.conn = Connection(mine.detach())

        self.conn.send_bytes(pickle.dumps(list(sys.path)))
        self.conn.send_bytes(fn_bytes)

    def run(self, point):

        self.conn.send_bytes(pickle.dumps(point))
        return pickle.loads(self.conn.recv_bytes())

    def stop(self) -> None:
        self.conn.close()  # the worker sees EOF and exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class LocalProcessBackend(ThreadedBackend):
    """Run trials in up to `parallelism` local worker processes."""

    def __init__(self, parallelism: int):
        self.parallelism = parallelism
        self.fn_bytes = b""
        self.idle: list[_Worker] = []
        self.busy: dict = {}  # tid -> _Worker
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
            self.busy[tid] = w
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
        try:
            reply = w.run(point)
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
        with self.lock:
            workers, self.idle = self.idle, []
        for w in workers:
            w.stop()
