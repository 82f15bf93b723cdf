"""Local worker processes for ParallelTrials: parallel fmin with no cluster.

Each slot is a long-lived worker process that receives the objective once
(cloudpickled, so lambdas and closures from __main__ work) and then one
point per trial over a pipe. A trial's driver thread blocks on that pipe;
a dead worker (killed, crashed, os._exit) shows as EOF and the trial is
recorded as failed, while its slot gets a fresh worker. Cancelling a trial
kills its worker, the only way to stop arbitrary Python code.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback

from ._dispatch import Outcome, ThreadedBackend


def _worker_main(conn, fn_bytes: bytes) -> None:
    """Worker loop: (tid, point) in, ("ok", value) or ("error", ...) out."""
    import cloudpickle

    fn = cloudpickle.loads(fn_bytes)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        _tid, point = msg
        try:
            reply = ("ok", fn(point))
        except BaseException as e:  # the objective's failure is data
            reply = ("error", str(type(e)),
                     "".join(traceback.format_exception(type(e), e,
                                                        e.__traceback__)))
        try:
            conn.send(reply)
        except Exception as e:  # e.g. an unpicklable return value
            conn.send(("error", str(type(e)),
                       "the objective's return value could not be sent "
                       "back to the driver: %s" % (e,)))


class _Worker:
    def __init__(self, ctx, fn_bytes: bytes):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, fn_bytes),
                                daemon=True, name="parzen-worker")
        self.proc.start()
        child.close()

    def run(self, tid, point):
        self.conn.send((tid, point))
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.conn.close()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()


class LocalProcessBackend(ThreadedBackend):
    """Run trials in up to `parallelism` local worker processes."""

    def __init__(self, parallelism: int, start_method: str | None = None):
        self.parallelism = parallelism
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "forkserver" if "forkserver" in methods else "spawn"
        self.ctx = multiprocessing.get_context(start_method)
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
            w = _Worker(self.ctx, self.fn_bytes)
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
            w.proc.join()

    def run_one(self, tid, point) -> Outcome:
        w = self._take(tid)
        try:
            reply = w.run(tid, point)
        except (EOFError, OSError):
            w.proc.join(timeout=5)
            self._give_back(tid, w, healthy=False)
            return Outcome(tid, "lost", error=(
                "WorkerLost", "the worker process running trial %s died "
                "(exit code %s)" % (tid, w.proc.exitcode)))
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
