"""`parzen run --spark MASTER ...`: tune a command with its trials running
as Spark tasks. The C command line hands over to this module
(`python -m parzen.spark_run`) with the same arguments.

The driver reads the space file, asks the C core for points through
SparkTrials (the C sampler --algo names, as without --spark), and runs
the C command protocol of `parzen run` (pz_command_*, through _core):
per trial it builds the argv ({label} placeholders) and the point JSON,
and it reads the outcome from what the command left. Each executor only
runs that argv (point on stdin and in PARZEN_PARAMS, PARZEN_TRIAL_ID,
PARZEN_RESULT_FILE, never a shell) and sends back its exit status, result
file and output as bytes: it needs Python and the command, not parzen. With ``--store FILE``
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
import types

from . import _engine, hp
from .base import JOB_STATE_DONE, Domain


class FileOrder:
    """The run's trials seen in the space file's parameter order (the
    compiled hp graph lists its parameters in another order): a mirror on
    it is a C study on the very space `parzen run` parses, so an ask draws
    the same values from the same stream."""

    exact = True  # points are the values: the mirror is kept per Trials

    def __init__(self, space):
        self.c_space = space  # the C space parsed from the file
        # the mirror's key among the run's mirrors: not the hp graph's
        self.signature = "space file: " + space.to_json()

    def values_for_doc(self, doc):
        return values_of(self.c_space, doc)


def c_sampler(name, space, seed):
    """suggest() by the C sampler `name` with its default options, seeded
    as `parzen run --algo name` seeds its study: trial `tid` draws from the
    stream (seed, tid) of a study on the file's space, whatever seed
    hyperopt's loop passes."""
    on_file = types.SimpleNamespace(compiled=FileOrder(space))

    def suggest(new_ids, domain, trials, _seed):
        new_ids = list(new_ids)
        if not new_ids:
            return []
        mirror = _engine.mirror_for(on_file, trials, name, ())
        values = mirror.propose(new_ids[0], seed)
        at = {label: i for i, label in enumerate(space.labels())}
        compiled = [values[at[p.c_label]] for p in domain.compiled.params]
        return _engine.make_docs(domain, trials, new_ids[:1], [compiled])
    suggest.__name__ = name
    return suggest


#: the --algo names of cli/cmd_run.c, mtpe the default of a new study
ALGOS = ("mtpe", "tpe", "rand", "random", "anneal", "mix")


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


def values_of(space, doc):
    """The C values (one per label of `space`, NaN inactive) of a trial
    document's misc.vals (a choice's value is its index, as in C)."""
    vals = doc["misc"]["vals"]
    return [float(vals[label][0]) if vals.get(label) else math.nan
            for label in space.labels()]


class CommandDomain(Domain):
    """A Domain whose trials are a command. The C command protocol
    (pz_command_*, src/runner_io.c) runs here, on the driver: it builds
    each trial's argv ({label} placeholders) and point JSON, and turns
    what the command left (exit status, result file, output) into the
    outcome, exactly as `parzen run` does for its local processes.
    Executors only run the argv and send the bytes back."""

    def __init__(self, fn, space_doc, space, command):
        super().__init__(fn, space_to_hp(space_doc))
        self.space = space  # the C space parsed from the file
        self.command = list(command)

    def dispatch_point(self, doc):
        argv, point = self.space.command_argv(self.command,
                                              values_of(self.space, doc))
        return {"argv": argv, "point": point, "tid": doc["tid"]}

    def evaluate_async2(self, rval, ctrl, attach_attachments=True):
        from . import _core

        if rval.get("timeout") is not None:  # the runner's own reason
            raise CommandFailed("timed out after %g s" % rval["timeout"])
        if rval.get("spawn_error"):
            raise CommandFailed(rval["spawn_error"])
        o = _core.command_outcome(rval["exit"], rval["signal"],
                                  rval["result"], rval["out"], rval["err"])
        if o["state"] != JOB_STATE_DONE:
            raise CommandFailed(o["error"])
        return json.loads(o["result_json"])


class CommandFailed(Exception):
    """A command trial that ended as ERROR; its message is the C
    protocol's reason ("exit status 3: ...", "killed by signal 9 ...")."""

    pz_trial_error = True  # the driver records str(e), not a traceback


# ------------------------------------------------- the executor objective

# Compiled in a namespace that is not a module, so it is shipped by value:
# executors need Python and the command, not parzen. It only runs the
# argv the driver built and returns what the command left, as bytes; the
# driver reads the outcome from them (CommandDomain.evaluate_async2).
_RUNNER_SOURCE = r'''
def make_runner(trial_timeout, grace_s, output_limit):
    def run_command(job):
        import os, signal, subprocess, tempfile

        def kill_group(pid, sig):
            try:
                os.killpg(pid, sig)
            except OSError:
                pass

        with tempfile.TemporaryDirectory(prefix="parzen-trial-") as d:
            result_file = os.path.join(d, "result")
            point_file = os.path.join(d, "in")
            with open(point_file, "w") as f:
                f.write(job["point"] + "\n")
            env = dict(os.environ, PARZEN_PARAMS=job["point"],
                       PARZEN_TRIAL_ID=str(job["tid"]),
                       PARZEN_RESULT_FILE=result_file)
            try:
                with open(point_file, "rb") as stdin:
                    proc = subprocess.Popen(
                        job["argv"], env=env, stdin=stdin,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        start_new_session=True)
            except OSError as e:
                return {"spawn_error": "cannot start %r: %s"
                        % (job["argv"][0], e.strerror or e)}
            timeout = None
            try:
                out, err = proc.communicate(timeout=trial_timeout)
            except subprocess.TimeoutExpired:
                timeout = trial_timeout
                kill_group(proc.pid, signal.SIGTERM)
                try:
                    out, err = proc.communicate(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    kill_group(proc.pid, signal.SIGKILL)
                    out, err = proc.communicate()
            kill_group(proc.pid, signal.SIGKILL)  # what the command left
            result = None
            if os.path.exists(result_file):
                with open(result_file, "rb") as f:
                    result = f.read(1 << 20)
        code = proc.returncode
        return {"exit": code if code >= 0 else 0,
                "signal": -code if code < 0 else 0, "result": result,
                "out": out[-output_limit:], "err": err[-output_limit:],
                "timeout": timeout}
    return run_command
'''

#: as the C runner (src/runner.c): SIGKILL 5 s after SIGTERM, 64 KiB kept
KILL_GRACE_S = 5.0
OUTPUT_LIMIT = 64 << 10


def make_runner(trial_timeout):
    namespace = {"__name__": "parzen_command_runner"}
    exec(compile(_RUNNER_SOURCE, "<parzen command runner>", "exec"),
         namespace)
    return namespace["make_runner"](trial_timeout, KILL_GRACE_S, OUTPUT_LIMIT)


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
    ap.add_argument("--algo", choices=sorted(ALGOS), default="mtpe")
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
        space = _core.Space.from_json(text.decode("utf-8", "replace"))
    except ValueError as e:  # the C parser's message: path, line, column
        raise UsageError("%s: %s" % (path, e)) from None
    return json.loads(text), space


def run(args):
    from pyspark.sql import SparkSession

    from .early_stop import no_progress_loss
    from .fmin import _run
    from .spark import SparkTrials
    from .store import StoreTrials

    space_doc, space = load_space(args.space)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(args.spark).appName("parzen run")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    objective = make_runner(args.trial_timeout)

    class CommandSparkTrials(SparkTrials):
        def make_domain(self, fn, hp_space):
            return CommandDomain(fn, space_doc, space, args.command)

    trials = CommandSparkTrials(parallelism=args.parallelism,
                                timeout=args.timeout,
                                loss_threshold=args.loss_threshold,
                                spark_session=spark)
    seed = args.seed if args.seed is not None else \
        int.from_bytes(os.urandom(4), "little")
    storage = None
    if args.store is not None:
        storage = StoreTrials(args.store, study=args.study,
                              retry_lost=args.retry_lost, seed=seed,
                              space=space)
        stored = storage.study_seed()  # a stored study keeps its seed
        if stored is not None and args.seed not in (None, stored):
            raise UsageError("study '%s' in '%s' has seed %d, not %d" % (
                args.study, args.store, stored, args.seed))
        seed = seed if stored is None else stored
    algo = c_sampler(args.algo, space, seed)
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
    return report(trials, space, args, seed)


def report(trials, space, args, seed):
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
    point = json.loads(space.point_json(values_of(space, best)))
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
