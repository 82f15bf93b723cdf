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
trials. With ``--pruner`` the executors' runner also follows the command's
PARZEN_REPORT_FILE and sends each report to the run's listener
(parzen._pruning.ReportServer); the C pruner decides on the driver, as for
fmin(pruner=...), and the runner stops a pruned command's process group.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import types

from . import _engine, hp
from . import pruners as _pruners
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


def sampler_name(space, algo):
    """The C sampler's own name for --algo `algo` ("rand" is "random"), as
    a study stores it."""
    from . import _core

    study = _core.Study(space)
    study.set_sampler(algo)
    return study.sampler


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

        if rval.get("error") is not None:  # a bad report line (--pruner)
            raise CommandFailed(rval["error"])
        if rval.get("timeout") is not None:  # the runner's own reason
            raise CommandFailed("timed out after %g s" % rval["timeout"])
        if rval.get("spawn_error"):
            raise CommandFailed(rval["spawn_error"])
        o = _core.command_outcome(rval["exit"], rval["signal"],
                                  rval["result"], rval["out"], rval["err"])
        if o["state"] != JOB_STATE_DONE:
            raise CommandFailed(o["error"])
        return json.loads(o["result_json"])

    def pruned_verdict(self, rval):
        """Was this trial stopped by the pruner (parzen._pruning asks)? Only
        if the runner stopped the command for it: a stop answered to the
        reports read at the command's exit changes nothing, as in the C
        runner. The runner's bytes are not a result: a pruned trial's
        result is made of its reports alone."""
        return isinstance(rval, dict) and rval.get("pruned") is not None


class CommandFailed(Exception):
    """A command trial that ended as ERROR; its message is the C
    protocol's reason ("exit status 3: ...", "killed by signal 9 ...")."""

    pz_trial_error = True  # the driver records str(e), not a traceback


# ------------------------------------------------- the executor objective

# Compiled in a namespace that is not a module, so it is shipped by value:
# executors need Python and the command, not parzen. It only runs the
# argv the driver built and returns what the command left, as bytes; the
# driver reads the outcome from them (CommandDomain.evaluate_async2).
#
# With --pruner (``report`` = the driver's report listener: host, port,
# secret) it also follows the command's PARZEN_REPORT_FILE as the C runner
# does (src/runner_reports.c): every REPORT_POLL_S it reads the complete
# "STEP VALUE" lines appended so far, sends each to the driver (the
# parzen._pruning.ReportServer protocol: JSON lines, the secret first),
# where the C pruner of the run decides, and stops the command's process
# group when told to. A malformed line or a step that does not increase
# ends the trial with the line named; lines written after a stop are not
# read. At the command's exit the rest is read and reported, but a "stop"
# then changes nothing (the trial is done), as in the C runner.
_RUNNER_SOURCE = r"""
def make_runner(trial_timeout, grace_s, output_limit, report=None,
                poll_s=0.05, line_max=256):
    import math, re

    step_re = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")

    def parse_line(line):
        # strtoll + strtod, as parse_line in src/runner_reports.c
        m = step_re.match(line)
        if m is None or m.end() >= len(line) or line[m.end()] not in " \t":
            return None
        step = int(m.group(0))
        rest = line[m.end():].rstrip(" \t\r")
        if not 0 <= step < 1 << 63 or "_" in rest:
            return None
        try:
            return step, float(rest)
        except ValueError:
            pass
        if rest.lstrip(" \t+-")[:2] in ("0x", "0X"):  # strtod's hex
            try:
                return step, float.fromhex(rest)
            except ValueError:
                pass
        return None

    class Channel:
        # One connection to the driver's report listener, at the first line.
        def __init__(self, tid):
            self.tid, self.sock, self.rfile = tid, None, None

        def send(self, step, value):
            # True: stop; False: go on; a str: the driver's error
            import json, socket
            host, port, token = report
            if self.sock is None:
                try:
                    self.sock = socket.create_connection((host, port),
                                                         timeout=30)
                except OSError as e:
                    return ("cannot reach the driver's report listener at "
                            "%s:%d (%s); set --report-address to an address "
                            "the executors reach" % (host, port, e))
                self.sock.settimeout(300)
                self.rfile = self.sock.makefile("rb")
                self.line({"token": token, "tid": self.tid})
            try:
                self.line({"step": step, "value": value})
                reply = self.rfile.readline()
            except OSError as e:
                return "lost the driver's report listener (%s)" % (e,)
            if not reply:
                return True  # the run ended: stop
            msg = json.loads(reply)
            return msg["error"] if "error" in msg else bool(msg["prune"])

        def line(self, obj):
            import json
            self.sock.sendall(json.dumps(obj).encode() + b"\n")

        def close(self):
            if self.sock is not None:
                try:
                    self.sock.close()
                except OSError:
                    pass

    class Reports:
        # The report file of one trial, read as the C runner reads it.
        def __init__(self, path, tid):
            self.path, self.tid = path, tid
            self.pos, self.buf, self.lineno = 0, b"", 0
            self.last_step = None
            self.stop = None  # ("pruned", step) or ("error", message)
            self.channel = Channel(tid)

        def bad(self, text, why):
            self.stop = ("error", "report file line %d: '%s': %s"
                         % (self.lineno, text[:60], why[:100]))

        def read(self, final):
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
            self.pos += len(data)
            self.buf += data.replace(b"\0", b" ")
            while self.stop is None:
                cut = self.buf.find(b"\n")
                if cut < 0 and len(self.buf) > line_max:
                    self.lineno += 1
                    self.bad(self.buf[:line_max].decode("utf-8", "replace"),
                             "line too long")
                    return
                if cut < 0 and not (final and self.buf):
                    return
                line = self.buf if cut < 0 else self.buf[:cut]
                self.buf = b"" if cut < 0 else self.buf[cut + 1:]
                self.line(line.decode("utf-8", "replace"), final)

        def line(self, text, final):
            self.lineno += 1
            text = text.rstrip("\r ")
            if not text:
                return
            parsed = parse_line(text)
            if parsed is None:
                return self.bad(text, "expected 'STEP VALUE' (an integer "
                                      ">= 0, a number)")
            step, value = parsed
            if not math.isfinite(value):
                # the driver stores nothing and warns naming the trial
                self.channel.send(step, value)
                return
            if self.last_step is not None and step <= self.last_step:
                return self.bad(text, "trial %s: step %d reported after "
                                "step %d (steps must increase)"
                                % (self.tid, step, self.last_step))
            self.last_step = step
            answer = self.channel.send(step, value)
            if isinstance(answer, str):
                self.bad(text, answer)
            elif answer and not final:
                self.stop = ("pruned", step)

    def run_command(payload):
        import os, signal, subprocess, tempfile, threading, time

        job = payload[1] if report is not None else payload

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
            reports = None
            if report is not None:
                env["PARZEN_REPORT_FILE"] = os.path.join(d, "reports")
                open(env["PARZEN_REPORT_FILE"], "wb").close()
                reports = Reports(env["PARZEN_REPORT_FILE"], job["tid"])
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
            if reports is None:
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
            else:
                # the pipes are drained by a thread while this one follows
                # the report file, the trial timeout and the grace period
                box = {}
                reader = threading.Thread(
                    target=lambda: box.update(zip(("out", "err"),
                                                  proc.communicate())),
                    daemon=True)
                reader.start()
                t0 = time.monotonic()
                term_at = None
                while True:
                    reader.join(poll_s)
                    now = time.monotonic()
                    if not reader.is_alive():
                        if reports.stop is None:
                            reports.read(final=True)
                        break
                    if reports.stop is None:
                        reports.read(final=False)
                    if term_at is None and reports.stop is None and \
                            trial_timeout is not None and \
                            now - t0 >= trial_timeout:
                        timeout = trial_timeout
                    if term_at is None and (reports.stop is not None or
                                            timeout is not None):
                        term_at = now
                        kill_group(proc.pid, signal.SIGTERM)
                    if term_at is not None and now - term_at >= grace_s:
                        kill_group(proc.pid, signal.SIGKILL)
                reports.channel.close()
                out, err = box.get("out", b""), box.get("err", b"")
            kill_group(proc.pid, signal.SIGKILL)  # what the command left
            result = None
            if os.path.exists(result_file):
                with open(result_file, "rb") as f:
                    result = f.read(1 << 20)
        code = proc.returncode
        rval = {"exit": code if code >= 0 else 0,
                "signal": -code if code < 0 else 0, "result": result,
                "out": out[-output_limit:], "err": err[-output_limit:],
                "timeout": timeout}
        if reports is not None and reports.stop is not None:
            rval[reports.stop[0]] = reports.stop[1]
        return rval
    return run_command
"""

#: as the C runner (src/runner.c): SIGKILL 5 s after SIGTERM, 64 KiB kept
KILL_GRACE_S = 5.0
OUTPUT_LIMIT = 64 << 10


def make_runner(trial_timeout, report=None):
    """The executors' objective; with ``report`` (host, port, secret of the
    driver's report listener) it is called with (tid, job) and follows the
    command's report file."""
    namespace = {"__name__": "parzen_command_runner"}
    exec(compile(_RUNNER_SOURCE, "<parzen command runner>", "exec"),
         namespace)
    return namespace["make_runner"](trial_timeout, KILL_GRACE_S, OUTPUT_LIMIT,
                                    report)


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
    # None: mtpe for a new study, the stored sampler for an existing one
    ap.add_argument("--algo", choices=sorted(ALGOS), default=None)
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
    ap.add_argument("--pruner", choices=["median", "sha", "hyperband",
                                         "none"])
    ap.add_argument("--pruner-opt", action="append", default=[])
    ap.add_argument("--report-address")
    ap.error = lambda msg: (_ for _ in ()).throw(UsageError("run: " + msg))
    args = ap.parse_args(opts)
    if not command:
        raise UsageError("run: missing '-- COMMAND [ARGS...]' after the "
                         "options")
    if args.store is None and (args.study != "default" or args.retry_lost):
        raise UsageError("run: --study and --retry-lost need --store FILE")
    if args.pruner_opt and args.pruner is None:
        raise UsageError("run: --pruner-opt needs --pruner NAME")
    if args.report_address and args.pruner is None:
        raise UsageError("run: --report-address needs --spark MASTER and "
                         "--pruner NAME")
    args.command = command
    return args


class CommandPruner(_pruners.Pruner):
    """The pruner of `--pruner KIND --pruner-opt K=V ...`: a kind and
    options the C core checked (the messages of `parzen run` without
    --spark). The decisions are the C pruner's, on the driver, through the
    run's parzen._pruning.Pruning as for fmin(pruner=...)."""

    def __init__(self, kind, options):
        self.kind = kind
        self._options = dict(options)

    def options(self):
        return dict(self._options)


def pruner_of(args, space):
    """The CommandPruner of the command line, or None."""
    from . import _core

    if args.pruner is None:
        return None
    options = {}
    for kv in args.pruner_opt:
        key, eq, text = kv.partition("=")
        if not key or not eq or not text:
            raise UsageError("--pruner-opt expects KEY=VALUE, got '%s'" % kv)
        try:  # a number, or else a string ("auto"): the pruner checks both
            value = json.loads(text)
            if isinstance(value, bool) or \
                    not isinstance(value, (int, float)):
                value = text
        except ValueError:
            value = text
        options[key] = value
    try:
        _core.Study(space).set_pruner(args.pruner, json.dumps(options))
    except (ValueError, _core.InvalidArgumentError) as e:
        raise UsageError(str(e)) from None
    return CommandPruner(args.pruner, options)


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


def session_for(master):
    """A Spark Connect session for an ``sc://HOST:PORT`` master (the URL
    as PySpark takes it, options after ``/;``), else a classic one."""
    from pyspark.sql import SparkSession

    if master.startswith("sc://"):
        # the server's executors run the commands: the driver needs only
        # pyspark[connect]; SparkTrials picks its Connect dispatch itself
        return SparkSession.builder.remote(master).getOrCreate()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(master).appName("parzen run")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def run(args):
    from .early_stop import no_progress_loss
    from .fmin import _run
    from .spark import SparkTrials
    from .store import StoreTrials

    space_doc, space = load_space(args.space)
    pruner = pruner_of(args, space)
    spark = session_for(args.spark)
    objective = make_runner(args.trial_timeout)

    class CommandSparkTrials(SparkTrials):
        def make_domain(self, fn, hp_space):
            return CommandDomain(fn, space_doc, space, args.command)

        def reporting_objective(self, fn, address, token):
            # --pruner: the executors' runner follows the report file and
            # talks to the run's listener itself (no parzen on executors)
            return make_runner(args.trial_timeout,
                               (address[0], address[1], token))

    trials = CommandSparkTrials(parallelism=args.parallelism,
                                timeout=args.timeout,
                                loss_threshold=args.loss_threshold,
                                spark_session=spark,
                                report_address=args.report_address)
    seed = args.seed if args.seed is not None else \
        int.from_bytes(os.urandom(4), "little")
    storage = None
    if args.store is not None:
        storage = StoreTrials(args.store, study=args.study,
                              retry_lost=args.retry_lost, seed=seed,
                              space=space, sampler=args.algo or "mtpe")
        stored = storage.study_seed()  # a stored study keeps its seed
        if stored is not None and args.seed not in (None, stored):
            raise UsageError("study '%s' in '%s' has seed %d, not %d" % (
                args.study, args.store, stored, args.seed))
        seed = seed if stored is None else stored
        sampler = storage.study_sampler()  # and its sampler (cmd_run.c)
        if sampler is not None and args.algo is not None and \
                sampler_name(space, args.algo) != sampler:
            raise UsageError(
                "study '%s' in '%s' uses sampler '%s' with options {}, not "
                "'%s' with {}" % (args.study, args.store, sampler, args.algo))
        algo_name = sampler or args.algo or "mtpe"
    else:
        algo_name = args.algo or "mtpe"
    algo = c_sampler(algo_name, space, seed)
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
             mlflow_tracking=args.mlflow or None, pruner=pruner)
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
        pruned = ", %d pruned" % trials.count_pruned_trials() \
            if args.pruner else ""
        print("parzen: %d done, %d failed, %d canceled%s on %s (seed %d)" % (
            trials.count_successful_trials(), trials.count_failed_trials(),
            trials.count_cancelled_trials(), pruned, args.spark, seed),
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
