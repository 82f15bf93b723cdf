"""The one trial loop (parzen._driver): every fmin argument behaves the
same with every executor -- inline, local processes (ParallelTrials),
Spark (SparkTrials on local[2]) -- and storage (Trials, the store)."""

import math
import pickle
import time

import pytest

from parzen import Trials, _driver, _engine, base, fmin, hp, rand, tpe
from parzen.early_stop import no_progress_loss
from parzen.parallel import ParallelTrials
from parzen.store import StoreTrials

SPACE = {"x": hp.uniform("x", -5, 5)}


def square(p):
    return p["x"] ** 2


def constant(p):
    return 1.0


def slow(p):
    time.sleep(0.05)
    return p["x"] ** 2


def zero_below_half(p):
    return 0.0 if p["x"] < 0.5 else 1.0


EXECUTORS = ["inline", "process", "spark"]


@pytest.fixture(scope="module")
def spark_session():
    pytest.importorskip("pyspark")
    from spark_fixtures import session, ship_by_value

    ship_by_value(__name__)
    s = session("local[2]", "parzen-driver-tests")
    yield s
    s.stop()


@pytest.fixture(params=EXECUTORS)
def make_trials(request):
    """A factory of the Trials that selects the executor."""
    kind = request.param
    if kind == "inline":
        return lambda: Trials()
    if kind == "process":
        return lambda: ParallelTrials(2)
    spark = request.getfixturevalue("spark_session")
    from parzen import SparkTrials

    return lambda: SparkTrials(2, spark_session=spark)


def run(make_trials, fn=square, **kw):
    trials = make_trials()
    kw.setdefault("algo", rand.suggest)
    kw.setdefault("rstate", 3)
    kw.setdefault("show_progressbar", False)
    best = fmin(fn, SPACE, trials=trials, **kw)
    return trials, best


def finished(trials):
    return [d for d in trials._dynamic_trials
            if d["state"] in (base.JOB_STATE_DONE, base.JOB_STATE_ERROR)]


def test_points_to_evaluate_run_first_with_every_executor(make_trials):
    trials, best = run(make_trials, max_evals=6,
                       points_to_evaluate=[{"x": 1.5}, {"x": -2.0}])
    xs = [d["misc"]["vals"]["x"][0] for d in trials._dynamic_trials[:2]]
    assert xs == [1.5, -2.0]
    assert all(d["state"] == base.JOB_STATE_DONE
               for d in trials._dynamic_trials[:2])
    # -- as hyperopt: points queued by fmin come on top of max_evals
    assert len(trials) == 8


def test_early_stop_fn_with_every_executor(make_trials):
    trials, _ = run(make_trials, fn=constant, max_evals=200,
                    early_stop_fn=no_progress_loss(3))
    assert 3 <= len(finished(trials)) <= 8  # 3 without progress (+ slots)


def test_loss_threshold_with_every_executor(make_trials):
    trials, best = run(make_trials, fn=zero_below_half, max_evals=200,
                       loss_threshold=0.5)
    losses = [d["result"]["loss"] for d in trials._dynamic_trials
              if d["state"] == base.JOB_STATE_DONE]
    assert 0.0 in losses and len(trials._dynamic_trials) < 30
    assert best["x"] < 0.5


def test_timeout_with_every_executor(make_trials):
    t0 = time.monotonic()
    trials, _ = run(make_trials, fn=slow, max_evals=10_000, timeout=4,
                    return_argmin=False)
    elapsed = time.monotonic() - t0
    # -- on a loaded machine the first Spark task may not even finish
    assert len(finished(trials)) < 200
    assert all(d["state"] in (base.JOB_STATE_DONE, base.JOB_STATE_CANCEL)
               for d in trials._dynamic_trials)
    assert 4 <= elapsed < 4 + 30


def test_max_queue_len_is_the_batch_asked_at_once(make_trials):
    sizes = []

    def algo(new_ids, domain, trials, seed):
        sizes.append(len(new_ids))
        return rand.suggest(new_ids, domain, trials, seed)

    trials, _ = run(make_trials, algo=algo, max_evals=10, max_queue_len=4)
    assert sizes[0] == 4 and sum(sizes) == 10
    assert len(trials) == 10


def test_pickle_checkpoint_with_every_executor(make_trials, tmp_path):
    path = str(tmp_path / "trials.pkl")
    trials, _ = run(make_trials, max_evals=5, trials_save_file=path)
    with open(path, "rb") as f:
        saved = pickle.load(f)
    saved.refresh()
    assert len(saved) == 5
    assert sorted(d["tid"] for d in saved.trials) == \
        sorted(d["tid"] for d in trials.trials)


def test_progress_counts_finished_trials_with_every_executor(make_trials):
    import contextlib

    events = []

    @contextlib.contextmanager
    def bar(initial, total):
        class P:
            postfix = None

            def update(self, n):
                events.append(n)

        events.append(("start", initial, total))
        yield P()

    run(make_trials, max_evals=6, show_progressbar=bar)
    assert events[0] == ("start", 0, 6)
    assert sum(events[1:]) == 6


def test_store_with_every_executor(make_trials, tmp_path):
    path = str(tmp_path / "run.db")
    if isinstance(make_trials(), ParallelTrials):
        make = make_trials
    else:  # -- inline: fmin opens the store itself (trials=None)
        make = lambda: None  # noqa: E731
    trials, _ = run(make, max_evals=7, trials_save_file=path)
    if trials is not None:
        assert len(trials) == 7 and trials.count_successful_trials() == 7
    with StoreTrials(path) as st:
        assert len(st) == 7
        assert sorted(d["tid"] for d in st.trials) == list(range(7))
    # -- a second call resumes from the file
    run(make, max_evals=9, trials_save_file=path)
    with StoreTrials(path) as st:
        assert sorted(d["tid"] for d in st.trials) == list(range(9))


class Recorder:
    def __init__(self):
        self.events = []

    def on_run_start(self, run):
        self.events.append(("start", run.max_evals))

    def on_trial_start(self, run, doc):
        self.events.append(("trial", doc["tid"]))

    def on_trial_end(self, run, doc):
        self.events.append(("end", doc["tid"], doc["state"]))

    def on_run_end(self, run, reason, error):
        self.events.append(("stop", reason, error))


def test_observers_see_every_trial_with_every_executor(make_trials):
    rec = Recorder()
    _driver.add_observer(rec)
    try:
        run(make_trials, max_evals=5)
    finally:
        _driver.remove_observer(rec)
    ev = rec.events
    assert ev[0] == ("start", 5) and ev[-1] == ("stop", None, None)
    started = [e[1] for e in ev if e[0] == "trial"]
    ended = [e[1] for e in ev if e[0] == "end"]
    assert sorted(started) == sorted(ended) == list(range(5))
    assert all(e[2] == base.JOB_STATE_DONE for e in ev if e[0] == "end")


def test_a_failing_observer_never_fails_the_run(caplog):
    class Broken:
        def on_trial_end(self, run, doc):
            raise RuntimeError("tracker down")

    _driver.add_observer(Broken())
    try:
        trials = Trials()
        fmin(square, SPACE, algo=rand.suggest, max_evals=4, trials=trials,
             rstate=1, show_progressbar=False)
    finally:
        _driver._observers.clear()
    assert len(trials) == 4
    assert "tracker down" in caplog.text


def test_algo_module_is_its_suggest():
    trials = Trials()
    fmin(square, SPACE, algo=rand, max_evals=3, trials=trials, rstate=1,
         show_progressbar=False)
    assert len(trials) == 3


# ------------------------------------------------------- incremental


def count_calls(monkeypatch, cls, name):
    calls = []
    orig = getattr(cls, name)

    def wrapper(self, *a, **k):
        calls.append(1)
        return orig(self, *a, **k)

    monkeypatch.setattr(cls, name, wrapper)
    return calls


@pytest.mark.parametrize("kind", ["inline", "process"])
def test_the_driver_never_refreshes_and_the_mirror_never_resyncs(
        monkeypatch, kind):
    trials = Trials() if kind == "inline" else ParallelTrials(2)
    fmin(square, SPACE, algo=tpe.suggest, max_evals=40, trials=trials,
         rstate=1, show_progressbar=False)
    refreshes = count_calls(monkeypatch, base.Trials, "refresh")
    resyncs = count_calls(monkeypatch, _engine.Mirror, "_full_sync")
    # -- more trials in this run, then the resume pattern, one at a time
    fmin(square, SPACE, algo=tpe.suggest, max_evals=60, trials=trials,
         rstate=2, show_progressbar=False)
    for n in range(61, 66):
        fmin(square, SPACE, algo=tpe.suggest, max_evals=n, trials=trials,
             rstate=n, show_progressbar=False)
    assert len(trials) == 65
    assert refreshes == [] and resyncs == []
    # -- a refresh that changed nothing costs the mirror nothing ...
    trials.refresh()
    fmin(square, SPACE, algo=tpe.suggest, max_evals=66, trials=trials,
         rstate=7, show_progressbar=False)
    assert resyncs == []
    # -- ... a document edited in place is detected at the next refresh
    doc = trials.trials[0]
    doc["result"] = {"status": "ok", "loss": -100.0}
    trials.refresh()
    fmin(square, SPACE, algo=tpe.suggest, max_evals=67, trials=trials,
         rstate=8, show_progressbar=False)
    assert len(resyncs) == 1
    (per_space,) = _engine.mirrors_of(trials).values()
    (m,) = per_space.values()
    assert m.study.best()[2] == -100.0
    assert trials.best_trial is doc


def test_best_trial_follows_sync_and_refresh():
    t = Trials()
    fmin(square, SPACE, algo=rand.suggest, max_evals=20, trials=t, rstate=4,
         show_progressbar=False)
    expect = min(t.trials, key=lambda d: d["result"]["loss"])
    assert t.best_trial is expect
    t.trials[-1]["result"] = {"status": "ok", "loss": -1.0}
    t.refresh()
    assert t.best_trial is t.trials[-1]
    t.trials[-1]["state"] = base.JOB_STATE_ERROR
    t.refresh()
    assert t.best_trial is expect
    assert not math.isinf(t.best_trial["result"]["loss"])


def test_asynchronous_trials_run_through_the_driver_with_external_workers():
    """hyperopt's MongoTrials pattern through fmin: the driver inserts
    NEW documents (max_queue_len at a time) and polls them while a worker
    (here a thread) evaluates them from the Domain attachment."""
    import threading

    import cloudpickle

    class AsyncTrials(Trials):
        asynchronous = True

    t = AsyncTrials()
    stop = threading.Event()
    seen_queue = []

    def worker():
        while not stop.is_set():
            blob = t.attachments.get("FMinIter_Domain")
            if blob is not None:
                domain = cloudpickle.loads(blob)
                new = [d for d in list(t._dynamic_trials)
                       if d["state"] == base.JOB_STATE_NEW]
                if new:
                    seen_queue.append(len(new))
                for doc in new:
                    doc["state"] = base.JOB_STATE_RUNNING
                    doc["result"] = domain.evaluate(
                        base.spec_from_misc(doc["misc"]), base.Ctrl(t, doc))
                    doc["state"] = base.JOB_STATE_DONE
            time.sleep(0.005)

    th = threading.Thread(target=worker, daemon=True)
    th.start()
    rec = Recorder()
    _driver.add_observer(rec)
    try:
        best = fmin(square, SPACE, algo=rand.suggest, max_evals=6, trials=t,
                    max_queue_len=3, rstate=2, show_progressbar=False)
    finally:
        _driver.remove_observer(rec)
        stop.set()
        th.join()
    assert len(t) == 6
    assert all(d["state"] == base.JOB_STATE_DONE for d in t.trials)
    assert max(seen_queue) <= 3
    assert sorted(e[1] for e in rec.events if e[0] == "end") == list(range(6))
    assert best == t.argmin


@pytest.mark.parametrize("kind", ["inline", "process"])
def test_loss_threshold_counts_the_trials_of_earlier_calls(kind):
    trials = Trials() if kind == "inline" else ParallelTrials(2)
    fmin(zero_below_half, SPACE, algo=rand.suggest, max_evals=200,
         trials=trials, loss_threshold=0.5, rstate=1, show_progressbar=False)
    n = len(trials._dynamic_trials)
    # -- resumed: the best is already below: one batch, as hyperopt
    fmin(zero_below_half, SPACE, algo=rand.suggest, max_evals=400,
         trials=trials, loss_threshold=0.5, rstate=2, show_progressbar=False)
    assert n < len(trials._dynamic_trials) <= n + 2


def test_ctrl_c_in_a_serial_fmin_records_the_trial_canceled():
    calls = []

    def interrupted(p):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return p["x"]

    t = Trials()
    with pytest.raises(KeyboardInterrupt):
        fmin(interrupted, SPACE, algo=rand.suggest, max_evals=10, trials=t,
             rstate=1, show_progressbar=False)
    states = [d["state"] for d in t._dynamic_trials]
    assert states == [base.JOB_STATE_DONE] * 2 + [base.JOB_STATE_CANCEL]
    assert t._dynamic_trials[2]["misc"]["error"] == (
        "cancelled", "fmin run cancelled by user")
    assert len(t) == 2
