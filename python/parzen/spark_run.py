"""`parzen run --spark MASTER ...`: tune a command with its trials running
as Spark tasks. The C command line hands over to this module
(`python -m parzen.spark_run`) with the same arguments.

The driver reads the space file, asks the C core for points through
SparkTrials and builds, per trial, the point JSON and the {label} values;
each executor runs the command with the objective protocol of
docs/cli.md (point on stdin and in PARZEN_PARAMS, PARZEN_TRIAL_ID,
PARZEN_RESULT_FILE, {label} placeholders, never a shell) and reports the
result. The command must exist on every executor. With ``--store FILE``
(``--study``, ``--retry-lost``) the run is durable as ``parzen run`` is:
each trial's start and outcome are committed to the store as they happen,
and running the same line again after the driver died (even by SIGKILL)
resumes the study: trials that were running are marked lost (CANCEL) and
do not count, so the study ends with exactly ``--max-evals`` evaluated
trials.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from . import anneal, hp, mix, rand, tpe
from .base import Domain

ALGOS = {"tpe": tpe.suggest, "rand": rand.suggest, "random": rand.suggest,
         "anneal": anneal.suggest}

class UsageError(Exception):
    pass


# ------------------------------------------------------------ the space


def _is_param(node):
    return isinstance(node, dict) and "hp" in node


def _label(node, key):
    label = node.get("label", key)
    if label is None:
        raise UsageError("a parameter that is not the value of an object key "
                         "needs a 'label'")
    return label


def space_to_hp(node, key=None):
    """The JSON form of a space (docs/space-format.md, already validated
    by the C parser) as an hp graph for the algorithms."""
    if _is_param(node):
        kind = node["hp"]
        if kind == "const":
            return node["value"]
        label = _label(node, key)
        if kind == "choice":
            return hp.choice(label, [space_to_hp(o) for o in node["options"]])
        if kind == "pchoice":
            return hp.pchoice(label, [(p, space_to_hp(o))
                                      for p, o in node["options"]])
        if kind == "randint" and "upper" in node:
            return hp.randint(label, node["upper"])
        args = [node[k] for k in ("low", "high", "mu", "sigma", "q")
                if k in node]
        return getattr(hp, kind)(label, *args)
    if isinstance(node, dict):
        return {k: space_to_hp(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [space_to_hp(v) for v in node]
    return node


def build_point(node, spec, labels, key=None):
    """The user's nested point for stored values `spec` (label -> value),
    filling `labels` with the value each active label takes in it."""
    if _is_param(node):
        if node["hp"] == "const":
            return node["value"]
        label = _label(node, key)
        value = spec[label]
        if node["hp"] in ("choice", "pchoice"):
            option = node["options"][int(value)]
            if node["hp"] == "pchoice":
                option = option[1]
            value = build_point(option, spec, labels)
        elif node["hp"] in ("randint", "uniformint"):
            value = int(value)
        else:
            value = float(value)
        labels[label] = value
        return value
    if isinstance(node, dict):
        return {k: build_point(v, spec, labels, k) for k, v in node.items()}
    if isinstance(node, list):
        return [build_point(v, spec, labels) for v in node]
    return node


class CommandDomain(Domain):
    """A Domain whose workers get {"point", "labels", "tid"} built from the
    JSON template, not the evaluated hp graph."""

    def __init__(self, fn, space_doc):
        super().__init__(fn, space_to_hp(space_doc))
        self.space_doc = space_doc

    def dispatch_point(self, doc):
        spec = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
        labels = {}
        point = build_point(self.space_doc, spec, labels)
        return {"point": point, "labels": labels, "tid": doc["tid"]}


# ------------------------------------------------- the executor objective

# Compiled in a namespace that is not a module, so it is shipped by value:
# executors need Python and the command, not parzen.
_OBJECTIVE_SOURCE = r'''
def make_objective(argv, trial_timeout):
    def objective(job):
        import json, math, os, re, signal, subprocess, tempfile
        point_json = json.dumps(job["point"], separators=(",", ":"))

        def text(v):
            if isinstance(v, str):
                return v
            if isinstance(v, (dict, list)):
                return json.dumps(v, separators=(",", ":"))
            return repr(v) if isinstance(v, float) else str(v)

        def fill(arg):
            return re.sub(r"\{([^{}]+)\}", lambda m: text(job["labels"][m.group(1)])
                          if m.group(1) in job["labels"] else m.group(0), arg)

        with tempfile.TemporaryDirectory(prefix="parzen-trial-") as d:
            result_file = os.path.join(d, "result")
            env = dict(os.environ, PARZEN_PARAMS=point_json,
                       PARZEN_TRIAL_ID=str(job["tid"]),
                       PARZEN_RESULT_FILE=result_file)
            proc = subprocess.Popen([fill(a) for a in argv], env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
            try:
                out, err = proc.communicate(point_json + "\n",
                                            timeout=trial_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise RuntimeError("trial timeout (%gs) expired" % trial_timeout)
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
            if proc.returncode != 0:
                last = (err.strip().splitlines() or [""])[-1]
                raise RuntimeError("exit status %d: %s" % (proc.returncode, last)
                                   if proc.returncode > 0 else
                                   "killed by signal %d" % -proc.returncode)
            raw = ""
            if os.path.exists(result_file):
                raw = open(result_file).read().strip()
            if not raw:
                lines = [l for l in out.splitlines() if l.strip()]
                raw = lines[-1].strip() if lines else ""
        if not raw:
            raise RuntimeError("no result")
        try:
            value = json.loads(raw)
        except ValueError:
            raise RuntimeError("unparsable result %r" % raw[:200])
        if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
            raise RuntimeError("unparsable result %r" % raw[:200])
        if not isinstance(value, dict):
            value = {"loss": value}
        value.setdefault("status", "ok")
        loss = value.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise RuntimeError("the loss is not a finite number: %r" % loss)
        return value
    return objective
'''


def make_objective(argv, trial_timeout):
    namespace = {"__name__": "parzen_command_objective"}
    exec(compile(_OBJECTIVE_SOURCE, "<parzen command objective>", "exec"),
         namespace)
    return namespace["make_objective"](list(argv), trial_timeout)


# ------------------------------------------------------------- arguments


def positive(kind):
    def parse(text):
        v = kind(text)
        if not v > 0:
            raise argparse.ArgumentTypeError("must be > 0, got %s" % text)
        return v
    return parse


def parse_args(argv):
    if "--" not in argv:
        raise UsageError("run: missing '-- COMMAND [ARGS...]' after the "
                         "options")
    cut = argv.index("--")
    opts, command = argv[:cut], argv[cut + 1:]
    ap = argparse.ArgumentParser(prog="parzen run --spark", add_help=False)
    ap.add_argument("space")
    ap.add_argument("--spark", required=True)
    ap.add_argument("--max-evals", type=positive(int), required=True)
    ap.add_argument("--parallelism", type=positive(int))
    ap.add_argument("--algo", choices=sorted(ALGOS) + ["mix"], default="tpe")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--timeout", type=positive(float))
    ap.add_argument("--trial-timeout", type=positive(float))
    ap.add_argument("--loss-threshold", type=float)
    # --no-progress: the deprecated spelling (the C command line warned)
    ap.add_argument("--patience", "--no-progress", dest="patience",
                    type=positive(int))
    ap.add_argument("--store")
    ap.add_argument("--study", default="default")
    ap.add_argument("--retry-lost", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mlflow")  # a tracking URI (parzen.tracking)
    ap.error = lambda msg: (_ for _ in ()).throw(UsageError("run: " + msg))
    args = ap.parse_args(opts)
    if not command:
        raise UsageError("run: missing '-- COMMAND [ARGS...]' after the "
                         "options")
    if args.store is None and (args.study != "default" or args.retry_lost):
        raise UsageError("run: --study and --retry-lost need --store FILE")
    args.command = command
    return args


def load_space(path):
    from . import _core

    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise UsageError("%s: %s" % (path, e.strerror)) from None
    try:
        _core.Space.from_json(text.decode("utf-8", "replace"))
    except ValueError as e:  # the C parser's message: path, line, column
        raise UsageError("%s: %s" % (path, e)) from None
    return json.loads(text)


def run(args):
    from pyspark.sql import SparkSession

    from .early_stop import no_progress_loss
    from .fmin import _run
    from .spark import SparkTrials
    from .store import StoreTrials

    space_doc = load_space(args.space)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(args.spark).appName("parzen run")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    objective = make_objective(args.command, args.trial_timeout)

    class CommandSparkTrials(SparkTrials):
        def make_domain(self, fn, space):
            return CommandDomain(fn, space_doc)

    trials = CommandSparkTrials(parallelism=args.parallelism,
                                timeout=args.timeout,
                                loss_threshold=args.loss_threshold,
                                spark_session=spark)
    algo = ALGOS.get(args.algo) or mix.suggest
    seed = args.seed if args.seed is not None else \
        int.from_bytes(os.urandom(4), "little")
    storage = None
    if args.store is not None:
        storage = StoreTrials(args.store, study=args.study,
                              retry_lost=args.retry_lost)
    try:
        timeout, loss_threshold = trials._merge_limits(None, None)
        _run(objective, space_to_hp(space_doc), algo=algo,
             max_evals=args.max_evals, timeout=timeout,
             loss_threshold=loss_threshold, trials=trials, rstate=seed,
             pass_expr_memo_ctrl=None, catch_eval_exceptions=True,
             verbose=True, return_argmin=False, points_to_evaluate=None,
             max_queue_len=1, front=trials, storage=storage,
             show_progressbar=not args.quiet and sys.stderr.isatty(),
             early_stop_fn=no_progress_loss(args.patience)
             if args.patience else None, trials_save_file="",
             mlflow_tracking=args.mlflow or None)
        if args.mlflow:
            from . import tracking

            tracking.wait()  # as the C runner does: the last trials logged
    finally:
        try:
            if storage is not None:
                storage.close()
        finally:
            spark.stop()
    return report(trials, space_doc, args, seed)


def report(trials, space_doc, args, seed):
    ok = [t for t in trials.trials if t["result"].get("status") == "ok"
          and t["result"].get("loss") is not None
          and not math.isnan(float(t["result"]["loss"]))]
    if not args.quiet:
        print("parzen: %d done, %d failed, %d canceled on %s (seed %d)" % (
            trials.count_successful_trials(), trials.count_failed_trials(),
            trials.count_cancelled_trials(), args.spark, seed),
            file=sys.stderr)
    if not ok:
        raise RuntimeError("no trial finished with a loss")
    best = min(ok, key=lambda t: float(t["result"]["loss"]))
    spec = {k: v[0] for k, v in best["misc"]["vals"].items() if v}
    labels = {}
    point = build_point(space_doc, spec, labels)
    print(json.dumps({"id": best["tid"], "loss": best["result"]["loss"],
                      "point": point, "params": spec}))
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        argv = argv[1:]
    try:
        return run(parse_args(argv))
    except UsageError as e:
        print("parzen: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line, as the C command line does
        print("parzen: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
