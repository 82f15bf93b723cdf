"""Durable parallel runs: fmin(trials=ParallelTrials(2),
trials_save_file="run.db") killed with SIGKILL at any moment and run again
ends with exactly max_evals evaluated trials and no duplicated tid."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from parzen.store import StoreTrials

N = 60
CYCLES = 10

SCRIPT = textwrap.dedent("""
    import sys, time
    from parzen import fmin, hp, tpe
    from parzen.parallel import ParallelTrials

    def objective(p):
        time.sleep(0.03)
        return (p["x"] - 1) ** 2 + p["y"] ** 2

    space = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}
    fmin(objective, space, algo=tpe.suggest, max_evals=int(sys.argv[2]),
         trials=ParallelTrials(2), trials_save_file=sys.argv[1],
         rstate=int(sys.argv[3]), show_progressbar=False)
""")


def stored(db, state):
    """Trials of the store in `state`, read as `parzen status` would."""
    if not os.path.exists(db):
        return 0
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM trials WHERE state = ?",
                           (state,)).fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        con.close()


def wait_done(proc, db, target, limit=120.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if stored(db, 2) >= target or proc.poll() is not None:
            return
        time.sleep(0.02)
    raise AssertionError("no progress to %d trials within %gs"
                         % (target, limit))


def check_store(db, n):
    with StoreTrials(db) as st:
        docs = st._dynamic_trials
        tids = [d["tid"] for d in docs]
        assert len(tids) == len(set(tids)), "duplicated tid"
        done = [d for d in docs if d["state"] == 2]
        assert len(done) == n
        assert all(d["state"] in (2, 4) for d in docs)  # DONE or lost
        assert len(st) == n
        return len(docs) - n  # lost (CANCEL) trials


def test_kill9_and_resume_a_durable_parallel_run(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    db = str(tmp_path / "run.db")
    kills = 0
    for cycle in range(CYCLES):
        proc = subprocess.Popen([sys.executable, str(script), db, str(N),
                                 str(cycle)])
        try:
            # -- kill it a few trials further each time, mid-run
            wait_done(proc, db, 4 * (cycle + 1) + 1)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait()
    assert kills == CYCLES
    assert stored(db, 2) < N
    rc = subprocess.run([sys.executable, str(script), db, str(N), "99"],
                        timeout=300).returncode
    assert rc == 0
    lost = check_store(db, N)
    # -- both slots are busy all the time: kills lose running trials
    assert lost >= 1
    # -- a finished study runs nothing more
    rc = subprocess.run([sys.executable, str(script), db, str(N), "100"],
                        timeout=300).returncode
    assert rc == 0
    check_store(db, N)
