"""`parzen run --spark MASTER --pruner ...`: the executors' runner follows
the command's PARZEN_REPORT_FILE and sends each report to the driver,
whose C pruner decides; a pruned command's process group is stopped and
the trial stored PRUNED with its reports, as `parzen run` does locally."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from spark_fixtures import ConnectServer, session  # noqa: F401  (sets PYSPARK_PYTHON)

from parzen import spark_run

# One point for every trial, the curve chosen by the trial id (as in
# test_spark_run's protocol comparison): the outcome then depends only on
# the reports, not on how the two paths draw points.
SPACE = {"m": {"hp": "choice", "options": ["plain"]}}

# Trial tid reports x + 1/(step+1) at steps 1..4 all at once, x =
# X[tid], then sleeps:
# the runner (C or Spark) reads the lines while the command still runs, so
# whether SHA stops it depends only on the earlier trials' reports. A
# trial that is not stopped leaves finished.TID (and its child, started
# in its process group, child.TID) and prints its loss.
# tid 4: a malformed first line; tid 5: a step that does not increase
# (step 0 is never a rung); tid 6: a NaN first (a warning, goes on).
OBJECTIVE = r'''
import os, subprocess, sys, time
tid = int(os.environ["PARZEN_TRIAL_ID"])
X = [0.5, 0.9, 0.2, 0.7, 0.6, 0.6, 0.1, 0.95, 0.05]
x = X[tid]
marks = sys.argv[1]
lines = ["%d %r" % (s, x + 1.0 / (s + 1)) for s in range(1, 5)]
if tid == 4:
    lines = ["one %r" % x] + lines
elif tid == 5:
    lines = ["0 0.9", "0 0.8"] + lines
elif tid == 6:
    lines = ["0 nan"] + lines
with open(os.environ["PARZEN_REPORT_FILE"], "a") as f:
    f.write("\n".join(lines) + "\n")
# a child in the command's process group: a stop must reach it too
subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.8); "
                  "open(sys.argv[1], 'w').close()",
                  os.path.join(marks, "child.%d" % tid)])
time.sleep(2.0)
open(os.path.join(marks, "finished.%d" % tid), "w").close()
print(x + 0.2)
'''

OPTS = ["--max-evals", "9", "--algo", "rand", "--seed", "7", "--pruner",
        "sha", "--pruner-opt", "reduction_factor=2", "--quiet"]


def stored(db):
    """{tid: (state, loss, status, error, [(step, value)])} of a store."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT id, state, loss, status, error FROM "
                           "trials ORDER BY id").fetchall()
        reps = con.execute("SELECT trial, step, value FROM trial_reports "
                           "ORDER BY trial, step").fetchall()
    finally:
        con.close()
    out = {tid: (state, loss, status, error, []) for tid, state, loss,
           status, error in rows}
    for tid, step, value in reps:
        out[tid][4].append((step, value))
    return out


@pytest.fixture
def files(tmp_path):
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    (tmp_path / "objective.py").write_text(OBJECTIVE)
    return tmp_path


def command(tmp, marks):
    os.makedirs(marks, exist_ok=True)
    return [sys.executable, str(tmp / "objective.py"), str(marks)]


PARZEN = os.path.join(os.path.dirname(sys.executable), "parzen")


def run_local(tmp):
    """The 9 trials through the C runner of `parzen run`: the reference."""
    local_db = str(tmp / "local.db")
    local = subprocess.run(
        [PARZEN, "run", str(tmp / "space.json"), "--store", local_db] +
        OPTS + ["--"] + command(tmp, tmp / "local"), capture_output=True,
        text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    return stored(local_db)


def test_pruning_on_spark_stores_what_the_local_runner_stores(files):
    tmp = files
    spark_db = str(tmp / "spark.db")
    rc = spark_run.main(["run", str(tmp / "space.json"), "--spark",
                         "local[1]", "--store", spark_db] + OPTS + ["--"] +
                        command(tmp, tmp / "spark"))
    assert rc == 0
    assert_same_stores(tmp, run_local(tmp), stored(spark_db))


def test_pruning_on_spark_connect_stores_what_the_local_runner_stores(
        files):
    """`--spark sc://HOST:PORT`: the same run through a Spark Connect
    server (a separate process, as on Databricks): the C command line
    hands over to the Python driver, which talks to the server only over
    Connect; the reports reach the driver's listener from the executor."""
    tmp = files
    server = ConnectServer("local[1]", str(tmp))
    try:
        spark_db = str(tmp / "spark.db")
        out = subprocess.run(
            [PARZEN, "run", str(tmp / "space.json"), "--spark", server.url,
             "--store", spark_db] + OPTS + ["--"] +
            command(tmp, tmp / "spark"), capture_output=True, text=True,
            timeout=600)
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    assert_same_stores(tmp, run_local(tmp), stored(spark_db))


def assert_same_stores(tmp, want, got):
    assert sorted(want) == sorted(got) == list(range(9))
    pruned = [t for t in want if want[t][0] == 5]
    done = [t for t in want if want[t][0] == 2]
    assert len(pruned) >= 2 and len(done) >= 2, want
    assert want[4][0] == want[5][0] == 3  # ERROR
    assert want[4][3] == ("report file line 1: 'one 0.6': expected 'STEP "
                          "VALUE' (an integer >= 0, a number)")
    assert want[5][3] == ("report file line 2: '0 0.8': trial 5: step 0 "
                          "reported after step 0 (steps must increase)")
    for tid in range(9):
        ws, wl, wst, werr, wrep = want[tid]
        gs, gl, gst, gerr, grep = got[tid]
        assert (gs, gst) == (ws, wst), tid
        if ws == 3:  # Python's store names the exception type first
            assert gerr == "CommandFailed: " + werr, tid
            continue
        assert gl == pytest.approx(wl), tid
        assert grep == wrep, tid  # the same decimal text, parsed alike
        assert gerr == werr, tid
        # a pruned command was stopped before its end, on both paths
        for marks in ("local", "spark"):
            for name in ("finished", "child"):
                seen = (tmp / marks / ("%s.%d" % (name, tid))).exists()
                assert seen == (ws == 2), (tid, marks, name)
    for tid in pruned:
        assert want[tid][1] == want[tid][4][-1][1]  # the last value
    assert [s for s, _ in want[6][4]] == [1, 2, 3, 4]  # NaN not stored


# Two trials at a time: trial 0 (x = 0.1) reports the best value at every
# rung, so every trial that reaches step 1 after it is stopped there (SHA
# with reduction factor 2 promotes only a new best while a rung holds
# fewer than 4 values): at least trials 2..5 whatever the timing.
PARALLEL = r'''
import os, sys, time
tid = int(os.environ["PARZEN_TRIAL_ID"])
x = [0.1, 0.5, 0.6, 0.7, 0.8, 0.9][tid]
with open(os.environ["PARZEN_REPORT_FILE"], "a") as f:
    f.write("".join("%d %r\n" % (s, x + 1.0 / (s + 1)) for s in range(1, 5)))
time.sleep(2.0)
open(os.path.join(sys.argv[1], "finished.%d" % tid), "w").close()
print(x)
'''


def test_concurrent_trials_on_local2_each_report_on_their_channel(files):
    tmp = files
    (tmp / "parallel.py").write_text(PARALLEL)
    db = str(tmp / "p.db")
    rc = spark_run.main(
        ["run", str(tmp / "space.json"), "--spark", "local[2]",
         "--parallelism", "2", "--store", db, "--max-evals", "6", "--algo",
         "rand", "--seed", "1", "--pruner", "sha", "--pruner-opt",
         "reduction_factor=2", "--quiet", "--", sys.executable,
         str(tmp / "parallel.py"), str(tmp)])
    assert rc == 0
    got = stored(db)
    assert sorted(got) == list(range(6))
    for tid, (state, loss, status, error, reps) in got.items():
        x = [0.1, 0.5, 0.6, 0.7, 0.8, 0.9][tid]
        finished = (tmp / ("finished.%d" % tid)).exists()
        assert state in (2, 5) and status == "ok", (tid, got[tid])
        if state == 5:
            assert not finished and error == "pruned at step 1", tid
            assert reps == [(1, pytest.approx(x + 0.5))], tid
            assert loss == pytest.approx(x + 0.5), tid
        else:
            assert finished and error is None and loss == x, tid
            assert [s for s, _ in reps] == [1, 2, 3, 4], tid
    assert got[0][0] == 2
    assert all(got[t][0] == 5 for t in range(2, 6)), got


def test_pruner_options_are_checked_as_without_spark(files, capsys):
    space = str(files / "space.json")
    rc = spark_run.main(["run", space, "--spark", "local[1]", "--max-evals",
                         "2", "--pruner", "sha", "--pruner-opt", "x=1",
                         "--", "true"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == (
        "parzen: pruner 'sha': unknown option 'x' (sha options: "
        "min_resource, reduction_factor, min_early_stopping_rate)")
    for extra, message in [
            (["--pruner-opt", "reduction_factor=2"],
             "run: --pruner-opt needs --pruner NAME"),
            (["--report-address", "127.0.0.1"],
             "run: --report-address needs --spark MASTER and --pruner NAME")]:
        rc = spark_run.main(["run", space, "--spark", "local[1]",
                             "--max-evals", "2"] + extra + ["--", "true"])
        assert rc == 2
        assert capsys.readouterr().err.strip() == "parzen: " + message
