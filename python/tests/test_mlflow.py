"""MLflow tracking (parzen.tracking) against real MLflow stores: a
sqlite:/// backend and an `mlflow server` started on 127.0.0.1."""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow")

from parzen import Trials, fmin, hp, rand, tracking  # noqa: E402
from parzen.parallel import ParallelTrials  # noqa: E402
from parzen.store import StoreTrials  # noqa: E402

WAIT = 300  # seconds for a logging process to finish (MLflow imports slowly)

SPACE = {"x": hp.uniform("x", -5, 5), "k": hp.choice("k", ["a", "b"])}


def objective(p):
    if p["x"] > 3.5:
        raise ValueError("x too large: %.3f" % p["x"])
    return {"loss": p["x"] ** 2, "status": "ok", "accuracy": 1 - abs(p["x"])}


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    """An MLflow database with its schema made (MLflow's migrations take
    a minute on a loaded machine): each test gets a copy."""
    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    here = os.getcwd()
    os.chdir(path.parent)  # the default experiment's artifacts: in there
    try:
        mlflow.MlflowClient("sqlite:///%s" % path).search_experiments()
    finally:
        os.chdir(here)
    return path


def fresh_db(empty_db, path):
    shutil.copyfile(empty_db, path)
    return "sqlite:///" + str(path)


@pytest.fixture
def uri(tmp_path, monkeypatch, empty_db):
    monkeypatch.chdir(tmp_path)  # sqlite's artifacts land in ./mlruns
    monkeypatch.delenv(tracking.ENV_SWITCH, raising=False)
    return fresh_db(empty_db, tmp_path / "mlflow.db")


def children(client, parent):
    runs = client.search_runs(
        [client.get_run(parent).info.experiment_id],
        filter_string="tags.mlflow.parentRunId = '%s'" % parent,
        max_results=5000)
    return {int(r.data.tags["parzen.trial_id"]): r for r in runs}


def check_trials(client, parent, trials):
    """One child per finished trial, with its params, loss and state."""
    kids = children(client, parent)
    finished = [t for t in trials._dynamic_trials if t["state"] in (2, 3)]
    assert sorted(kids) == sorted(t["tid"] for t in finished)
    for t in finished:
        run = kids[t["tid"]]
        for label, v in t["misc"]["vals"].items():
            if v:
                assert float(run.data.params[label]) == pytest.approx(v[0])
        if t["state"] == 2:
            assert run.info.status == "FINISHED"
            assert run.data.metrics["loss"] == pytest.approx(
                t["result"]["loss"])
            assert run.data.tags["parzen.state"] == "done"
        else:
            assert run.info.status == "FAILED"
            assert run.data.tags["parzen.state"] == "error"
            assert "x too large" in run.data.tags["parzen.error"]
    return kids


def finish():
    summary = tracking.wait(WAIT)
    assert summary is not None, "the logging process did not finish"
    return summary


def test_trials_parent_children_and_best(uri):
    trials = Trials()
    best = fmin(objective, SPACE, algo=rand.suggest, max_evals=15,
                trials=trials, rstate=np.random.default_rng(3),
                catch_eval_exceptions=True, show_progressbar=False,
                mlflow_tracking=uri)
    s = finish()
    assert s["logged"] == 15 and s["not_logged"] == 0
    client = mlflow.MlflowClient(uri)
    parent = client.get_run(s["parent"])
    assert parent.info.status == "FINISHED"
    assert parent.data.params["algorithm"] == "rand.suggest"
    assert parent.data.params["max_evals"] == "15"
    assert parent.data.params["parallelism"] == "1"
    assert "x: uniform" in parent.data.params["space"]
    n_err = sum(t["state"] == 3 for t in trials._dynamic_trials)
    assert n_err > 0  # the seed gives failing trials
    assert parent.data.metrics["trials_done"] == 15 - n_err
    assert parent.data.metrics["trials_error"] == n_err
    assert parent.data.metrics["best_loss"] == pytest.approx(
        min(trials.losses(), key=lambda v: np.inf if v is None else v))
    assert float(parent.data.tags["best.x"]) == pytest.approx(best["x"])
    kids = check_trials(client, s["parent"], trials)
    done = [t for t in trials.trials if t["state"] == 2]
    run = kids[done[0]["tid"]]
    assert run.data.metrics["accuracy"] == pytest.approx(
        done[0]["result"]["accuracy"])
    assert "duration_s" in run.data.metrics
    path = client.download_artifacts(s["parent"], "best.json")
    with open(path) as f:
        best_doc = json.load(f)
    assert best_doc["argmin"]["x"] == pytest.approx(best["x"])
    assert best_doc["point"]["k"] in ("a", "b")


def test_active_run_is_the_parent_and_switches(uri, monkeypatch):
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as run:  # on by itself: a run is active
            fmin(lambda p: p["x"] ** 2, SPACE, algo=rand.suggest,
                 max_evals=6, trials=Trials(),
                 rstate=np.random.default_rng(0), show_progressbar=False)
            finish()
            client = mlflow.MlflowClient(uri)
            assert len(children(client, run.info.run_id)) == 6
            # the user's run is theirs to end
            assert client.get_run(run.info.run_id).info.status == "RUNNING"
            fmin(lambda p: 1.0, SPACE, algo=rand.suggest, max_evals=3,
                 trials=Trials(), rstate=np.random.default_rng(0),
                 show_progressbar=False, mlflow_tracking=False)
            monkeypatch.setenv(tracking.ENV_SWITCH, "0")
            fmin(lambda p: 1.0, SPACE, algo=rand.suggest, max_evals=3,
                 trials=Trials(), rstate=np.random.default_rng(0),
                 show_progressbar=False, mlflow_tracking=True)
            assert len(children(client, run.info.run_id)) == 6
    finally:
        mlflow.set_tracking_uri(None)


def test_objective_logs_into_its_trial_run(uri):
    def fn(p):
        run_id = tracking.trial_run_id()
        mlflow.MlflowClient(uri).log_metric(run_id, "inner", p["x"])
        return p["x"] ** 2

    trials = Trials()
    fmin(fn, {"x": hp.uniform("x", 0, 1)}, algo=rand.suggest, max_evals=4,
         trials=trials, rstate=np.random.default_rng(1),
         show_progressbar=False, mlflow_tracking=uri)
    s = finish()
    kids = children(mlflow.MlflowClient(uri), s["parent"])
    assert len(kids) == 4
    for t in trials.trials:
        m = kids[t["tid"]].data.metrics
        assert m["inner"] == pytest.approx(t["misc"]["vals"]["x"][0])
        assert m["loss"] == pytest.approx(t["result"]["loss"])
    assert tracking.trial_run_id() is None  # outside a trial


def test_attachments_become_artifacts(uri):
    def fn(p):
        return {"loss": p["x"], "status": "ok",
                "attachments": {"note.txt": "x was %r" % p["x"]}}

    trials = Trials()
    fmin(fn, {"x": hp.uniform("x", 0, 1)}, algo=rand.suggest, max_evals=2,
         trials=trials, rstate=np.random.default_rng(1),
         show_progressbar=False, mlflow_tracking=uri)
    s = finish()
    client = mlflow.MlflowClient(uri)
    for tid, run in children(client, s["parent"]).items():
        with open(client.download_artifacts(run.info.run_id, "note.txt")) as f:
            x = trials._dynamic_trials[tid]["misc"]["vals"]["x"][0]
            assert f.read() == "x was %r" % x


def env_objective(p):
    if p["x"] > 3.5:
        raise ValueError("x too large: %.3f" % p["x"])
    return {"loss": p["x"] ** 2, "status": "ok",
            "run_id": os.environ.get("PARZEN_MLFLOW_RUN_ID")}


def test_parallel_trials_workers_see_their_run_id(uri):
    trials = ParallelTrials(parallelism=2)
    fmin(env_objective, SPACE, algo=rand.suggest, max_evals=12,
         trials=trials, rstate=np.random.default_rng(3),
         show_progressbar=False, mlflow_tracking=uri)
    s = finish()
    client = mlflow.MlflowClient(uri)
    assert client.get_run(s["parent"]).data.params["parallelism"] == "2"
    kids = check_trials(client, s["parent"], trials)
    assert len(kids) == 12
    for t in trials.trials:
        if t["state"] == 2:
            assert t["result"]["run_id"] == kids[t["tid"]].info.run_id


SPARK_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, sys.argv[2])
from spark_fixtures import connect_session, session, ship_by_value
import numpy as np
from parzen import SparkTrials, fmin, hp, rand, tracking

def objective(p):
    # executors need neither parzen nor MLflow
    assert "parzen" not in sys.modules and "mlflow" not in sys.modules
    if p["x"] > 3.5:
        raise ValueError("x too large: %.3f" % p["x"])
    return {"loss": p["x"] ** 2, "status": "ok",
            "run_id": os.environ.get("PARZEN_MLFLOW_RUN_ID")}

ship_by_value(__name__)
if sys.argv[3] == "connect":
    spark = connect_session("local[2]")
else:
    spark = session("local[2]", "parzen-mlflow-tests")
try:
    trials = SparkTrials(parallelism=2, spark_session=spark)
    fmin(objective, {"x": hp.uniform("x", -5, 5),
                     "k": hp.choice("k", ["a", "b"])},
         algo=rand.suggest, max_evals=8, trials=trials,
         rstate=np.random.default_rng(3), show_progressbar=False,
         mlflow_tracking=sys.argv[1])
finally:
    spark.stop()
print(json.dumps({"summary": tracking.wait(300),
                  "docs": [{"tid": t["tid"], "state": t["state"],
                            "misc": {"vals": t["misc"]["vals"],
                                     "error": t["misc"].get("error")},
                            "result": t["result"]}
                           for t in trials._dynamic_trials]}))
"""


class _Docs:
    def __init__(self, docs):
        self._dynamic_trials = docs


@pytest.mark.parametrize("kind", ["classic", "connect"])
def test_spark_trials_executors_see_their_run_id(uri, tmp_path, kind):
    """Classic Spark and Spark Connect, each in a process of its own: a
    Spark session started and stopped here must not be the one the other
    test modules get."""
    pytest.importorskip("pyspark")
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, "-c", SPARK_SCRIPT, uri, here, kind],
                       capture_output=True, text=True, timeout=900,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    s, docs = out["summary"], out["docs"]
    assert s["logged"] == 8 and s["not_logged"] == 0
    client = mlflow.MlflowClient(uri)
    assert client.get_run(s["parent"]).data.params["trials_class"] == \
        "SparkTrials"
    kids = check_trials(client, s["parent"], _Docs(docs))
    assert len(kids) == 8
    for t in docs:
        if t["state"] == 2:
            assert t["result"]["run_id"] == kids[t["tid"]].info.run_id


def test_store_trials_resume_logs_no_trial_twice(uri, tmp_path):
    path = str(tmp_path / "study.db")
    for n in (5, 9):
        with StoreTrials(path) as trials:
            fmin(objective, SPACE, algo=rand.suggest, max_evals=n,
                 trials=trials, rstate=np.random.default_rng(n),
                 catch_eval_exceptions=True, show_progressbar=False,
                 mlflow_tracking=uri)
            s = finish()
            if n == 5:
                first_parent = s["parent"]
    assert s["parent"] == first_parent  # the same parent run continues
    with StoreTrials(path) as trials:
        kids = check_trials(mlflow.MlflowClient(uri), s["parent"], trials)
    assert len(kids) == 9
    runs = mlflow.MlflowClient(uri).search_runs(
        ["0"], filter_string="tags.`parzen.search_key` != ''",
        max_results=100)
    assert len(runs) == 1  # one parent for the study


def test_no_mlflow_import_unless_tracking(tmp_path):
    code = ("import sys\n"
            "from parzen import fmin, hp, rand\n"
            "fmin(lambda p: p['x'], {'x': hp.uniform('x', 0, 1)},\n"
            "     algo=rand.suggest, max_evals=3, show_progressbar=False)\n"
            "assert 'mlflow' not in sys.modules, 'mlflow imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                   timeout=120)


def test_asking_without_mlflow_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tracking, "_mlflow_installed", lambda: False)
    monkeypatch.delitem(sys.modules, "mlflow")
    with pytest.raises(ImportError, match=r"parzen\[mlflow\]"):
        fmin(lambda p: 1.0, SPACE, algo=rand.suggest, max_evals=2,
             show_progressbar=False, mlflow_tracking=True)


# ------------------------------------------------------ a real server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`mlflow server` on 127.0.0.1; start() waits until it answers."""

    def __init__(self, tmp_path, port, empty_db):
        self.port = port
        self.db = fresh_db(empty_db, tmp_path / "server.db")
        self.art = str(tmp_path / "artifacts")
        self.log = open(tmp_path / "server.log", "a")
        self.proc = None

    @property
    def uri(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=180):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", self.db,
             "--artifacts-destination", self.art],
            stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        import urllib.request

        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "mlflow server exited"
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("mlflow server did not answer in %ss" % timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory, empty_db):
    """One server for the module (each start takes a minute on a loaded
    machine): the tests below restart it when they need it up."""
    s = Server(tmp_path_factory.mktemp("server"), free_port(), empty_db)
    yield s
    s.kill()
    s.log.close()


@pytest.fixture
def server(module_server, monkeypatch):
    monkeypatch.delenv(tracking.ENV_SWITCH, raising=False)
    monkeypatch.setenv("PARZEN_MLFLOW_DRAIN_TIMEOUT", "8")
    if module_server.proc is None or module_server.proc.poll() is not None:
        module_server.start()
    return module_server


def test_server_trials(server):
    trials = Trials()
    fmin(objective, SPACE, algo=rand.suggest, max_evals=8, trials=trials,
         rstate=np.random.default_rng(3), catch_eval_exceptions=True,
         show_progressbar=False, mlflow_tracking=server.uri)
    s = finish()
    assert s["logged"] == 8
    check_trials(mlflow.MlflowClient(server.uri), s["parent"], trials)


def test_logging_catches_up_when_the_server_returns(server, monkeypatch):
    monkeypatch.setenv("PARZEN_MLFLOW_DRAIN_TIMEOUT", "240")
    server.kill()
    trials = Trials()
    fmin(lambda p: p["x"], {"x": hp.uniform("x", 0, 1)}, algo=rand.suggest,
         max_evals=6, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False, mlflow_tracking=server.uri)
    server.start()  # the logger retries and catches up
    s = finish()
    assert s["logged"] == 6 and s["not_logged"] == 0
    check_trials(mlflow.MlflowClient(server.uri), s["parent"], trials)


def test_server_killed_mid_run_warns_and_counts(server, caplog):
    run_ids = {}

    def fn(p):
        run_ids[len(run_ids)] = tracking.trial_run_id()
        return p["x"] ** 2

    def early_stop(trials, *args):
        if len(trials.trials) == 3:
            server.kill()  # after 3 trials, for the rest of the run
        return False, args

    caplog.set_level(logging.INFO, logger="parzen.tracking")
    trials = Trials()
    fmin(fn, {"x": hp.uniform("x", 0, 1)}, algo=rand.suggest, max_evals=10,
         trials=trials, rstate=np.random.default_rng(0),
         early_stop_fn=early_stop, show_progressbar=False,
         mlflow_tracking=server.uri)
    assert len(trials.trials) == 10  # the search completed
    assert run_ids[0] is not None  # the server was up
    assert all(run_ids[t] is None for t in range(3, 10))  # and then gone
    s = finish()
    assert s["not_logged"] > 0 and s["logged"] + s["not_logged"] == 10
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("tuning goes on" in m for m in msgs) == 1, msgs  # warned once
    assert any("%d trials not logged" % s["not_logged"] in m
               for m in msgs), msgs


# ------------------------------------------------- parzen run --mlflow

CLI_SPACE = {"x": {"hp": "uniform", "low": -5, "high": 5},
             "k": {"hp": "choice", "options": ["a", "b"]}}
# x > 3 fails (exit 1); else the loss is x*x; each trial prints a line
CLI_OBJECTIVE = ("import sys; x = float(sys.argv[1]); print('seen', x); "
                 "sys.exit(1) if x > 3 else print(x * x)")


def find_cli():
    import glob

    if os.environ.get("PARZEN_CLI"):
        return os.environ["PARZEN_CLI"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    found = [p for p in glob.glob(os.path.join(root, "build*", "*", "parzen"))
             + glob.glob(os.path.join(root, "build*", "parzen"))
             if os.access(p, os.X_OK) and os.path.isfile(p)]
    return max(found, key=os.path.getmtime) if found else None


@pytest.fixture
def cli(tmp_path, monkeypatch):
    path = find_cli()
    if path is None:
        pytest.skip("no parzen binary (cmake --build a build dir, or set "
                    "PARZEN_CLI)")
    monkeypatch.setenv("PARZEN_PYTHON", sys.executable)
    with open(tmp_path / "space.json", "w") as f:
        json.dump(CLI_SPACE, f)
    return path


def run_cli(cli, tmp_path, uri, n, *extra, **kw):
    return subprocess.run(
        [cli, "run", "space.json", "--max-evals", str(n), "--seed", "7",
         "--mlflow", uri, *extra, "--", sys.executable, "-c", CLI_OBJECTIVE,
         "{x}"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        **kw)


def test_cli_logs_the_study_and_resumes_without_duplicates(cli, tmp_path,
                                                           uri):
    from parzen import _core

    r = run_cli(cli, tmp_path, uri, 5)
    assert r.returncode == 0, r.stderr
    r = run_cli(cli, tmp_path, uri, 9, "--parallelism", "2")
    assert r.returncode == 0, r.stderr
    client = mlflow.MlflowClient(uri)
    parents = client.search_runs(
        ["0"], filter_string="tags.`parzen.search_key` != ''")
    assert len(parents) == 1  # the resumed run continued the same parent
    parent = parents[0]
    assert parent.data.params["algorithm"] == "mtpe"  # the CLI default
    assert parent.data.params["max_evals"] == "5"
    assert parent.data.tags["parzen.max_evals"] == "9"  # the resumed run's
    kids = children(client, parent.info.run_id)
    with _core.Store(str(tmp_path / "parzen.db"), create=False) as store:
        store.open_study("default")
        recs = {rec["id"]: store.get_trial(rec["id"])
                for rec in store.trials()}
    assert sorted(kids) == sorted(recs) and len(kids) == 9
    for tid, rec in recs.items():
        run = kids[tid]
        assert float(run.data.params["x"]) == pytest.approx(rec["values"][0])
        if rec["state"] == 2:
            assert run.data.metrics["loss"] == pytest.approx(rec["loss"])
            assert run.info.status == "FINISHED"
        else:
            assert run.info.status == "FAILED"
            assert "exit status 1" in run.data.tags["parzen.error"]
        with open(client.download_artifacts(run.info.run_id,
                                            "stdout.txt")) as f:
            assert f.read().startswith("seen ")
    n_done = sum(rec["state"] == 2 for rec in recs.values())
    assert parent.data.metrics["trials_done"] == n_done


def test_cli_without_mlflow_is_a_clear_error(cli, tmp_path, uri):
    fake = tmp_path / "fake"
    (fake / "mlflow").mkdir(parents=True)
    (fake / "mlflow" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'mlflow'\")\n")
    env = dict(os.environ, PYTHONPATH=str(fake))
    r = run_cli(cli, tmp_path, uri, 3, env=env)
    assert r.returncode == 2
    assert "--mlflow: MLflow is not installed" in r.stderr
    assert "parzen[mlflow]" in r.stderr
    with __import__("parzen")._core.Store(str(tmp_path / "parzen.db"),
                                          create=False) as store:
        store.open_study("default")
        assert store.trials() == []  # no trial ran
    env = dict(os.environ, PARZEN_PYTHON=str(tmp_path / "no-such-python"))
    r = run_cli(cli, tmp_path, uri, 3, env=env)
    assert r.returncode == 2
    assert "--mlflow: cannot run" in r.stderr and "PARZEN_PYTHON" in r.stderr
