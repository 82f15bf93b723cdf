"""`parzen run --spark MASTER`: command trials as Spark tasks, driven by
parzen.spark_run (the C command line execs it with the same arguments)."""

import json
import os
import stat
import sys

import pytest

from spark_fixtures import session  # noqa: F401  (sets PYSPARK_PYTHON)

from parzen import spark_run

SPACE = {
    "x": {"hp": "uniform", "low": -3, "high": 3},
    "model": {"hp": "choice", "options": [
        {"kind": "a", "w": {"hp": "quniform", "label": "w", "low": 0,
                            "high": 10, "q": 1}},
        "plain"]},
}


@pytest.fixture
def files(tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    script = tmp_path / "objective.py"
    script.write_text(
        "import json, os, sys\n"
        "point = json.loads(sys.stdin.read())\n"
        "assert point == json.loads(os.environ['PARZEN_PARAMS'])\n"
        "x = float(sys.argv[1])\n"
        "assert x == point['x'] and sys.argv[2] == '; rm -rf ~'\n"
        "if x > 2.5:\n"
        "    sys.exit(3)\n"
        "with open(os.environ['PARZEN_RESULT_FILE'], 'w') as f:\n"
        "    json.dump({'loss': (x - 1) ** 2, 'tid': os.environ['PARZEN_TRIAL_ID']}, f)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(space), [sys.executable, str(script), "{x}", "; rm -rf ~"]


def test_spark_run_tunes_a_command_on_spark(files, capsys):
    space, command = files
    rc = spark_run.main(["run", space, "--spark", "local[2]", "--max-evals",
                         "16", "--parallelism", "2", "--seed", "5",
                         "--quiet", "--"] + command)
    out = capsys.readouterr().out
    assert rc == 0, out
    best = json.loads(out.strip().splitlines()[-1])
    assert best["loss"] == pytest.approx((best["point"]["x"] - 1) ** 2)
    assert best["loss"] < 1.0
    assert set(best["params"]) >= {"x", "model"}


@pytest.mark.parametrize("extra, message", [
    (["--study", "s"], "--study and --retry-lost need --store FILE"),
    (["--max-evals", "0"], "must be > 0"),
    (["--algo", "bogus"], "invalid choice: 'bogus'"),
])
def test_spark_run_usage_errors_exit_2_with_one_line(files, capsys, extra,
                                                     message):
    space, command = files
    argv = ["run", space, "--spark", "local[1]", "--max-evals", "4"]
    rc = spark_run.main(argv + extra + ["--"] + command)
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_spark_run_reports_a_bad_space_with_its_location(tmp_path, capsys):
    space = tmp_path / "bad.json"
    space.write_text('{"x": {"hp": "uniform", "low": 1, "high": 0}}')
    rc = spark_run.main(["run", str(space), "--spark", "local[1]",
                         "--max-evals", "2", "--", "true"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "bad.json" in err and "$.x" in err and "low (1)" in err


def test_spark_run_with_a_store_survives_kill9(files, tmp_path):
    """`parzen run --spark local[2] --store FILE` killed with SIGKILL three
    times mid-run, then run to the end: exactly --max-evals evaluated
    trials, no duplicated id."""
    import signal
    import sqlite3
    import subprocess
    import time

    space, command = files
    db = str(tmp_path / "spark.db")
    n = 12

    def done():
        if not os.path.exists(db):
            return 0
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
        try:
            return con.execute("SELECT count(*) FROM trials WHERE state IN "
                               "(2, 3)").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
        finally:
            con.close()

    argv = [sys.executable, "-m", "parzen.spark_run", "run", space, "--spark",
            "local[2]", "--parallelism", "2", "--max-evals", str(n),
            "--store", db, "--quiet", "--"] + command
    for cycle in range(3):
        proc = subprocess.Popen(argv + [], stdout=subprocess.DEVNULL)
        target = 2 * (cycle + 1)
        deadline = time.monotonic() + 300
        while done() < target and proc.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it was killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert done() < n
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    best = json.loads(out.stdout.strip().splitlines()[-1])
    assert best["loss"] == pytest.approx((best["point"]["x"] - 1) ** 2)
    from parzen.store import StoreTrials

    with StoreTrials(db) as st:
        tids = [d["tid"] for d in st._dynamic_trials]
        assert len(tids) == len(set(tids))
        evaluated = [d for d in st._dynamic_trials if d["state"] in (2, 3)]
        assert len(evaluated) == n
        assert all(d["state"] in (2, 3, 4) for d in st._dynamic_trials)


# ------------------------------------- one protocol, with and without Spark

# Every trial has the same point ({"x": 2.5, "m": "plain"}; w is inactive):
# the outcome depends only on the trial id, which picks what the command
# does, so the two paths must store the same thing for every id.
PROTOCOL_SPACE = {
    "x": {"hp": "choice", "options": [2.5]},
    "m": {"hp": "pchoice", "options": [
        [1.0, "plain"],
        [0.0, {"k": "a", "w": {"hp": "uniform", "label": "w", "low": 0,
                               "high": 1}}]]},
}
PROTOCOL_OBJECTIVE = r'''
import json, os, signal, sys, time
tid = int(os.environ["PARZEN_TRIAL_ID"])
seen = {"argv": sys.argv[1:], "stdin": sys.stdin.read(),
        "params": json.loads(os.environ["PARZEN_PARAMS"])}
def result_file(doc):
    with open(os.environ["PARZEN_RESULT_FILE"], "w") as f:
        json.dump(doc, f)
if tid == 0:
    print("noise\n0.25\n")
elif tid == 1:
    result_file(dict(seen, loss=1.5))
elif tid == 2:
    sys.stderr.write("warming up\nboom\n")
    sys.exit(3)
elif tid == 3:
    os.kill(os.getpid(), signal.SIGKILL)
elif tid == 4:
    print("not a number")
elif tid == 5:
    print(json.dumps({"status": "fail", "why": "diverged"}))
elif tid == 6:
    print("nan")
elif tid == 7:
    result_file(dict(seen, loss="2.5", status="ok"))
else:
    time.sleep(60)
'''


def stored_trials(db):
    import sqlite3

    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT id, state, loss, status, result, error"
                           " FROM trials ORDER BY id").fetchall()
    finally:
        con.close()
    out = {}
    for tid, state, loss, status, result, error in rows:
        doc = json.loads(result) if result else None
        if isinstance(doc, dict):
            doc.pop("__parzen__", None)  # what only Python's store keeps
        out[tid] = (state, loss, status, doc, error)
    return out


def test_the_command_protocol_is_the_same_with_and_without_spark(tmp_path):
    """`parzen run` (C runner) and `parzen run --spark` (minimal executor
    runner; the C protocol on the driver) store the same outcome for every
    kind of command ending: a number on stdout, a result file, exit 3,
    SIGKILL, garbage, status fail, NaN, a numeric string, a trial timeout;
    the command sees the same argv (an inactive {w} is "") and stdin."""
    import subprocess

    space = tmp_path / "space.json"
    space.write_text(json.dumps(PROTOCOL_SPACE))
    script = tmp_path / "objective.py"
    script.write_text(PROTOCOL_OBJECTIVE)
    command = [sys.executable, str(script), "{x}", "[{w}]", "{m}", "{nope}"]
    opts = ["--max-evals", "9", "--algo", "rand", "--seed", "3",
            "--trial-timeout", "5", "--quiet"]
    parzen = os.path.join(os.path.dirname(sys.executable), "parzen")
    local_db, spark_db = str(tmp_path / "local.db"), str(tmp_path / "spark.db")
    local = subprocess.run([parzen, "run", str(space), "--store", local_db]
                           + opts + ["--"] + command, capture_output=True,
                           text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    rc = spark_run.main(["run", str(space), "--spark", "local[1]",
                         "--store", spark_db] + opts + ["--"] + command)
    assert rc == 0
    want, got = stored_trials(local_db), stored_trials(spark_db)
    assert sorted(want) == sorted(got) == list(range(9))
    seen = {"argv": ["2.5", "[]", "plain", "{nope}"],
            "stdin": '{"x":2.5,"m":"plain"}\n',
            "params": {"x": 2.5, "m": "plain"}}
    assert want[1][3] == dict(seen, loss=1.5, status="ok")
    assert want[7][3] == dict(seen, loss="2.5", status="ok")
    reasons = [want[t][4] for t in range(2, 9) if t not in (5, 7)]
    assert reasons == [
        "exit status 3: boom", "killed by signal 9 (Killed)",
        "unparsable result 'not a number' (expected a number or a JSON "
        "object)", "the loss is NaN", "timed out after 5 s"]
    for tid in range(9):
        (ws, wl, wst, wdoc, werr), (gs, gl, gst, gdoc, gerr) = \
            want[tid], got[tid]
        assert (gs, gl, gst) == (ws, wl, wst), tid
        if ws == 2:
            assert gdoc == wdoc and gerr is None and werr is None, tid
        else:  # Python's store keeps hyperopt's document of a failed
            # trial and names the exception type before the reason
            assert wdoc is None and gdoc == {"status": "new"}, tid
            assert gerr == "CommandFailed: " + werr, tid


@pytest.mark.parametrize("algo", ["mix", "anneal", "tpe"])
def test_every_algo_runs_on_spark(files, capsys, algo):
    """--algo is the C sampler of the same name on both paths (mix used to
    fail with a TypeError on Spark; mtpe, the default, is tested above)."""
    space, command = files
    rc = spark_run.main(["run", space, "--spark", "local[1]", "--max-evals",
                         "3", "--algo", algo, "--seed", "1", "--quiet",
                         "--"] + command)
    out = capsys.readouterr().out
    assert rc == 0, out
    best = json.loads(out.strip().splitlines()[-1])
    assert best["loss"] == pytest.approx((best["point"]["x"] - 1) ** 2)


# ------------------------------------ the CLI golden study, through Spark

CLI = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "cli")
TRIAL_FIELDS = ("id", "state", "status", "loss", "point", "params", "result",
                "error", "attempts")


def exported_trials(text):
    """{id: the trial's fields} of `parzen export --format jsonl` output
    (or its golden, times and owners masked as run_store.sh masks them)."""
    import re

    out = {}
    for line in text.splitlines():
        # the golden's masks (D, OWNER) are bare words: null them
        doc = json.loads(re.sub(r': (D|OWNER)([,}])', r': null\2', line))
        if isinstance(doc.get("result"), dict):
            doc["result"].pop("__parzen__", None)  # only Python's store
        out[doc["id"]] = {k: doc[k] for k in TRIAL_FIELDS}
    return out


def run_both(tmp_path, name, space, opts, command):
    """Stored trials of `parzen run` and `parzen run --spark local[1]`
    with the same options, read back with `parzen export`."""
    import subprocess

    parzen = os.path.join(os.path.dirname(sys.executable), "parzen")
    got = []
    for path in ("local", "spark"):
        db = str(tmp_path / ("%s-%s.db" % (name, path)))
        argv = ["run", space, "--store", db] + opts + ["--quiet", "--"] + \
            command
        if path == "local":
            r = subprocess.run([parzen] + argv, capture_output=True,
                               text=True, timeout=300)
            assert r.returncode == 0, r.stderr
        else:
            assert spark_run.main(argv[:1] + [space, "--spark", "local[1]"]
                                  + argv[2:]) == 0
        r = subprocess.run([parzen, "export", "--store", db, "--format",
                            "jsonl"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        got.append(exported_trials(r.stdout))
    return got


def test_the_cli_golden_study_is_the_same_on_spark(tmp_path):
    """tests/cli/run_store.sh's golden study (6 trials, --algo rand
    --seed 7, square.sh {x} {opt}) run with --spark stores, trial by
    trial, what the golden export.jsonl holds: the Spark driver asks the C
    study on the file's space with the stream (seed, tid), as parzen run
    does."""
    space = os.path.join(CLI, "store", "space.json")
    command = [os.path.join(CLI, "objectives", "square.sh"), "{x}", "{opt}"]
    local, spark = run_both(tmp_path, "golden", space,
                            ["--max-evals", "6", "--algo", "rand", "--seed",
                             "7"], command)
    with open(os.path.join(CLI, "store", "export.jsonl")) as f:
        golden = exported_trials(f.read())
    assert sorted(golden) == list(range(6))
    for tid in golden:
        assert local[tid] == golden[tid], tid
        assert spark[tid] == golden[tid], tid


@pytest.mark.parametrize("algo", ["mtpe", "tpe", "anneal", "mix"])
def test_every_algo_draws_the_same_trials_with_and_without_spark(tmp_path,
                                                                 algo):
    """Past the start-up trials the samplers use the history: with one
    trial at a time both paths hold the same history, so every trial
    (point, loss) is the same, case by case, for every --algo."""
    space = os.path.join(CLI, "spaces", "nested.json")
    command = [sys.executable, "-c",
               "import json, sys; p = json.load(sys.stdin); "
               "print(len(json.dumps(p, sort_keys=True)) % 7 + "
               "sum(v for v in p.values() if isinstance(v, (int, float))))"]
    local, spark = run_both(tmp_path, algo, space,
                            ["--max-evals", "24", "--algo", algo, "--seed",
                             "11"], command)
    assert sorted(local) == sorted(spark) == list(range(24))
    for tid in local:
        assert spark[tid] == local[tid], (algo, tid)


def test_a_cli_study_resumes_on_spark_with_the_same_trials(tmp_path, capsys):
    """A study `parzen run` began (3 trials of the golden study) and
    `parzen run --spark` finishes (no --seed: the stored one) holds the
    golden study's 6 trials: the Spark path opens the study parzen run
    wrote (the file's space) and keeps its seed and, without --algo, its
    sampler; another --algo is refused with parzen run's message."""
    import subprocess

    space = os.path.join(CLI, "store", "space.json")
    command = [os.path.join(CLI, "objectives", "square.sh"), "{x}", "{opt}"]
    parzen = os.path.join(os.path.dirname(sys.executable), "parzen")
    db = str(tmp_path / "resume.db")
    r = subprocess.run([parzen, "run", space, "--store", db, "--max-evals",
                        "3", "--algo", "rand", "--seed", "7", "--quiet",
                        "--"] + command, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert spark_run.main(["run", space, "--spark", "local[1]", "--store",
                           db, "--max-evals", "6", "--algo", "tpe",
                           "--quiet", "--"] + command) == 2
    assert "study 'default' in '%s' uses sampler 'random' with options {}, " \
        "not 'tpe' with {}" % db in capsys.readouterr().err
    assert spark_run.main(["run", space, "--spark", "local[1]", "--store",
                           db, "--max-evals", "6", "--quiet", "--"]
                          + command) == 0
    r = subprocess.run([parzen, "export", "--store", db, "--format",
                        "jsonl"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(CLI, "store", "export.jsonl")) as f:
        golden = exported_trials(f.read())
    assert exported_trials(r.stdout) == golden
