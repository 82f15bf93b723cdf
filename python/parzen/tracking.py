"""MLflow tracking of fmin: a parent run per search, a child run per trial.

    import mlflow
    with mlflow.start_run():            # an active run turns tracking on
        fmin(fn, space, algo=tpe.suggest, max_evals=100)

    fmin(fn, space, ..., mlflow_tracking=True)       # asked for explicitly
    fmin(fn, space, ..., mlflow_tracking="http://127.0.0.1:5000")
    PARZEN_MLFLOW_TRACKING=0 python train.py         # the off switch

The parent run (the active run, or a new one) gets the algorithm,
max_evals, parallelism and a description of the space as params, the space
as ``space.txt``, and at the end the trial counts by state, ``best_loss``,
the best parameters (``best.<label>`` tags) and ``best.json`` (labels and
``space_eval`` values). Each trial is a child run: params by label (stored
values, as fmin's argmin), metrics ``loss``, ``duration_s`` and every other
finite number of the result dict, tags ``parzen.state``,
``parzen.status``, ``parzen.error``, small trial attachments as artifacts.

The objective can log into its own trial's run: ``trial_run_id()`` in the
objective (in-process trials), or the environment variable
``PARZEN_MLFLOW_RUN_ID`` (ParallelTrials workers, Spark executors).

This module never imports MLflow: a separate logging process does
(``parzen.mlflow_log``), fed the trials' outcomes through a pipe, so
the driver pays neither MLflow's import nor its per-call latency, and a
tracking server that is down, slow or refusing never fails or stalls the
search. fmin returns when the search is done; the logger finishes on its
own (``wait()`` blocks until it has; an exiting interpreter waits up to
``PARZEN_MLFLOW_EXIT_TIMEOUT`` seconds, default 30, then leaves it to
finish alone). See docs/mlflow.md.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import importlib.util
import itertools
import json
import logging
import math
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import uuid

from . import _core

__all__ = ["trial_run_id", "wait", "ENV_RUN_ID", "ENV_SWITCH"]

logger = logging.getLogger("parzen.tracking")

ENV_SWITCH = "PARZEN_MLFLOW_TRACKING"  # 0/false/off: never; 1/true/on: always
ENV_RUN_ID = "PARZEN_MLFLOW_RUN_ID"  # the trial's run id, in workers
ATTACHMENT_MAX = 1 << 20  # larger trial attachments are not logged
FLUSH_SECS = 0.02  # how often the writer thread ships queued events

_STATES = {s: _core.trial_state_name(s)
           for s in range(_core.STATE_PRUNED + 1)}  # the C table
_OFF = ("0", "false", "off", "no")
_ON = ("1", "true", "on", "yes")

_local = threading.local()  # .trial: (tracker, doc) while fn runs in-process
_live: list = []  # trackers whose logger may still be working
_live_lock = threading.Lock()


def trial_run_id(timeout=None):
    """The MLflow run id of the running trial, or None (tracking off, or
    the tracking server unreachable).

    In an objective that runs in the fmin process (Trials, StoreTrials) the
    trial's run is created on first call; in ParallelTrials workers and on
    Spark executors it is read from ``$PARZEN_MLFLOW_RUN_ID``. Log into it
    with ``mlflow.MlflowClient().log_metric(trial_run_id(), ...)`` or
    ``mlflow.start_run(run_id=trial_run_id())``.
    """
    current = getattr(_local, "trial", None)
    if current is not None:
        tracker, doc = current
        return tracker.open_run(doc["tid"], timeout)
    return os.environ.get(ENV_RUN_ID) or None


def wait(timeout=None):
    """Wait until every logging process has finished (or `timeout`
    seconds passed). Returns the last search's summary: a dict with
    ``logged``, ``not_logged``, ``parent`` (run id) and ``msg``, or None."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with _live_lock:
        trackers = list(_live)
    last = None
    for t in trackers:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        s = t.join(left)
        if s is not None:
            last = s
    return last if last is not None or not trackers else trackers[-1].summary


# ------------------------------------------------------- the switch


def _env_switch():
    v = os.environ.get(ENV_SWITCH, "").strip().lower()
    return False if v in _OFF else True if v in _ON else None


def _settings(setting):
    """Where to log, or None for no tracking. ``setting`` is fmin's
    ``mlflow_tracking``: None (on when MLflow is imported and a run is
    active), True, False, or a tracking URI."""
    env = _env_switch()
    if env is False or setting is False:
        return None
    explicit = setting is not None and setting is not False
    if setting is None and env:
        setting, explicit = True, True
    mlflow = sys.modules.get("mlflow")  # a run can be active only then
    active = None
    if mlflow is not None:
        try:
            active = mlflow.active_run()
        except Exception:  # a broken MLflow must not fail fmin
            active = None
    if not explicit and active is None:
        return None
    if explicit and mlflow is None and not _mlflow_installed():
        raise ImportError(
            "mlflow_tracking=%r but MLflow is not installed: "
            "pip install 'parzen[mlflow]'" % (setting,))
    cfg = {"uri": setting if isinstance(setting, str) else None}
    if mlflow is not None:
        try:
            current_uri = mlflow.get_tracking_uri()
        except Exception:
            current_uri = None
        if cfg["uri"] is None:
            cfg["uri"] = current_uri
        if active is not None and cfg["uri"] == current_uri:
            cfg["parent_run_id"] = active.info.run_id
        elif active is None and cfg["uri"] == current_uri:
            cfg["experiment_id"] = _current_experiment(mlflow)
    return cfg


def _mlflow_installed():
    return importlib.util.find_spec("mlflow") is not None


def _current_experiment(mlflow):
    """The experiment mlflow.set_experiment chose in this process."""
    try:
        from mlflow.tracking.fluent import _get_experiment_id

        return _get_experiment_id()
    except Exception:
        return None


def observer(setting, trials):
    """The observer of an fmin run (parzen._driver's protocol), or None
    when tracking is off."""
    cfg = _settings(setting)
    return None if cfg is None else Tracker(cfg, trials)


# ------------------------------------------------- building events


def _jsonable(x):
    """numpy scalars and arrays, and anything else json cannot write."""
    item = getattr(x, "item", None)
    if item is not None:
        try:
            return x.item() if getattr(x, "ndim", 0) == 0 else x.tolist()
        except Exception:
            pass
    if isinstance(x, (set, tuple)):
        return list(x)
    return repr(x)


_EPOCH = datetime.datetime(1970, 1, 1)
_MS = datetime.timedelta(milliseconds=1)


def _ms(dt):
    """Unix milliseconds of a naive UTC datetime (trial docs' times)."""
    return None if dt is None else (dt - _EPOCH) // _MS


def _frame(events):
    """Events as one length-prefixed pickle: floats travel as 8 bytes
    (formatting them as JSON text cost more than the rest of the hook).
    Only the logging process, started by this one, reads it."""
    try:
        data = pickle.dumps(events, protocol=4)
    except Exception:  # an exotic value: its JSON-able form instead
        data = pickle.dumps(json.loads(json.dumps(events, default=_jsonable)),
                            protocol=4)
    return struct.pack("<I", len(data)) + data


def _number(v):
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _algo_name(algo):
    fn = getattr(algo, "func", algo)  # functools.partial
    mod = getattr(fn, "__module__", "") or ""
    name = getattr(fn, "__name__", type(fn).__name__)
    return "%s.%s" % (mod.rsplit(".", 1)[-1], name) if mod else name


def _space_text(domain):
    try:
        return domain.compiled.c_space.to_json()
    except Exception:  # a space the C core cannot represent
        return str(domain.expr)


def _space_summary(domain):
    parts = []
    for label, node in getattr(domain, "params", {}).items():
        parts.append("%s: %s" % (label, getattr(node, "name", "?")))
    return ", ".join(parts)


def _search_key(trials):
    store = getattr(trials, "store", None)
    if store is not None and hasattr(trials, "study"):
        try:
            from .mlflow_log import _study_key

            info = store.info()
            return _study_key(trials.path, trials.study, info["created_at"])
        except Exception:
            pass
    key = getattr(trials, "_pz_mlflow_key", None)
    if key is None:
        key = "trials:" + uuid.uuid4().hex
        try:
            trials._pz_mlflow_key = key
        except AttributeError:
            pass
    return key


# ------------------------------------------------------- the tracker


# The logger stays in the driver's session: with autogroup scheduling a
# session of its own would compete with the search as an equal, whatever
# its nice value. It ignores Ctrl-C (and finishes on EOF) instead.
_LOGGER_MAIN = ("import os, signal\n"
                "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "try:\n"
                "    os.nice(19)\n"
                "except (AttributeError, OSError):\n"
                "    pass\n"
                "from parzen.mlflow_log import main\n"
                "raise SystemExit(main())\n")


class Tracker:
    """Tracking on: turns the loop's hooks into events for the logging
    process. Driver thread only, except open_run (any trial thread)."""

    enabled = True

    def __init__(self, cfg, trials):
        self.cfg = cfg
        self.trials = trials
        self.key = _search_key(trials)
        self.proc = None
        self.queue: list = []  # events not yet written
        self.qlock = threading.Lock()
        self.wake = threading.Event()
        self.cond = threading.Condition()
        self.opened: dict = {}  # tid -> run id or None
        self.parent = cfg.get("parent_run_id")
        self.summary = None
        self.dead = False
        self.n_sent = 0
        self.att_pos = 0
        self.closed = False

    # ---------------------------------------------- the process
    def start_process(self):
        # -- lowest CPU priority before the first import (parzen, MLflow)
        cmd = [sys.executable, "-c", _LOGGER_MAIN, "log"]
        if self.cfg.get("uri"):
            cmd += ["--uri", self.cfg["uri"]]
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as e:
            self.dead = True
            logger.warning("MLflow tracking is off: cannot start %s: %s",
                           cmd[0], e)
            return
        with _live_lock:
            _live.append(self)
        threading.Thread(target=self.read_replies, daemon=True,
                         name="parzen-mlflow-replies").start()
        threading.Thread(target=self.write_events, daemon=True,
                         name="parzen-mlflow-events").start()

    def send(self, ev, now=False):
        if self.dead or self.closed:
            return
        with self.qlock:
            self.queue.append(ev)
        self.n_sent += ev.get("op") == "trial"
        if now:
            self.wake.set()

    def write_events(self):
        """Ship queued events every FLUSH_SECS (or at once when asked), so
        the driver never waits on the pipe."""
        stdin = self.proc.stdin
        while True:
            self.wake.wait(FLUSH_SECS)
            self.wake.clear()
            with self.qlock:
                events, self.queue = self.queue, []
                closing = self.closed
            if events:
                try:
                    stdin.write(_frame(events))
                    stdin.flush()
                except (OSError, ValueError):
                    self.dead = True
                    return
            if closing:
                try:
                    stdin.close()
                except OSError:
                    pass
                return

    def read_replies(self):
        for raw in self.proc.stdout:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            op = msg.get("op")
            if op == "parent":
                self.parent = msg["run_id"]
            elif op == "opened":
                with self.cond:
                    self.opened[msg["tid"]] = msg.get("run_id")
                    self.cond.notify_all()
            elif op == "warn":
                logger.warning("%s", msg["msg"])
            elif op == "fatal":
                logger.warning("MLflow tracking is off: %s", msg["msg"])
            elif op == "summary":
                self.summary = msg
                if msg.get("not_logged"):
                    logger.warning("%s", msg["msg"])
                elif msg.get("msg"):
                    logger.info("%s", msg["msg"])
        self.proc.wait()
        self.dead = True
        with self.cond:
            self.cond.notify_all()

    def join(self, timeout=None):
        """Wait for the logging process to exit; its summary or None."""
        if self.proc is None:
            return self.summary
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        with _live_lock:
            if self in _live:
                _live.remove(self)
        return self.summary

    # --------------------------------------------------- hooks
    # parzen._driver calls these on the driver thread (Run.notify).

    def on_run_start(self, run):
        self.start_process()
        cfg = self.cfg
        domain = run.domain
        self.send({
            "op": "start", "search_key": self.key, "resume": True,
            "parent_run_id": cfg.get("parent_run_id"),
            "experiment_id": cfg.get("experiment_id"),
            "experiment_name": os.environ.get("MLFLOW_EXPERIMENT_NAME"),
            "run_name": "parzen fmin",
            "params": {
                "algorithm": _algo_name(run.algo),
                "max_evals": None if run.max_evals in (None, sys.maxsize)
                else run.max_evals,
                "parallelism": run.executor.parallelism,
                "trials_class": type(run.trials).__name__,
                "space": _space_summary(domain),
            },
            "space": _space_text(domain)}, now=True)

    def on_trial_start(self, run, doc):
        # -- the inline executor evaluates in this thread, between this
        # hook and on_trial_end: trial_run_id() finds the trial here
        if run.executor.evaluates_documents:
            _local.trial = (self, doc)

    def on_trial_end(self, run, doc):
        _local.trial = None
        misc = doc["misc"]
        result = doc.get("result") or {}
        metrics = {}
        if isinstance(result, dict):
            for k, v in result.items():
                if k != "status":
                    f = _number(v)
                    if f is not None:
                        metrics[k] = f
        start, end = _ms(doc.get("book_time")), _ms(doc.get("refresh_time"))
        if start is not None and end is not None:
            metrics["duration_s"] = (end - start) / 1000.0
        err = misc.get("error")
        ev = {"op": "trial", "tid": doc["tid"],
              "key": "%s/%s" % (self.key, doc["tid"]),
              "params": {k: v[0] for k, v in misc["vals"].items() if v},
              "metrics": metrics, "state": _STATES.get(doc["state"], "?"),
              "status": result.get("status") if isinstance(result, dict)
              else None,
              "error": "%s: %s" % tuple(err) if err and len(err) == 2
              else (str(err) if err else None),
              "start_ms": start, "end_ms": end}
        curve = result.get("intermediate_values") \
            if isinstance(result, dict) else None
        if curve:  # fmin(pruner=...): the reports, a metric with steps
            ev["curve"] = [[int(st), float(v)] for st, v in curve]
        att = self.attachments(doc)
        if att:
            ev["artifacts"] = att
        self.send(ev)

    def on_run_end(self, run, reason=None, error=None):
        _local.trial = None
        trials = run.trials
        ev = {"op": "end", "counts": {}}
        try:
            counts = dict.fromkeys(("done", "error", "cancel"), 0)
            for d in trials._dynamic_trials:
                name = _STATES.get(d["state"])
                if name in counts:
                    counts[name] += 1
            ev["counts"] = counts
            best = trials.best_trial
            ev["best_tid"] = best["tid"]
            ev["best_loss"] = _number(best["result"].get("loss"))
            ev["best"] = argmin = trials.argmin
            from .fmin import space_eval

            ev["best_point"] = json.loads(json.dumps(
                space_eval(run.domain.expr, argmin), default=_jsonable))
        except Exception:  # no successful trial, or a space_eval failure
            pass
        self.send(ev, now=True)
        with self.qlock:
            self.closed = True
        self.wake.set()

    def wrap_backend(self, executor):
        """The executor of ParallelTrials / SparkTrials, whose trials then
        see their run id in $PARZEN_MLFLOW_RUN_ID."""
        if executor.evaluates_documents:
            return executor
        return _RunIdBackend(executor, self)

    # --------------------------------------------------- run ids
    def open_run(self, tid, timeout=None):
        """Create trial `tid`'s run now (the objective logs into it);
        blocks the calling thread only, at most `timeout` seconds
        (default $PARZEN_MLFLOW_OPEN_TIMEOUT or 30)."""
        with self.cond:
            if tid in self.opened:
                return self.opened[tid]
        if self.dead:
            return None
        if timeout is None:
            timeout = float(os.environ.get("PARZEN_MLFLOW_OPEN_TIMEOUT", "30"))
        self.send({"op": "open", "tid": tid, "key": "%s/%s" % (self.key, tid),
                   "start_ms": int(time.time() * 1000)}, now=True)
        deadline = time.monotonic() + timeout
        with self.cond:
            while tid not in self.opened and not self.dead:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return self.opened.get(tid)

    def attachments(self, doc):
        """Small attachments of this trial (base.Trials' ATTACH::tid::name
        entries), as artifacts."""
        store = getattr(self.trials, "attachments", None)
        if not store:
            return None
        try:
            n = len(store)
            new = list(itertools.islice(iter(store), self.att_pos, n))
            self.att_pos = n
        except Exception:
            return None
        prefix = "ATTACH::%s::" % (doc["tid"],)
        out = {}
        for k in new:
            if not isinstance(k, str) or not k.startswith(prefix):
                continue
            v = store[k]
            name = k[len(prefix):] or "attachment"
            if isinstance(v, str) and len(v) <= ATTACHMENT_MAX:
                out[name] = v
            elif isinstance(v, (bytes, bytearray)) and len(v) <= ATTACHMENT_MAX:
                out[name] = {"b64": base64.b64encode(bytes(v)).decode()}
        return out


# ------------------------------------------ run ids on the workers

_ENV_SOURCE = '''
def with_run_env(fn, name):
    def call(arg):
        import os
        run_id, point = arg
        old = os.environ.get(name)
        if run_id:
            os.environ[name] = run_id
        else:
            os.environ.pop(name, None)
        try:
            return fn(point)
        finally:
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
    return call
'''


def _compile_env_wrapper():
    # Not an importable module: cloudpickle ships it by value, so workers
    # and executors need no parzen.
    ns = {"__name__": "parzen_tracking_env"}
    exec(compile(_ENV_SOURCE, "<parzen tracking env>", "exec"), ns)
    return ns["with_run_env"]


_with_run_env = _compile_env_wrapper()


class _RunIdBackend:
    """An executor (parzen._driver.Executor) whose trials see their run id
    in $PARZEN_MLFLOW_RUN_ID. The run is created in a thread of the
    trial's own, so the driver thread never waits for the tracking
    server. Everything else is the wrapped executor's."""

    evaluates_documents = False

    def __init__(self, inner, tracker):
        self.inner = inner
        self.tracker = tracker
        self.lock = threading.Lock()
        self.cancelled: set = set()

    def __getattr__(self, name):  # parallelism, can_cancel, ...
        return getattr(self.inner, name)

    def start(self, fn):
        self.inner.start(_with_run_env(fn, ENV_RUN_ID))

    def submit(self, tid, point, report):
        def go():
            try:
                run_id = self.tracker.open_run(tid)
            except Exception:
                run_id = None
            with self.lock:  # cancel() waits: no trial starts cancelled
                cancelled = tid in self.cancelled
                if not cancelled:
                    self.inner.submit(tid, (run_id, point), report)
            if cancelled:
                from ._driver import Outcome

                report(Outcome(tid, "lost", error=(
                    "cancelled", "cancelled before it started")))

        threading.Thread(target=go, daemon=True,
                         name="parzen-mlflow-open-%s" % (tid,)).start()

    def cancel(self, tid):
        with self.lock:
            self.cancelled.add(tid)
        self.inner.cancel(tid)

    def cancel_all(self, tids):
        with self.lock:
            self.cancelled.update(tids)
        self.inner.cancel_all(tids)

    def close(self):
        self.inner.close()


@atexit.register
def _wait_at_exit():
    with _live_lock:
        if not _live:
            return
    try:
        limit = float(os.environ.get("PARZEN_MLFLOW_EXIT_TIMEOUT", "30"))
    except ValueError:
        limit = 30.0
    wait(limit)

