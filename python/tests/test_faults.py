"""Fault injection: failing, hanging and dying objectives, bad results,
killed drivers and workers, many processes on one store.

Every fault of the hardening issue that Python or the ``parzen`` command
can be driven into is tried here and the outcome checked against
hyperopt-spec section 3 (results) or docs/cli.md (the command):

* objectives raising on a seeded 30 % of points, with and without
  ``catch_eval_exceptions``, serially and under ``ParallelTrials``;
* every kind of bad result (NaN, +-inf, None, strings, lists, bools,
  dicts without ``loss``, unknown or missing ``status``);
* all trials failing (hyperopt's exact message);
* hanging objectives: ``ParallelTrials(timeout=)`` and ``parzen run
  --trial-timeout`` / ``--timeout`` return within a second of the limit
  and the hung processes are gone;
* workers killed mid-trial (``ParallelTrials`` and ``parzen run``): the
  trial fails, the run completes, no slot is lost;
* ``parzen run`` killed with SIGKILL at random moments, 20+ times, then
  resumed: exactly the requested number of finished trials, no duplicate
  id, no finished result lost, ``PRAGMA integrity_check`` ok;
* 16 ``parzen run`` processes on one store at once: no duplicate or lost
  trial, the budget shared exactly.

The command-line tests need the ``parzen`` binary (conftest.find_cli:
``$PARZEN_CLI``, else build/ci/parzen, else the newest build dir's; a
missing binary is a skip that fails the run). The two long ones (SIGKILL cycles, 16 workers) run when
``PZ_LONG_FAULTS=1`` (scripts/hardening.sh sets it). Waits are bounded
loops on conditions, never bare sleeps.
"""

import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import find_cli
from parzen import STATUS_FAIL, STATUS_OK, Trials, fmin, hp, rand
from parzen.base import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_ERROR
from parzen.exceptions import AllTrialsFailed, InvalidLoss, InvalidResultStatus
from parzen.parallel import ParallelTrials

NO_TASKS = "There are no evaluation tasks, cannot return argmin of task losses."

long_faults = pytest.mark.skipif(
    os.environ.get("PZ_LONG_FAULTS") != "1",
    reason="long fault test: set PZ_LONG_FAULTS=1 (scripts/hardening.sh)")


def wait_for(cond, timeout, what, step=0.01):
    """Poll cond() until true or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0f s waiting for %s" % (timeout,
                                                                   what))
        time.sleep(step)


def process_gone(pid):
    """True when pid no longer runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def quiet_fmin(fn, space, **kw):
    kw.setdefault("algo", rand.suggest)
    kw.setdefault("show_progressbar", False)
    return fmin(fn, space, **kw)


# ------------------------------------------------ objectives that raise

class Boom(Exception):
    pass


def seeded_failures(seed, rate=0.3):
    """An objective raising Boom on a seeded `rate` of its calls, and the
    record of which calls raised."""
    rng = random.Random(seed)
    calls = []

    def objective(x):
        fail = rng.random() < rate
        calls.append(fail)
        if fail:
            raise Boom("seeded failure %d" % len(calls))
        return (x - 0.3) ** 2

    return objective, calls


def test_seeded_30_percent_failures_without_catch_stop_fmin_at_the_first():
    objective, calls = seeded_failures(seed=11)
    trials = Trials()
    with pytest.raises(Boom, match="seeded failure") as info:
        quiet_fmin(objective, hp.uniform("x", 0, 1), max_evals=100,
                   trials=trials, rstate=np.random.default_rng(3))
    first = calls.index(True)
    assert len(calls) == first + 1  # the search stopped right there
    states = [t["state"] for t in trials._dynamic_trials]
    assert states == [JOB_STATE_DONE] * first + [JOB_STATE_ERROR]
    kind, msg = trials._dynamic_trials[-1]["misc"]["error"]
    assert kind == str(Boom) and msg == str(info.value)


def test_seeded_30_percent_failures_with_catch_record_errors_and_go_on():
    objective, calls = seeded_failures(seed=11)
    trials = Trials()
    best = quiet_fmin(objective, hp.uniform("x", 0, 1), max_evals=100,
                      trials=trials, rstate=np.random.default_rng(3),
                      catch_eval_exceptions=True)
    n_fail = sum(calls)
    assert len(calls) == 100 and 15 < n_fail < 45  # about 30 %
    docs = trials._dynamic_trials
    errors = [t for t in docs if t["state"] == JOB_STATE_ERROR]
    assert len(errors) == n_fail
    assert [t["state"] == JOB_STATE_ERROR for t in docs] == calls
    assert all(t["misc"]["error"][0] == str(Boom) for t in errors)
    assert len(trials.trials) == 100 - n_fail  # ERROR docs are not trials
    assert abs(best["x"] - 0.3) < 0.1
    assert trials.best_trial["state"] == JOB_STATE_DONE


def test_seeded_30_percent_failures_under_parallel_trials():
    def objective(x):
        import random as r
        if r.Random(repr(x)).random() < 0.3:
            raise Boom("seeded failure at %r" % x)
        return x

    trials = ParallelTrials(parallelism=2)
    quiet_fmin(objective, hp.uniform("x", 0, 1), max_evals=40, trials=trials,
               rstate=5)
    docs = trials._dynamic_trials
    expect = [random.Random(repr(t["misc"]["vals"]["x"][0])).random() < 0.3
              for t in docs]
    assert len(docs) == 40
    assert [t["state"] == JOB_STATE_ERROR for t in docs] == expect
    assert 4 < sum(expect) < 20
    assert trials.count_failed_trials() == sum(expect)


def test_all_trials_failing_gives_hyperopts_exact_message():
    def always(x):
        raise Boom("no")

    for trials in (Trials(), ParallelTrials(parallelism=2)):
        with pytest.raises(Exception) as info:
            quiet_fmin(always, hp.uniform("x", 0, 1), max_evals=5,
                       trials=trials, rstate=1, catch_eval_exceptions=True)
        assert str(info.value) == NO_TASKS
        assert type(info.value) is Exception
        assert [t["state"] for t in trials._dynamic_trials] == \
            [JOB_STATE_ERROR] * 5
    # return_argmin=False: None, as in hyperopt.
    trials = Trials()
    assert quiet_fmin(always, hp.uniform("x", 0, 1), max_evals=3,
                      trials=trials, rstate=1, catch_eval_exceptions=True,
                      return_argmin=False) is None


def test_all_trials_with_status_fail_raise_all_trials_failed():
    trials = Trials()
    with pytest.raises(AllTrialsFailed):
        quiet_fmin(lambda x: {"status": STATUS_FAIL}, hp.uniform("x", 0, 1),
                   max_evals=4, trials=trials, rstate=1)
    assert len(trials.trials) == 4
    assert trials.statuses() == [STATUS_FAIL] * 4


# ------------------------------------------------------------ bad spaces

U01 = '"low": 0, "high": 1'
BAD_SPACES = [
    ("unknown distribution",
     '{"x": {"hp": "gaussian", "mu": 0, "sigma": 1}}', "unknown distribution"),
    ("missing key", '{"x": {"hp": "uniform", "low": 0}}', "'high' is required"),
    ("extra key", '{"x": {"hp": "uniform", %s, "q": 1}}' % U01,
     "unknown key 'q'"),
    ("wrong arity", '{"x": {"hp": "pchoice", "options": [[0.5, 1, 2], [0.5, 3]]}}',
     "[probability, value]"),
    ("NaN literal", '{"x": {"hp": "uniform", "low": NaN, "high": 1}}',
     "invalid JSON"),
    ("Infinity literal", '{"x": {"hp": "normal", "mu": Infinity, "sigma": 1}}',
     "invalid JSON"),
    ("1e400", '{"x": {"hp": "uniform", "low": 0, "high": 1e400}}', "1e400"),
    ("integer above 2^53", '{"x": {"hp": "randint", "upper": 9007199254740993}}',
     "2^53"),
    ("duplicate key", '{"x": {"hp": "uniform", "low": 0, "low": 1, "high": 2}}',
     "duplicate"),
    ("byte-order mark", '\ufeff{"x": {"hp": "uniform", %s}}' % U01,
     "byte-order mark"),
    ("NUL in a label", '{"x": {"hp": "uniform", "label": "a\x00b", %s}}' % U01,
     "control character"),
    ("escaped NUL in a label",
     '{"x": {"hp": "uniform", "label": "a\\u0000b", %s}}' % U01, "NUL"),
    ("trailing garbage", '{"x": {"hp": "uniform", %s}} junk' % U01,
     "end of file expected"),
    ("empty", "", "empty"),
    ("top-level scalar", "42", "'{'"),
    ("nesting depth 10^4", '{"a": ' * 10000 + "1" + "}" * 10000,
     "maximum parsing depth"),
    ("q larger than the range", '{"x": {"hp": "quniform", %s, "q": 5}}' % U01,
     "larger than the range"),
]


@pytest.mark.parametrize("name,text,frag", BAD_SPACES,
                         ids=[b[0] for b in BAD_SPACES])
def test_bad_space_json_raises_a_search_space_error_naming_it(name, text,
                                                              frag):
    from parzen import _core

    t0 = time.monotonic()
    with pytest.raises(_core.SearchSpaceError) as info:
        _core.Space.from_json(text)
    assert frag in str(info.value)
    assert isinstance(info.value, ValueError)
    assert time.monotonic() - t0 < 5


def test_invalid_utf8_cannot_even_reach_the_parser_from_python():
    from parzen import _core

    with pytest.raises(UnicodeEncodeError):
        _core.Space.from_json('{"a\udcff": {"hp": "uniform", %s}}' % U01)


def test_big_valid_spaces_parse_in_bounded_time():
    from parzen import _core

    t0 = time.monotonic()
    many = "{%s}" % ", ".join('"p%d": {"hp": "uniform", %s}' % (i, U01)
                              for i in range(100000))
    assert len(_core.Space.from_json(many)) == 100000
    wide = '{"c": {"hp": "choice", "options": [%s]}}' % ",".join(
        map(str, range(10 ** 6)))
    space = _core.Space.from_json(wide)
    assert len(space) == 1 and space.param(0)["n_options"] == 10 ** 6
    assert time.monotonic() - t0 < 30


# ---------------------------------------------------------- bad results

# (name, return value, what hyperopt-spec section 3 says happens): either
# ("done", expected stored loss) or ("raises", exception type).
RESULTS = [
    ("nan", float("nan"), ("done", "nan")),
    ("+inf", float("inf"), ("done", float("inf"))),
    ("-inf", float("-inf"), ("done", float("-inf"))),
    ("None", None, ("raises", TypeError)),
    ("string", "abc", ("raises", ValueError)),
    ("string pairs", ["ab"], ("raises", KeyError)),  # dict(["ab"]) = {a: b}
    ("list", [1, 2], ("raises", TypeError)),
    ("empty list", [], ("raises", KeyError)),
    ("True", True, ("done", 1.0)),
    ("False", False, ("done", 0.0)),
    ("numpy float32", np.float32(0.5), ("done", 0.5)),
    ("numpy int", np.int64(3), ("done", 3.0)),
    ("dict ok without loss", {"status": STATUS_OK}, ("raises", InvalidLoss)),
    ("dict ok with loss None", {"status": STATUS_OK, "loss": None},
     ("raises", InvalidLoss)),
    ("dict ok with bad loss", {"status": STATUS_OK, "loss": "x"},
     ("raises", InvalidLoss)),
    ("dict ok with string loss", {"status": STATUS_OK, "loss": "1.5"},
     ("done", 1.5)),
    ("dict fail without loss", {"status": STATUS_FAIL}, ("done", None)),
    ("dict without status", {"loss": 1.0}, ("raises", KeyError)),
    ("dict unknown status", {"status": "weird", "loss": 1.0},
     ("raises", InvalidResultStatus)),
    ("dict status new", {"status": "new", "loss": 2.0}, ("done", 2.0)),
    ("dict status suspended", {"status": "suspended"}, ("done", None)),
]


def same_loss(got, want):
    if want == "nan":
        return isinstance(got, float) and math.isnan(got)
    return got == want


@pytest.mark.parametrize("catch", [False, True], ids=["raise", "catch"])
@pytest.mark.parametrize("name,value,expect", RESULTS,
                         ids=[r[0] for r in RESULTS])
def test_every_kind_of_result_is_handled_as_the_spec_says(name, value, expect,
                                                          catch):
    trials = Trials()
    run = lambda: quiet_fmin(lambda x: value, hp.uniform("x", 0, 1),  # noqa
                             max_evals=3, trials=trials, rstate=2,
                             catch_eval_exceptions=catch,
                             return_argmin=False)
    kind, want = expect
    if kind == "raises":
        if catch:
            assert run() is None  # no trial left to take the argmin of
            states = [t["state"] for t in trials._dynamic_trials]
            assert states == [JOB_STATE_ERROR] * 3
            assert trials._dynamic_trials[0]["misc"]["error"][0] == str(want)
        else:
            with pytest.raises(want):
                run()
            assert [t["state"] for t in trials._dynamic_trials] == \
                [JOB_STATE_ERROR]
        return
    try:
        run()
    except AllTrialsFailed:  # NaN, fail and odd statuses never count as best
        assert want in ("nan", None) or name.startswith("dict status")
    assert [t["state"] for t in trials._dynamic_trials] == \
        [JOB_STATE_DONE] * 3
    assert all(same_loss(x, want) for x in trials.losses()), trials.losses()


PARALLEL_RESULTS = [r for r in RESULTS if r[0] in (
    "nan", "+inf", "None", "list", "True", "dict ok without loss",
    "dict fail without loss", "dict unknown status", "dict without status")]


@pytest.mark.parametrize("name,value,expect", PARALLEL_RESULTS,
                         ids=[r[0] for r in PARALLEL_RESULTS])
def test_bad_results_from_parallel_workers_fail_their_trial(name, value,
                                                            expect):
    trials = ParallelTrials(parallelism=2)
    try:
        quiet_fmin(lambda x: value, hp.uniform("x", 0, 1), max_evals=3,
                   trials=trials, rstate=2, return_argmin=False)
    except AllTrialsFailed:
        pass
    kind, want = expect
    docs = trials._dynamic_trials
    assert len(docs) == 3
    if kind == "raises":  # parallel runs always catch: ERROR trials
        assert all(t["state"] == JOB_STATE_ERROR for t in docs)
        assert all(t["misc"]["error"][0] == str(want) for t in docs)
    else:
        assert all(t["state"] == JOB_STATE_DONE for t in docs)
        assert all(same_loss(x, want) for x in trials.losses())


# --------------------------------------------------- parallel: hangs, kills

def test_parallel_timeout_returns_within_a_second_and_workers_are_gone(
        tmp_path):
    def hang(x):
        with open(os.path.join(str(tmp_path), "w%d" % os.getpid()), "w"):
            pass
        time.sleep(1000)

    trials = ParallelTrials(parallelism=2, timeout=2)
    t0 = time.monotonic()
    with pytest.raises(Exception, match="no evaluation tasks"):
        quiet_fmin(hang, hp.uniform("x", 0, 1), max_evals=10, trials=trials,
                   rstate=0)
    took = time.monotonic() - t0
    assert took < 2 + 1.0, "returned %.2f s after a 2 s timeout" % took
    assert trials.fmin_cancelled_reason == "fmin run timeout"
    assert trials.count_cancelled_trials() == 2
    pids = [int(p.name[1:]) for p in tmp_path.iterdir()]
    assert len(pids) == 2
    wait_for(lambda: all(process_gone(p) for p in pids), 5,
             "the hung workers to be gone")


def test_parallel_timeout_also_kills_what_the_objective_started(tmp_path):
    def hang_with_child(x):
        child = subprocess.Popen(["sleep", "1000"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        with open(os.path.join(str(tmp_path), "c%d" % child.pid), "w"):
            pass
        time.sleep(1000)

    trials = ParallelTrials(parallelism=1, timeout=1)
    with pytest.raises(Exception, match="no evaluation tasks"):
        quiet_fmin(hang_with_child, hp.uniform("x", 0, 1), max_evals=2,
                   trials=trials, rstate=0)
    pids = [int(p.name[1:]) for p in tmp_path.iterdir()]
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not all(map(process_gone, pids)):
            time.sleep(0.05)
        assert all(process_gone(p) for p in pids)
    finally:
        for p in pids:  # our own stray child: do not leave it running
            if not process_gone(p):
                os.kill(p, signal.SIGKILL)


def kill_strays(pids):
    """Our own stray processes: never leave them running."""
    for p in pids:
        if not process_gone(p):
            os.kill(p, signal.SIGKILL)


def hang_with_child_in(directory):
    """An objective that writes w<worker pid> and c<child pid> files into
    `directory`, then hangs with a child `sleep` running."""
    def hang_with_child(x):
        child = subprocess.Popen(["sleep", "1000"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        for name in ("w%d" % os.getpid(), "c%d" % child.pid):
            with open(os.path.join(directory, name), "w"):
                pass
        time.sleep(1000)
    return hang_with_child


def pids_named(directory, prefix):
    return [int(n[1:]) for n in os.listdir(directory) if n[0] == prefix]


# A driver in a process (and session) of its own, so that the test can
# interrupt or kill it: two workers hang with a child each.
PARALLEL_DRIVER = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from test_faults import hang_with_child_in, quiet_fmin
from parzen import hp
from parzen.parallel import ParallelTrials
quiet_fmin(hang_with_child_in(sys.argv[1]), hp.uniform("x", 0, 1),
           max_evals=4, trials=ParallelTrials(parallelism=2), rstate=0)
"""


def start_parallel_driver(tmp_path):
    """The driver, once both workers run their objective's child."""
    p = subprocess.Popen(
        [sys.executable, "-c", PARALLEL_DRIVER, str(tmp_path),
         os.path.dirname(os.path.abspath(__file__))],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: len(pids_named(str(tmp_path), "c")) == 2, 60,
                 "both objectives to start their child")
    except BaseException:
        p.kill()
        p.wait()
        kill_strays(pids_named(str(tmp_path), "w")
                    + pids_named(str(tmp_path), "c"))
        raise
    return p


def test_ctrl_c_of_a_parallel_driver_kills_workers_and_their_children(
        tmp_path):
    """Workers lead their own session, so the terminal's SIGINT reaches the
    driver only: it must kill them (and what they started) itself."""
    p = start_parallel_driver(tmp_path)
    pids = pids_named(str(tmp_path), "w") + pids_named(str(tmp_path), "c")
    try:
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGINT)  # Ctrl-C: the driver's group
        _, err = p.communicate(timeout=30)
        assert b"KeyboardInterrupt" in err, err.decode(errors="replace")
        assert time.monotonic() - t0 < 5
        wait_for(lambda: all(map(process_gone, pids)), 3,
                 "workers and their children to be gone")
    finally:
        kill_strays(pids)


def test_a_killed_parallel_driver_leaves_no_worker_or_child_behind(tmp_path):
    """SIGKILL gives the driver no chance to clean up: each worker notices
    it lost its parent and kills its own group."""
    p = start_parallel_driver(tmp_path)
    pids = pids_named(str(tmp_path), "w") + pids_named(str(tmp_path), "c")
    try:
        p.kill()
        p.communicate(timeout=30)
        wait_for(lambda: all(map(process_gone, pids)), 3,
                 "workers and their children to be gone")
    finally:
        kill_strays(pids)


def test_a_raising_parallel_driver_kills_its_busy_workers(tmp_path):
    """An exception in the driver (here early_stop_fn) while trials run:
    fmin raises it and the running workers and children are gone."""
    directory = str(tmp_path)

    def first_returns_others_hang(x):
        try:  # the first trial to get here returns at once
            os.close(os.open(os.path.join(directory, "first"),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return x
        except FileExistsError:
            hang_with_child_in(directory)(x)

    def stop_badly(trials, *state):
        wait_for(lambda: pids_named(directory, "c"), 60,
                 "the other objective to start its child")
        raise Boom("early_stop_fn failed")

    try:
        with pytest.raises(Boom):
            quiet_fmin(first_returns_others_hang, hp.uniform("x", 0, 1),
                       max_evals=4, trials=ParallelTrials(parallelism=2),
                       rstate=0, early_stop_fn=stop_badly)
        pids = pids_named(directory, "w") + pids_named(directory, "c")
        assert len(pids) == 2
        wait_for(lambda: all(map(process_gone, pids)), 3,
                 "the busy worker and its child to be gone")
    finally:
        kill_strays(pids_named(directory, "w") + pids_named(directory, "c"))


def test_parallel_workers_killed_mid_trial_fail_it_and_free_their_slot(
        tmp_path):
    def dies_or_works(x):
        start = time.time()
        if x < 0.4:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        with open(os.path.join(str(tmp_path), "%.9f" % x), "w") as f:
            f.write("%r %r %d" % (start, time.time(), os.getpid()))
        return x

    trials = ParallelTrials(parallelism=3)
    quiet_fmin(dies_or_works, hp.uniform("x", 0, 1), max_evals=30,
               trials=trials, rstate=8)
    docs = trials._dynamic_trials
    assert len(docs) == 30
    died = [t for t in docs if t["state"] == JOB_STATE_ERROR]
    assert died and all(t["misc"]["vals"]["x"][0] < 0.4 for t in died)
    assert all("died" in t["misc"]["error"][1] for t in died)
    assert trials.count_successful_trials() == 30 - len(died)
    # No slot was lost: the surviving trials still ran three at a time.
    spans = [tuple(map(float, p.read_text().split()[:2]))
             for p in tmp_path.iterdir()]
    peak = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert peak == 3, "at most %d trials ran at once" % peak
    pids = [int(p.read_text().split()[2]) for p in tmp_path.iterdir()]
    wait_for(lambda: all(process_gone(p) for p in pids), 10,
             "the workers to exit after fmin")


# ---------------------------------------------------------- the command

@pytest.fixture
def cli():
    path = find_cli()
    if path is None:
        pytest.skip("no parzen binary: set PARZEN_CLI or build build/ci")
    return path


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A directory for stores, spaces and objectives; trial files (and
    what killed runs leave) go to its tmp/."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "space.json").write_text(
        '{"x": {"hp": "uniform", "low": -3, "high": 3}}')
    return tmp_path


def script(work, name, body):
    p = work / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return str(p)


SQUARE = ('awk -v x="$1" \'BEGIN { printf "%.10g\\n", x * x }\'\n')


def run_cli(cli, args, timeout, **kw):
    return subprocess.run([cli] + args, capture_output=True, text=True,
                          timeout=timeout, **kw)


def store_rows(db):
    """{id: (state, loss, error)} of the default study, read-only, after
    PRAGMA integrity_check."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n, distinct = con.execute(
            "SELECT count(*), count(DISTINCT id) FROM trials").fetchone()
        assert n == distinct, "duplicate trial ids"
        return {i: (s, l, e) for i, s, l, e in con.execute(
            "SELECT id, state, loss, error FROM trials")}
    finally:
        con.close()


def events(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line]


def test_trial_timeout_kills_the_hung_group_within_a_second(cli, work):
    obj = script(work, "hang.sh",
                 'sleep 1000 & echo $! >"$PIDS.$PARZEN_TRIAL_ID"\n'
                 'echo $$ >>"$PIDS.$PARZEN_TRIAL_ID"\nwait\n')
    env = dict(os.environ, PIDS=str(work / "pids"))
    t0 = time.monotonic()
    r = run_cli(cli, ["run", str(work / "space.json"), "--max-evals", "2",
                      "--parallelism", "2", "--trial-timeout", "1", "--json",
                      "--store", str(work / "s.db"), "--", obj], 60, env=env)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    fin = [e for e in events(r.stdout) if e["event"] == "finish"]
    assert len(fin) == 2
    for e in fin:
        assert e["state"] == "error" and e["error"] == "timed out after 1 s"
        assert 1.0 <= e["duration"] < 2.0, e["duration"]
    assert took < 1 + 2.0, "the run took %.2f s" % took
    pids = [int(p) for f in work.glob("pids.*") for p in f.read_text().split()]
    assert len(pids) == 4  # both shells and both background sleeps
    wait_for(lambda: all(process_gone(p) for p in pids), 5,
             "the trials' process groups to be gone")


def test_run_timeout_cancels_hung_trials_within_a_second(cli, work):
    obj = script(work, "hang.sh", 'echo $$ >"$PIDS.$PARZEN_TRIAL_ID"\n'
                                  'exec sleep 1000\n')
    env = dict(os.environ, PIDS=str(work / "pids"))
    t0 = time.monotonic()
    r = run_cli(cli, ["run", str(work / "space.json"), "--max-evals", "10",
                      "--parallelism", "2", "--timeout", "2", "--json",
                      "--store", str(work / "s.db"), "--", obj], 60, env=env)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[-1]["event"] == "end" and ev[-1]["reason"] == "timeout"
    fin = [e for e in ev if e["event"] == "finish"]
    assert [e["state"] for e in fin] == ["cancel", "cancel"]
    assert took < 2 + 1.0, "the run took %.2f s" % took
    pids = [int(f.read_text()) for f in work.glob("pids.*")]
    wait_for(lambda: all(process_gone(p) for p in pids), 5,
             "the hung trials to be gone")
    rows = store_rows(str(work / "s.db"))
    assert sorted(s for s, _, _ in rows.values()) == [JOB_STATE_CANCEL] * 2


def test_objectives_killed_by_signals_fail_and_the_run_completes(cli, work):
    obj = script(work, "dies.sh",
                 'case $((PARZEN_TRIAL_ID % 4)) in\n'
                 '1) kill -KILL $$ ;;\n'
                 '2) kill -TERM $$ ;;\n'
                 'esac\n'
                 'sleep 0.1\n' + SQUARE)
    r = run_cli(cli, ["run", str(work / "space.json"), "--max-evals", "24",
                      "--parallelism", "3", "--json", "--store",
                      str(work / "s.db"), "--", obj, "{x}"], 120)
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    fin = [e for e in ev if e["event"] == "finish"]
    assert len(fin) == 24
    for e in fin:
        k = e["id"] % 4
        if k == 1:
            assert e["error"] == "killed by signal 9 (Killed)"
        elif k == 2:
            assert e["error"] == "killed by signal 15 (Terminated)"
        else:
            assert e["state"] == "done", e
    # Slots: never more than 3 running, and 3 again after the first death.
    running, peak_after, seen_death = 0, 0, False
    for e in ev:
        if e["event"] == "start":
            running += 1
            assert running <= 3
            if seen_death:
                peak_after = max(peak_after, running)
        elif e["event"] == "finish":
            running -= 1
            seen_death |= e["state"] == "error"
    assert peak_after == 3
    assert ev[-1] == dict(ev[-1], event="end", reason="max_trials", done=12,
                          failed=12)
    rows = store_rows(str(work / "s.db"))
    assert len(rows) == 24


@long_faults
def test_sigkill_of_the_driver_20_times_loses_nothing(cli, work):
    """parzen run is killed with SIGKILL at random moments (while trials
    run), 20+ times, then resumed to the end. After every kill the file
    passes integrity_check and every trial seen finished stays finished
    with the same loss; at the end exactly N trials are finished."""
    n_target, kills_wanted = 500, 20
    obj = script(work, "obj.sh",
                 'sleep "0.0$((PARZEN_TRIAL_ID % 5))"\n' + SQUARE)
    db = str(work / "s.db")
    args = [cli, "run", str(work / "space.json"), "--max-evals",
            str(n_target), "--parallelism", "3", "--seed", "5", "--quiet",
            "--store", db, "--", obj, "{x}"]
    rng = random.Random(20261127)
    finished = {}  # id -> (state, loss) once seen finished
    kills = 0
    for cycle in range(kills_wanted * 3):
        if kills >= kills_wanted:
            break
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)
        delay = rng.uniform(0.05, 0.35)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait(timeout=30)
        p.stderr.close()
        rows = store_rows(db) if os.path.exists(db) else {}
        for i, (s, l, _) in finished.items():
            assert i in rows and rows[i][:2] == (s, l), \
                "finished trial %d changed after kill %d" % (i, kills)
        for i, (s, l, _) in rows.items():
            if s in (JOB_STATE_DONE, JOB_STATE_ERROR):
                finished[i] = (s, l, None)
        assert len(finished) < n_target, "finished before 20 kills"
    assert kills >= kills_wanted
    # Resume to the end (orphaned trials of the killed runs are lost).
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = store_rows(db)
    done = {i: v for i, v in rows.items()
            if v[0] in (JOB_STATE_DONE, JOB_STATE_ERROR)}
    assert len(done) == n_target
    for i, (s, l, _) in finished.items():
        assert done[i][:2] == (s, l)
    states = [v[0] for v in rows.values()]
    assert JOB_STATE_CANCEL in states, "some kill left a trial running"
    assert all(v[2].startswith("lost:") for v in rows.values()
               if v[0] == JOB_STATE_CANCEL)
    assert not [s for s in states if s not in (JOB_STATE_DONE,
                                               JOB_STATE_ERROR,
                                               JOB_STATE_CANCEL)]


def run_workers(args, n, env, limit):
    """n copies of args at once; their stderr texts. Fails (killing them)
    when they are not all done after limit seconds."""
    t0 = time.monotonic()
    procs = [subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(n)]
    errs = []
    try:
        for p in procs:
            left = max(1.0, limit - (time.monotonic() - t0))
            errs.append(p.communicate(timeout=left)[1].decode())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), errs
    return errs


@long_faults
def test_16_concurrent_runs_on_one_store_lose_and_repeat_nothing(cli, work):
    """16 'parzen run' on one study: first for PZ_FAULT_SECONDS (default
    20) seconds (--timeout), then to an exact shared budget. Every trial
    runs at most once, every finished trial is in the store, the budget
    is met exactly, nothing is left running."""
    seconds = float(os.environ.get("PZ_FAULT_SECONDS", "20"))
    n_workers = 16
    log = work / "ran.log"
    obj = script(work, "obj.sh",
                 'echo "$PARZEN_TRIAL_ID $$" >>"$RAN_LOG"\n'
                 'sleep "0.0$((PARZEN_TRIAL_ID % 3))"\n' + SQUARE)
    env = dict(os.environ, RAN_LOG=str(log))
    db = str(work / "s.db")
    base = [cli, "run", str(work / "space.json"), "--seed", "9", "--algo",
            "tpe", "--quiet", "--store", db]
    cmd = ["--", obj, "{x}"]

    # Phase 1: a bounded time; the runs' --timeout cancels what runs.
    run_workers(base + ["--max-evals", "1000000", "--timeout", str(seconds)]
                + cmd, n_workers, env, seconds + 60)
    rows = store_rows(db)
    ran = [int(line.split()[0]) for line in log.read_text().splitlines()]
    assert len(ran) == len(set(ran)), "a trial ran twice"
    assert set(ran) <= set(rows), "a started trial is missing from the store"
    finished = [i for i, v in rows.items() if v[0] == JOB_STATE_DONE]
    assert set(finished) <= set(ran), "a finished trial never ran"
    # (a trial canceled before its command got to log is CANCEL, unlogged)
    assert len(finished) > 50, "only %d trials in %.0f s" % (len(finished),
                                                              seconds)
    for i, (s, _, e) in rows.items():
        assert s in (JOB_STATE_DONE, JOB_STATE_CANCEL), (i, s, e)
        assert s == JOB_STATE_DONE or e == "canceled: the run's timeout expired"

    # Phase 2: an exact budget shared by 16 processes.
    target = len(finished) + 200
    run_workers(base + ["--max-evals", str(target)] + cmd, n_workers, env,
                120)
    rows = store_rows(db)
    ran = [int(line.split()[0]) for line in log.read_text().splitlines()]
    assert len(ran) == len(set(ran)), "a trial ran twice"
    assert set(ran) <= set(rows)
    done = [i for i, v in rows.items() if v[0] == JOB_STATE_DONE]
    assert set(done) <= set(ran)
    assert len(done) == target, "%d finished for a budget of %d" % (
        len(done), target)
    assert all(v[0] in (JOB_STATE_DONE, JOB_STATE_CANCEL)
               for v in rows.values())
