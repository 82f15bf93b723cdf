"""parzen.export.to_optuna and `parzen export --format optuna`: what
optuna.load_study reads back is the run (params with their distributions,
states, values, times, intermediate values), from a Trials, a StoreTrials
and a store file, and the command finds its Python."""

import os
import subprocess
import sys

import pytest

from parzen import STATUS_FAIL, STATUS_OK, StoreTrials, Trials, fmin, hp, \
    rand, tpe
from parzen import _core
from parzen.base import JOB_STATE_DONE, JOB_STATE_NEW, JOB_STATE_RUNNING
from parzen.export import ExportError, to_optuna

optuna = pytest.importorskip("optuna")  # scripts/setup-python.sh installs it
optuna.logging.set_verbosity(optuna.logging.WARNING)
D = optuna.distributions
S = optuna.trial.TrialState

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

SPACE = {
    "x": hp.uniform("x", -3, 3),
    "lr": hp.loguniform("lr", -5, 0),
    "n": hp.quniform("n", 0.5, 10, 2),
    "m": hp.qloguniform("m", 0, 3, 1),
    "w": hp.normal("w", 1, 2),
    "s": hp.lognormal("s", 0, 1),
    "k": hp.randint("k", 2, 7),
    "act": hp.choice("act", ["relu", "tanh", None]),
    "model": hp.choice("model", [
        {"kind": "a"},
        {"kind": "b", "c": hp.qnormal("c", 0, 1, 0.5)},
    ]),
}


def objective(p):
    loss = (p["x"] - 1) ** 2 + p["k"] / 10
    if p["act"] is None:
        raise ValueError("no activation")  # an ERROR trial
    if p["model"]["kind"] == "b" and p["model"]["c"] >= 0.5:
        return {"status": STATUS_FAIL}  # a DONE trial that failed
    return {"loss": loss, "status": STATUS_OK,
            "intermediate_values": [loss * 3, loss * 2, loss]}


def run(trials, n=40):
    fmin(objective, SPACE, algo=tpe.suggest, max_evals=n, trials=trials,
         rstate=__import__("numpy").random.default_rng(5),
         show_progressbar=False, catch_eval_exceptions=True)
    return trials


def url(tmp_path, name="optuna.db"):
    return "sqlite:///" + str(tmp_path / name)


EXPECTED_KINDS = {
    "x": (D.FloatDistribution, False, None),
    "lr": (D.FloatDistribution, True, None),
    "n": (D.FloatDistribution, False, 2.0),
    "m": (D.FloatDistribution, False, 1.0),
    "w": (D.FloatDistribution, False, None),
    "s": (D.FloatDistribution, True, None),
    "c": (D.FloatDistribution, False, 0.5),
    "k": (D.IntDistribution, False, 1),
}


def doc_durations(docs):
    return {d["tid"]: (d["refresh_time"] - d["book_time"]).total_seconds()
            for d in docs}


def store_durations(path, study):
    with _core.Store(path, create=False) as store:
        store.open_study(study)
        return {r["id"]: r["finished_at"] - r["started_at"]
                for r in store.trials()}


def check_study(study, docs, act_choices, durations,
                model_choices=("a", "b")):
    """The Optuna trials are the documents, one for one."""
    got = study.get_trials(deepcopy=False)
    assert len(got) == len(docs)
    kinds = set()
    for t, doc in zip(got, docs):
        assert t.user_attrs["parzen_tid"] == doc["tid"]
        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
        # -- active parameters only, each with its value
        assert set(t.params) == set(vals), (t.params, vals)
        for label, v in vals.items():
            dist = t.distributions[label]
            if label == "act":
                assert dist == D.CategoricalDistribution(act_choices)
                assert t.params[label] == act_choices[v]
            elif label == "model":
                assert dist == D.CategoricalDistribution(model_choices)
                assert t.params[label] == model_choices[v]
            else:
                cls, log, step = EXPECTED_KINDS[label]
                assert type(dist) is cls
                assert (dist.log, dist.step) == (log, step), (label, dist)
                assert t.params[label] == v
                assert dist._contains(dist.to_internal_repr(v))
        if "c" in t.params:
            assert t.params["model"] == model_choices[1]  # c only there
        # -- state and value
        result = doc["result"]
        if doc["state"] == JOB_STATE_DONE and result["status"] == STATUS_OK:
            assert t.state == S.COMPLETE
            assert t.value == result["loss"]
            assert t.intermediate_values == {
                i: v for i, v in enumerate(result["intermediate_values"])}
        else:
            assert t.state == S.FAIL and t.value is None
            assert t.user_attrs["parzen_error"]
        kinds.add(t.state)
        # -- times
        assert t.datetime_start is not None
        assert t.datetime_complete >= t.datetime_start
        secs = durations[doc["tid"]]
        assert abs(t.duration.total_seconds() - secs) < 2e-6, (t, secs)
    # -- the run had all three outcomes: the test covers them
    assert kinds == {S.COMPLETE, S.FAIL}
    assert any(d["state"] != JOB_STATE_DONE for d in docs)
    assert any(d["state"] == JOB_STATE_DONE and
               d["result"]["status"] == STATUS_FAIL for d in docs)


def test_trials_round_trip(tmp_path):
    trials = run(Trials())
    to_optuna(trials, url(tmp_path), space=SPACE)
    study = optuna.load_study(study_name="parzen", storage=url(tmp_path))
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    check_study(study, trials._dynamic_trials, ["relu", "tanh", None],
                doc_durations(trials._dynamic_trials))
    best = min(d["result"]["loss"] for d in trials._dynamic_trials
               if d["result"].get("status") == STATUS_OK)
    assert study.best_value == best


def test_store_trials_and_store_file(tmp_path):
    path = str(tmp_path / "run.db")
    with StoreTrials(path, study="svc") as st:
        run(st)
        docs = list(st._dynamic_trials)
        to_optuna(st, url(tmp_path, "a.db"))
    durations = store_durations(path, "svc")
    study = optuna.load_study(study_name="svc", storage=url(tmp_path, "a.db"))
    check_study(study, docs, ["relu", "tanh", None], durations)
    # -- the file, read by another process's view: the JSON form of an hp
    # space keeps option indices, not literal options
    to_optuna(path, url(tmp_path, "b.db"), source_study="svc")
    study = optuna.load_study(study_name="svc", storage=url(tmp_path, "b.db"))
    check_study(study, docs, [0, 1, 2], durations, model_choices=(0, 1))
    with pytest.raises(_core.NotFoundError, match="no study 'nope'"):
        to_optuna(path, url(tmp_path, "c.db"), source_study="nope")


def test_choice_names():
    from parzen.export import _OPAQUE, _json_choices, _names

    with open(os.path.join(ROOT, "examples", "cli", "space.json")) as f:
        kernel = _json_choices(f.read())["kernel"]
    assert _names(kernel) == ["linear", "rbf", "poly"]  # the "name" key
    assert _names([{"k": 1, "s": "x"}, {"k": 2, "s": "y"}]) == ["x", "y"]
    assert _names([{"k": 1}, {"k": 2}]) == [1, 2]  # no string key
    assert _names([{"k": 1}, {"k": 1}]) is None  # not distinct
    assert _names([1, True]) is None  # equal for Python: indices
    assert _names([0.5, float("nan")]) is None
    assert _names(["a", _OPAQUE]) is None  # a sub-space option
    assert _names([None, "x", 2.5]) == [None, "x", 2.5]


def test_waiting_and_running_trials(tmp_path):
    space = {"x": hp.uniform("x", 0, 1)}
    trials = Trials()
    fmin(lambda p: p["x"], space, algo=rand.suggest, max_evals=3,
         trials=trials, show_progressbar=False)
    docs = trials._dynamic_trials
    docs[1]["state"] = JOB_STATE_RUNNING
    docs[2]["state"] = JOB_STATE_NEW
    docs[2]["book_time"] = docs[2]["refresh_time"] = None
    study = to_optuna(trials, url(tmp_path), space=space)
    got = study.get_trials(deepcopy=False)
    assert [t.state for t in got] == [S.COMPLETE, S.RUNNING, S.WAITING]
    assert got[1].datetime_complete is None and got[2].datetime_start is None
    assert got[2].params == {"x": docs[2]["misc"]["vals"]["x"][0]}


def test_space_needed_for_a_plain_trials(tmp_path):
    space = {"x": hp.uniform("x", 0, 1)}
    trials = Trials()
    fmin(lambda p: p["x"], space, algo=tpe.suggest, max_evals=2,
         trials=trials, show_progressbar=False)
    with pytest.raises(ExportError, match="pass space="):
        to_optuna(trials, url(tmp_path))
    with pytest.raises(TypeError, match="got list"):
        to_optuna(trials.trials, url(tmp_path))
    assert len(to_optuna(trials, url(tmp_path), space=space).trials) == 2


def test_existing_study_and_replace(tmp_path):
    trials = Trials()
    fmin(lambda p: p["x"], {"x": hp.uniform("x", 0, 1)}, algo=rand.suggest,
         max_evals=5, trials=trials, show_progressbar=False)
    space = {"x": hp.uniform("x", 0, 1)}
    to_optuna(trials, url(tmp_path), space=space)
    with pytest.raises(ExportError, match="'parzen' already exists.*replace"):
        to_optuna(trials, url(tmp_path), space=space)
    to_optuna(trials, url(tmp_path), space=space, replace=True)
    assert len(optuna.load_study(study_name="parzen",
                                 storage=url(tmp_path)).trials) == 5


def test_bad_intermediate_values_name_the_trial(tmp_path):
    space = {"x": hp.uniform("x", 0, 1)}
    trials = Trials()
    fmin(lambda p: {"loss": p["x"], "status": STATUS_OK,
                    "intermediate_values": {"first": 1.0}},
         space, algo=rand.suggest, max_evals=1, trials=trials,
         show_progressbar=False)
    with pytest.raises(ExportError, match="trial 0: intermediate_values"):
        to_optuna(trials, url(tmp_path), space=space)


def test_unbounded_and_quantized_ranges_hold_every_value(tmp_path):
    # -- far tails: the exported ranges widen to the values
    space = {"w": hp.normal("w", 0, 1e-3), "q": hp.qnormal("q", 0, 0.1, 1),
             "s": hp.qlognormal("s", 0, 0.1, 1)}
    trials = Trials()
    for i, (w, q, s) in enumerate([(5.0, 7.0, 0.0), (-4.0, -9.0, 3.0)]):
        trials.insert_trial_docs(trials.new_trial_docs(
            [i], [None], [{"status": STATUS_OK, "loss": float(i)}],
            [{"tid": i, "cmd": None, "workdir": None,
              "idxs": {"w": [i], "q": [i], "s": [i]},
              "vals": {"w": [w], "q": [q], "s": [s]}}]))
    for d in trials._dynamic_trials:
        d["state"] = JOB_STATE_DONE
    trials.refresh()
    study = to_optuna(trials, url(tmp_path), space=space)
    t = study.trials[1]
    assert t.params == {"w": -4.0, "q": -9.0, "s": 3.0}
    assert t.distributions["q"] == D.FloatDistribution(-9.0, 7.0, step=1.0)
    assert t.distributions["w"].low == -4.0 and \
        t.distributions["w"].high == 5.0
    assert t.distributions["s"].low == 0.0  # qlognormal can round to 0


# ---------------------------------------------------------------- CLI


def cli_in_venv():
    """The parzen command pip installed beside this interpreter."""
    exe = os.path.join(os.path.dirname(sys.executable), "parzen")
    if not os.access(exe, os.X_OK):
        pytest.skip("no parzen command beside %s (scripts/setup-python.sh "
                    "installs it)" % sys.executable)
    return exe


def cli_run(store_dir, *args, env=None):
    full = dict(os.environ if env is None else env)
    return subprocess.run(args, cwd=str(store_dir), env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    with StoreTrials(str(d / "parzen.db"), study="default") as st:
        run(st, 12)
    return d


def test_cli_finds_the_python_beside_it(store_dir):
    exe = cli_in_venv()
    # -- no parzen on PATH and no PARZEN_PYTHON: it uses bin/python3
    env = {k: v for k, v in os.environ.items() if k != "PARZEN_PYTHON"}
    env["PATH"] = "/usr/bin:/bin"
    r = cli_run(store_dir, exe, "export", "--format", "optuna", "--to",
                "sqlite:///o1.db", env=env)
    assert r.returncode == 0, r.stderr
    assert "study 'default': 12 trials written" in r.stderr
    study = optuna.load_study(study_name="default",
                              storage="sqlite:///%s/o1.db" % store_dir)
    assert len(study.trials) == 12
    # -- again: the study exists (exit 2), --replace replaces it
    r = cli_run(store_dir, exe, "export", "--format", "optuna", "--to",
                "sqlite:///o1.db", env=env)
    assert r.returncode == 2
    assert r.stderr.startswith("parzen: study 'default' already exists")
    r = cli_run(store_dir, exe, "export", "--format", "optuna", "--to",
                "sqlite:///o1.db", "--replace", env=env)
    assert r.returncode == 0, r.stderr


def build_tree_cli():
    for d in ("build/ci", "build/dev", "build"):
        exe = os.path.join(ROOT, d, "parzen")
        if os.access(exe, os.X_OK):
            return exe
    return None


@pytest.mark.parametrize("where", ["venv", "build tree"])
def test_cli_errors(store_dir, tmp_path, where):
    exe = cli_in_venv() if where == "venv" else build_tree_cli()
    if exe is None:
        pytest.skip("no build tree with a parzen command")
    env = dict(os.environ)
    r = cli_run(store_dir, exe, "export", "--format", "optuna", env=env)
    assert r.returncode == 2
    assert "--format optuna needs --to STORAGE_URL" in r.stderr
    r = cli_run(store_dir, exe, "export", "--to", "sqlite:///x.db", env=env)
    assert (r.returncode, r.stderr) == (
        2, "parzen: export: --to is for --format optuna only\n")
    r = cli_run(store_dir, exe, "export", "--format", "optuna", "--to",
                "sqlite:///x.db", "--study", "nope", env=env)
    assert (r.returncode, r.stderr) == (
        1, "parzen: no study 'nope' in 'parzen.db'\n")
    # -- an interpreter that is not there
    env["PARZEN_PYTHON"] = str(tmp_path / "no-python")
    r = cli_run(store_dir, exe, "export", "--format", "optuna", "--to",
                "sqlite:///x.db", env=env)
    assert r.returncode == 1
    assert "cannot run Python '%s'" % env["PARZEN_PYTHON"] in r.stderr
    # -- a Python without parzen: a venv of the base interpreter
    venv = tmp_path / "bare"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip",
                    str(venv)], check=True, timeout=120)
    env["PARZEN_PYTHON"] = str(venv / "bin" / "python")
    env.pop("PYTHONPATH", None)
    r = cli_run(store_dir, exe, "export", "--format", "optuna", "--to",
                "sqlite:///x.db", env=env)
    assert r.returncode == 1
    assert "cannot import parzen.export" in r.stderr
    assert "PARZEN_PYTHON" in r.stderr
    # -- the build tree's command with the test interpreter named
    env["PARZEN_PYTHON"] = sys.executable
    r = cli_run(store_dir, exe, "export", "--format", "optuna", "--to",
                "sqlite:///b-%s.db" % where.replace(" ", ""), env=env)
    assert r.returncode == 0, r.stderr


def test_python_module_without_optuna(store_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import fails
    from parzen import export

    rc = export.main(["--store", str(store_dir / "parzen.db"), "--to",
                      "sqlite:///never.db"], prog="parzen export")
    assert rc == 1
    assert not (store_dir / "never.db").exists()
