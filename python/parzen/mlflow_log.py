"""The MLflow logging process behind parzen.tracking (never imported by fmin).

Runs as ``python -m parzen.mlflow_log log`` (fed trial events by an fmin
driver on stdin, as length-prefixed pickles) or ``python -m parzen.mlflow_log follow --store ...`` (reads
finished trials from a parzen store, for ``parzen run --mlflow``). It is the
only code that imports MLflow, so a driver pays neither its import (seconds)
nor its per-call cost (tens of milliseconds against a SQLite backend): the
driver writes one JSON line per trial and goes on.

Every child run carries the tag ``parzen.trial_key`` (the search's key and
the trial id). Before logging under an existing parent (a resumed study, a
user's active run) the logger reads the keys already there, so a resume or
a catch-up never logs a trial twice.

Faults: a call that fails (server down, slow, refusing) leaves its trial
pending; the logger warns once, retries with a growing pause (at most
RETRY_MAX_SECS) and, once its input has ended, gives up after
PARZEN_MLFLOW_DRAIN_TIMEOUT seconds (default 120) and reports how many
trials were not logged. Replies to the driver are JSON lines on the
original stdout (stray prints of libraries go to stderr).
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import math
import os
import pickle
import signal
import struct
import sys
import threading
import time

from . import _core

RETRY_FIRST_SECS = 0.5
RETRY_MAX_SECS = 10.0
ERROR_TEXT_MAX = 4000  # the error tag; the whole text goes in error.txt
PARAM_MAX = 500  # longer values are cut (MLflow's limit varies by version)
FOLLOW_POLL_SECS = 0.5
WORK_BATCH = 2  # trials logged between two looks at the input (opens)

STATE_NAMES = {s: _core.trial_state_name(s)
               for s in range(_core.STATE_PRUNED + 1)}  # the C table
RUN_STATUS = {"done": "FINISHED", "error": "FAILED", "cancel": "KILLED"}


class Down(Exception):
    """A call to the tracking server failed; the work stays pending."""


def _now_ms():
    return int(time.time() * 1000)


def _key(name):
    """An MLflow key from a label: letters, digits and _-. /: kept."""
    out = "".join(c if c.isalnum() or c in "_-. /:" else "_" for c in name)
    return out or "_"


def _param_text(v):
    text = v if isinstance(v, str) else json.dumps(v)
    return text if len(text) <= PARAM_MAX else text[:PARAM_MAX - 3] + "..."


def _finite(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v))


class Logger:
    """Logs one search (a parent run and its trials) to one tracking URI."""

    def __init__(self, uri, reply):
        import mlflow
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        self.mlflow = mlflow
        self.Metric, self.Param, self.RunTag = Metric, Param, RunTag
        self.client = MlflowClient(tracking_uri=uri) if uri else MlflowClient()
        self.uri = uri or mlflow.get_tracking_uri()
        self.reply = reply
        self.start_ev = None
        self.end_ev = None
        self.parent = None  # the parent run id, once it exists
        self.own_parent = False  # created here: terminated at the end
        self.experiment = None
        self.done_keys: set = set()  # child runs that exist, complete
        self.opened: dict = {}  # trial key -> run id created ahead
        self.pending: "collections.OrderedDict" = collections.OrderedDict()
        self.n_logged = 0
        self.warned = False
        self.last_error = None
        self.retry_at = 0.0
        self.last_ok = 0.0  # monotonic time of the last call that worked
        self.pause = RETRY_FIRST_SECS
        self.ended = False

    # ------------------------------------------------------ calls
    def call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # any failure of the service: retry later
            self.last_error = "%s: %s" % (type(e).__name__,
                                          str(e).splitlines()[0][:300]
                                          if str(e) else "")
            if not self.warned:
                self.warned = True
                self.reply({"op": "warn", "msg": (
                    "MLflow tracking at %s failed (%s); tuning goes on and "
                    "parzen keeps retrying the trials not yet logged"
                    % (self.uri, self.last_error))})
            raise Down(self.last_error) from e

    # --------------------------------------------------- the parent
    def ensure_parent(self):
        if self.parent is not None:
            return
        ev = self.start_ev
        c = self.client
        parent = ev.get("parent_run_id")
        if parent:
            run = self.call(c.get_run, parent)
            self.experiment = run.info.experiment_id
        else:
            self.experiment = self.experiment_id(ev)
            parent = self.find_parent(ev)
            if parent is None:
                tags = {"parzen.search_key": ev["search_key"]}
                if ev.get("nested_in"):
                    tags["mlflow.parentRunId"] = ev["nested_in"]
                run = self.call(c.create_run, self.experiment,
                                tags=tags, run_name=ev.get("run_name"))
                parent = run.info.run_id
                self.own_parent = True
            else:
                self.own_parent = True
                self.call(c.update_run, parent, status="RUNNING")
        self.read_done_keys(parent)
        self.log_parent_start(parent, ev)
        self.parent = parent
        self.reply({"op": "parent", "run_id": parent})

    def experiment_id(self, ev):
        if ev.get("experiment_id"):
            return ev["experiment_id"]
        name = ev.get("experiment_name")
        if name:
            exp = self.call(self.client.get_experiment_by_name, name)
            if exp is not None:
                return exp.experiment_id
            return self.call(self.client.create_experiment, name)
        return "0"

    def find_parent(self, ev):
        """A resumed search: the parent run its first run created."""
        if not ev.get("resume"):
            return None
        runs = self.call(
            self.client.search_runs, [self.experiment],
            filter_string="tags.`parzen.search_key` = '%s'"
            % ev["search_key"].replace("'", "\\'"),
            max_results=1, order_by=["attributes.start_time ASC"])
        return runs[0].info.run_id if runs else None

    def read_done_keys(self, parent):
        token = None
        while True:
            page = self.call(
                self.client.search_runs, [self.experiment],
                filter_string="tags.mlflow.parentRunId = '%s'" % parent,
                max_results=1000, page_token=token)
            for run in page:
                key = run.data.tags.get("parzen.trial_key")
                if key is None:
                    continue
                if run.info.status == "RUNNING":
                    self.opened.setdefault(key, run.info.run_id)
                else:
                    self.done_keys.add(key)
            token = page.token
            if not token:
                break

    def log_parent_start(self, parent, ev):
        """Params of the search; a value that differs from one logged by
        an earlier run of the same search becomes a tag instead (MLflow
        params never change)."""
        c = self.client
        old = self.call(c.get_run, parent).data.params
        params, tags = [], [self.RunTag("parzen.search_key", ev["search_key"])]
        for k, v in ev.get("params", {}).items():
            text = _param_text(v)
            if k not in old:
                params.append(self.Param(k, text))
            elif old[k] != text:
                tags.append(self.RunTag("parzen." + k, text))
        self.call(c.log_batch, parent, params=params, tags=tags)
        if ev.get("space"):
            self.call(c.log_text, parent, ev["space"], "space.txt")

    # --------------------------------------------------- the trials
    def open(self, ev):
        """Create a trial's run before it starts (its objective logs into
        it). Answers with the run id, or null when the server is down."""
        key = ev["key"]
        run_id = self.opened.get(key)
        if run_id is None and time.monotonic() >= self.retry_at:
            try:
                self.ensure_parent()
                run_id = self.create_trial_run(ev)
            except Down:
                self.back_off()
        self.reply({"op": "opened", "tid": ev["tid"], "run_id": run_id})

    def create_trial_run(self, ev):
        key = ev["key"]
        run = self.call(
            self.client.create_run, self.experiment,
            start_time=ev.get("start_ms"),
            tags={"mlflow.parentRunId": self.parent,
                  "parzen.trial_key": key,
                  "parzen.trial_id": str(ev["tid"])},
            run_name="trial %s" % (ev["tid"],))
        self.opened[key] = run.info.run_id
        return run.info.run_id

    def log_trial(self, ev):
        key = ev["key"]
        if key in self.done_keys:
            return
        run_id = self.opened.get(key) or self.create_trial_run(ev)
        state = ev.get("state", "done")
        metrics = []
        t = ev.get("end_ms") or _now_ms()
        for name, v in (ev.get("metrics") or {}).items():
            if _finite(v):
                metrics.append(self.Metric(_key(name), float(v), t, 0))
        params = [self.Param(_key(k), _param_text(v))
                  for k, v in (ev.get("params") or {}).items()]
        tags = [self.RunTag("parzen.state", state)]
        if ev.get("status") is not None:
            tags.append(self.RunTag("parzen.status", str(ev["status"])))
        err = ev.get("error")
        if err:
            tags.append(self.RunTag("parzen.error", err[:ERROR_TEXT_MAX]))
        c = self.client
        self.call(c.log_batch, run_id, metrics=metrics, params=params,
                  tags=tags)
        if err and len(err) > ERROR_TEXT_MAX:
            self.call(c.log_text, run_id, err, "error.txt")
        for name, data in (ev.get("artifacts") or {}).items():
            self.call(c.log_text if isinstance(data, str) else self.log_bytes,
                      run_id, data if isinstance(data, str)
                      else base64.b64decode(data["b64"]), name)
        self.call(c.set_terminated, run_id, RUN_STATUS.get(state, "FINISHED"),
                  end_time=ev.get("end_ms"))
        self.done_keys.add(key)
        self.opened.pop(key, None)
        self.n_logged += 1

    def log_bytes(self, run_id, data, name):
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, os.path.basename(name) or "attachment")
            with open(path, "wb") as f:
                f.write(data)
            sub = os.path.dirname(name) or None
            self.client.log_artifact(run_id, path, sub)

    # ------------------------------------------------------ the end
    def log_end(self, ev):
        c = self.client
        metrics, tags = [], []
        t = _now_ms()
        for state, n in (ev.get("counts") or {}).items():
            metrics.append(self.Metric("trials_" + state, float(n), t, 0))
        if _finite(ev.get("best_loss")):
            metrics.append(self.Metric("best_loss", float(ev["best_loss"]),
                                       t, 0))
        for k, v in (ev.get("best") or {}).items():
            tags.append(self.RunTag("best." + _key(k), _param_text(v)))
        if ev.get("best_tid") is not None:
            tags.append(self.RunTag("parzen.best_trial", str(ev["best_tid"])))
        self.call(c.log_batch, self.parent, metrics=metrics, tags=tags)
        if ev.get("best") is not None:
            self.call(c.log_dict, self.parent,
                      {"argmin": ev.get("best"), "point": ev.get("best_point"),
                       "loss": ev.get("best_loss"),
                       "trial": ev.get("best_tid")}, "best.json")
        if self.own_parent:
            self.call(c.set_terminated, self.parent, "FINISHED")

    # ------------------------------------------------------ the loop
    def back_off(self):
        self.retry_at = time.monotonic() + self.pause
        self.pause = min(self.pause * 2, RETRY_MAX_SECS)

    def work(self, limit=None):
        """Log up to `limit` pending trials (all by default), then the end
        of the search once nothing is pending; False when the server failed
        (retry after retry_at)."""
        if time.monotonic() < self.retry_at:
            return False
        try:
            self.ensure_parent()
            n = 0
            while self.pending and (limit is None or n < limit):
                n += 1
                key, ev = next(iter(self.pending.items()))
                self.log_trial(ev)
                del self.pending[key]
            if (not self.pending and self.end_ev is not None
                    and not self.ended):
                self.log_end(self.end_ev)
                self.ended = True
        except Down:
            self.back_off()
            return False
        self.pause = RETRY_FIRST_SECS
        self.last_ok = time.monotonic()
        return True

    def gave_up(self, input_ended):
        """After the input ended: True once the server has failed every
        call for PARZEN_MLFLOW_DRAIN_TIMEOUT seconds (a slow server that
        still makes progress is waited for)."""
        since = max(input_ended, self.last_ok)
        return time.monotonic() - since > _drain_timeout()

    def add(self, ev):
        op = ev.get("op")
        if op == "start":
            self.start_ev = ev
        elif op == "trial":
            self.pending[ev["key"]] = ev
        elif op == "end":
            self.end_ev = ev
            self.ended = False
        elif op == "open":
            self.open(ev)

    def summary(self):
        n_left = len(self.pending)
        msg = None
        if n_left or (self.end_ev is not None and not self.ended):
            msg = ("MLflow tracking at %s: %d trial%s not logged (%s)"
                   % (self.uri, n_left, "" if n_left == 1 else "s",
                      self.last_error or "gave up"))
        elif self.warned:
            msg = ("MLflow tracking at %s: caught up, every trial logged"
                   % (self.uri,))
        return {"op": "summary", "logged": self.n_logged,
                "not_logged": n_left, "parent": self.parent, "msg": msg}


def _drain_timeout():
    try:
        return float(os.environ.get("PARZEN_MLFLOW_DRAIN_TIMEOUT", "120"))
    except ValueError:
        return 120.0


# ----------------------------------------------------- 'log' (from fmin)


def _read_exactly(f, n):
    data = b""
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _stdin_reader(inbox, wake):
    """The driver's frames (a length, then a pickled list of events) into
    `inbox`; opens jump the queue (a trial is waiting for its run id).
    None marks the end of the input."""
    f = sys.stdin.buffer
    while True:
        head = _read_exactly(f, 4)
        data = head and _read_exactly(f, struct.unpack("<I", head)[0])
        if data is None:
            break
        try:
            events = pickle.loads(data)
        except Exception:  # a frame cut short by a dying driver
            break
        with wake:
            for ev in events:
                if ev.get("op") == "open":
                    inbox.appendleft(ev)
                else:
                    inbox.append(ev)
            wake.notify()
    with wake:
        inbox.append(None)
        wake.notify()


def read_stdin():
    """Start reading stdin at once (before MLflow's slow import), so the
    driver's writes never fill the pipe."""
    inbox: collections.deque = collections.deque()
    wake = threading.Condition()
    threading.Thread(target=_stdin_reader, args=(inbox, wake),
                     daemon=True).start()
    return inbox, wake


def serve_events(uri, reply, inbox, wake):
    log = Logger(uri, reply)
    eof_at = None
    wait = 0.0
    while True:
        with wake:
            if not inbox and wait > 0:
                wake.wait(wait)
            batch = list(inbox)
            inbox.clear()
        # -- an open jumps the queue, but never ahead of its search's start
        batch.sort(key=lambda ev: ev is None or ev.get("op") != "start")
        for ev in batch:
            if ev is None:
                eof_at = time.monotonic()
            else:
                log.add(ev)
        ok = log.start_ev is None or log.work(WORK_BATCH)
        idle = not log.pending and (log.end_ev is None or log.ended)
        if eof_at is not None and (ok and idle or log.gave_up(eof_at)):
            break
        if not ok:
            wait = max(0.05, log.retry_at - time.monotonic())
        else:
            wait = 0.0 if log.pending else 0.5
    reply(log.summary())


# ------------------------------------------------ 'follow' (parzen run)


def _study_key(path, study, created_at):
    return "store:%s:%s:%.6f" % (os.path.realpath(path), study, created_at)


def _store_events(store, study_key, seen):
    """Trial events for the finished trials of `store` not in `seen`."""
    out = []
    for rec in store.trials():
        if rec["state"] < 2 or rec["id"] in seen:
            continue
        seen.add(rec["id"])
        full = store.get_trial(rec["id"])
        params = json.loads(full.get("params_json") or "{}")
        metrics = {}
        if full.get("loss") is not None:
            metrics["loss"] = full["loss"]
        try:
            result = json.loads(full.get("result_json") or "{}")
        except ValueError:
            result = {}
        if isinstance(result, dict):
            for k, v in result.items():
                if k not in ("loss", "status") and _finite(v):
                    metrics[k] = v
        state = STATE_NAMES.get(full["state"], str(full["state"]))
        start = full.get("started_at")
        end = full.get("finished_at")
        if start and end:
            metrics["duration_s"] = end - start
        artifacts = {}
        for stream in ("stdout", "stderr"):
            data = full.get(stream)
            if data:
                if isinstance(data, bytes):
                    data = data.decode("utf-8", "replace")
                artifacts[stream + ".txt"] = data
        if full.get("point_json"):
            artifacts["point.json"] = full["point_json"]
        out.append({
            "op": "trial", "tid": full["id"],
            "key": "%s/%s" % (study_key, full["id"]),
            "params": params, "metrics": metrics, "state": state,
            "status": full.get("status"), "error": full.get("error"),
            "start_ms": int(start * 1000) if start else None,
            "end_ms": int(end * 1000) if end else None,
            "artifacts": artifacts})
    return out


def _store_end(store):
    counts = {STATE_NAMES[s]: store.count(s) for s in (2, 3, 4)}
    best = store.best()
    ev = {"op": "end", "counts": counts}
    if best is not None:
        ev.update(best_loss=best["loss"], best_tid=best["id"],
                  best=json.loads(best.get("params_json") or "{}"),
                  best_point=json.loads(best.get("point_json") or "null"))
    return ev


def follow_store(args, reply):
    store = _core.Store(args.store, create=False)
    info = store.open_study(args.study)
    key = _study_key(args.store, args.study, info["created_at"])
    log = Logger(args.uri, reply)
    log.add({"op": "start", "search_key": key, "resume": True,
             "experiment_name": args.experiment,
             "run_name": "parzen run %s" % (args.study,),
             "params": {"algorithm": info["sampler"], "seed": info["seed"],
                        "max_evals": args.max_evals,
                        "parallelism": args.parallelism,
                        "study": args.study,
                        "store": os.path.realpath(args.store)},
             "space": info["space_json"]})
    reply({"op": "ready"})
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()  # EOF: the run is over
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    seen: set = set()
    ended_at = None
    while True:
        stop_now = stop.is_set()
        store.sync()
        for ev in _store_events(store, key, seen):
            log.add(ev)
        if stop_now and ended_at is None:
            ended_at = time.monotonic()
            log.add(_store_end(store))
        ok = log.work()
        if ended_at is not None and (
                (ok and not log.pending and log.ended)
                or log.gave_up(ended_at)):
            break
        stop.wait(FOLLOW_POLL_SECS if ok else
                  max(0.05, min(FOLLOW_POLL_SECS,
                                log.retry_at - time.monotonic())))
    store.close()
    reply(log.summary())


# ------------------------------------------------------------- main


def _replier(mode, quiet=False):
    """Replies go to the original stdout; fd 1 becomes stderr so that
    anything a library prints cannot corrupt them. For 'log' they are JSON
    lines for the fmin driver; for 'follow' (the C command line) the first
    line is "ready" or "error: <why>", and warnings and the summary are
    printed on stderr as the command's own messages."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    lock = threading.Lock()

    def write(text):
        with lock:
            try:
                out.write(text + "\n")
                out.flush()
            except (OSError, ValueError):
                pass  # the driver is gone: nobody to tell

    def reply(obj):
        if mode == "log":
            write(json.dumps(obj))
        elif obj["op"] == "ready":
            write("ready")
        elif obj["op"] == "fatal":
            write("error: " + obj["msg"].replace("\n", " "))
        elif obj.get("msg") and not (quiet and obj["op"] == "summary"
                                     and not obj.get("not_logged")):
            sys.stderr.write("parzen: %s\n" % obj["msg"])
            sys.stderr.flush()

    return reply


def _quiet_http():
    # Fail fast and let this loop retry: MLflow's own retries would hold
    # a trial for minutes while the server is down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    # One "View run at" line per trial would flood the user's terminal.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m parzen.mlflow_log",
        description="Log parzen trials to MLflow (see docs/mlflow.md).")
    sub = ap.add_subparsers(dest="mode", required=True)
    lg = sub.add_parser("log", help="log the events of an fmin driver "
                        "(JSON lines on stdin)")
    lg.add_argument("--uri")
    fo = sub.add_parser("follow", help="log the finished trials of a "
                        "parzen store until stdin closes (parzen run "
                        "--mlflow)")
    fo.add_argument("--uri", required=True)
    fo.add_argument("--store", required=True)
    fo.add_argument("--study", default="default")
    fo.add_argument("--experiment")
    fo.add_argument("--max-evals", type=int)
    fo.add_argument("--parallelism", type=int, default=1)
    fo.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    reply = _replier(args.mode, getattr(args, "quiet", False))
    if args.mode == "log":
        inbox, wake = read_stdin()
    # Ctrl-C reaches the whole process group: the logger finishes on EOF.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _quiet_http()
    try:
        import mlflow  # noqa: F401
    except ImportError as e:
        reply({"op": "fatal", "msg": "MLflow is not installed in %s (%s): "
               "pip install 'parzen[mlflow]'" % (sys.executable, e)})
        return 2
    try:
        if args.mode == "log":
            serve_events(args.uri, reply, inbox, wake)
        else:
            follow_store(args, reply)
    except Exception as e:  # a bad store, a bad URI: say it, exit 2
        reply({"op": "fatal", "msg": "%s: %s" % (type(e).__name__, e)})
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
