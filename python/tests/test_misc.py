"""early_stop, progress, plotting, package layout and names."""

import io
import sys

import numpy as np
import pytest

import parzen
from parzen import STATUS_FAIL, STATUS_OK, Trials, fmin, hp, rand
from parzen.early_stop import no_progress_loss


class TestNoProgressLoss:
    @staticmethod
    def trials_with(results):
        t = Trials()
        docs = []
        for i, r in enumerate(results):
            docs.append({"tid": i, "state": 2, "spec": None, "result": r,
                         "misc": {"tid": i, "cmd": None, "idxs": {},
                                  "vals": {}},
                         "exp_key": None, "owner": None, "version": 0,
                         "book_time": None, "refresh_time": None})
        t.insert_trial_docs(docs)
        t.refresh()
        return t

    def test_first_call_counts_one(self):
        fn = no_progress_loss(3)
        t = self.trials_with([{"status": STATUS_OK, "loss": 1.0}])
        assert fn(t) == (False, [1.0, 1])

    def test_counter_and_reset(self):
        fn = no_progress_loss(2)
        t = self.trials_with([{"status": STATUS_OK, "loss": 2.0}])
        assert fn(t, 1.0, 0) == (False, [1.0, 1])
        assert fn(t, 1.0, 1) == (True, [1.0, 2])
        t = self.trials_with([{"status": STATUS_OK, "loss": 0.5}])
        assert fn(t, 1.0, 1) == (False, [0.5, 0])

    def test_percent_increase(self):
        fn = no_progress_loss(5, percent_increase=10.0)
        t = self.trials_with([{"status": STATUS_OK, "loss": 0.95}])
        # -- 0.95 is not below 1.0 - 10%
        assert fn(t, 1.0, 0) == (False, [1.0, 1])

    @pytest.mark.parametrize("result", [{"status": STATUS_FAIL},
                                        {"status": STATUS_OK, "loss": None},
                                        {"status": STATUS_OK,
                                         "loss": float("nan")}])
    def test_lossless_last_trial_is_no_progress(self, result):
        # -- upstream raises KeyError('loss') here
        fn = no_progress_loss(2)
        t = self.trials_with([result])
        assert fn(t, 1.0, 0) == (False, [1.0, 1])

    def test_in_fmin_with_failures(self):
        n = [0]

        def obj(x):
            n[0] += 1
            if n[0] % 3 == 0:
                return {"status": STATUS_FAIL}
            return {"status": STATUS_OK, "loss": 5.0}

        t = Trials()
        fmin(obj, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=100,
             trials=t, early_stop_fn=no_progress_loss(5),
             show_progressbar=False)
        assert len(t) == 5


class TestProgress:
    def test_tqdm_bar_and_stdout_restored(self):
        out, err = sys.stdout, sys.stderr
        seen = []

        def fn(x):
            seen.append(type(sys.stdout).__name__)
            print("inside")
            return x

        fmin(fn, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=3)
        assert sys.stdout is out and sys.stderr is err
        assert seen == ["DummyTqdmFile"] * 3

    def test_progress_callbacks(self):
        from parzen import progress

        with progress.no_progress_callback(initial=0, total=3) as p:
            p.update(1)
        buf = io.StringIO()
        old = sys.stderr
        try:
            with progress.tqdm_progress_callback(initial=1, total=4) as p:
                p.update(1)
                p.postfix = "best loss: 0.5"
        finally:
            sys.stderr = old
        assert progress.default_callback is progress.tqdm_progress_callback
        del buf


class TestPlotting:
    @pytest.fixture(autouse=True)
    def _mpl(self):
        mpl = pytest.importorskip("matplotlib")
        mpl.use("Agg")

    def trials(self):
        import domains

        space, _ = domains.many_dists()
        t = Trials()
        fmin(domains.identity, space, algo=rand.suggest, max_evals=40,
             trials=t, rstate=np.random.default_rng(0),
             show_progressbar=False)
        return t

    def test_plots_run(self, capsys):
        import matplotlib.pyplot as plt

        from parzen import plotting

        t = self.trials()
        losses = t.losses()
        plt.figure()
        plotting.main_plot_history(t, do_show=False)
        ax = plt.gca()
        (points,) = ax.collections
        assert points.get_offsets().tolist() == \
            [[i, y] for i, y in enumerate(losses)]
        (best_line,) = ax.lines
        assert best_line.get_ydata()[0] == pytest.approx(
            t.average_best_error())
        assert "avg best error" in capsys.readouterr().out

        plt.figure()
        plotting.main_plot_histogram(t, do_show=False)
        heights = [p.get_height() for p in plt.gca().patches]
        assert sum(heights) == len(losses) == 40

        plotting.main_plot_vars(t, do_show=False, colorize_best=5)
        idxs, vals = t.idxs_vals
        axes = plt.gcf().axes
        assert [a.get_title() for a in axes] == sorted(vals)
        for a in axes:
            (sc,) = a.collections
            assert len(sc.get_offsets()) == len(vals[a.get_title()])
        plotting.main_plot_vars(t, do_show=False, arrange_by_loss=True)
        for a in plt.gcf().axes:
            # -- x is the loss rank: the best trial's value sits at 0
            (sc,) = a.collections
            xs = sc.get_offsets()[:, 0]
            assert xs.min() >= 0 and xs.max() < len(losses)
        plt.close("all")

    def test_attachment_plot(self):
        import matplotlib.pyplot as plt

        from parzen import plotting

        t = Trials()
        fmin(lambda x: {"status": STATUS_OK, "loss": x,
                        "attachments": {"curve": [x, x * 2, x * 3]}},
             hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=5, trials=t,
             show_progressbar=False, rstate=np.random.default_rng(1))
        plt.figure()
        plotting.main_plot_1D_attachment(t, "curve", do_show=False)
        lines = plt.gca().lines
        assert len(lines) == 5 and plt.gca().get_title() == "curve"
        xs = t.vals["x"]
        for line, x in zip(lines, xs):  # -- one line per trial, in order
            assert line.get_ydata().tolist() == pytest.approx(
                [x, 2 * x, 3 * x])
        # -- the lowest loss is drawn darkest (black), the highest lightest
        shade = [line.get_color()[0] for line in lines]
        assert shade[xs.index(min(xs))] == 0.0
        assert shade[xs.index(max(xs))] == pytest.approx(0.5)
        plt.close("all")


class TestPackage:
    def test_top_level_names(self):
        for name in ["STATUS_STRINGS", "STATUS_NEW", "STATUS_RUNNING",
                     "STATUS_SUSPENDED", "STATUS_OK", "STATUS_FAIL",
                     "JOB_STATES", "JOB_STATE_NEW", "JOB_STATE_RUNNING",
                     "JOB_STATE_DONE", "JOB_STATE_ERROR", "Ctrl", "Trials",
                     "trials_from_docs", "Domain", "fmin",
                     "fmin_pass_expr_memo_ctrl", "FMinIter", "partial",
                     "space_eval", "hp", "exceptions", "rand", "tpe", "atpe",
                     "mix", "anneal", "SparkTrials", "__version__"]:
            assert hasattr(parzen, name), name
        assert parzen.__version__ == parzen._core.__version__

    def test_module_paths(self):
        import importlib

        for mod in ["parzen.hp", "parzen.pyll", "parzen.pyll.base",
                    "parzen.pyll.stochastic", "parzen.base", "parzen.fmin",
                    "parzen.exceptions", "parzen.early_stop",
                    "parzen.plotting", "parzen.rand", "parzen.tpe",
                    "parzen.anneal", "parzen.mix", "parzen.progress",
                    "parzen.pyll_utils", "parzen.spark",
                    "parzen.std_out_err_redirect_tqdm", "parzen.criteria",
                    "parzen.rdists", "parzen.utils"]:
            assert importlib.import_module(mod).__name__ == mod
        from parzen.pyll import Apply, as_apply, rec_eval, scope  # noqa
        from parzen.pyll.stochastic import sample  # noqa
        from parzen.base import JOB_STATE_CANCEL  # noqa

    def test_spark_trials_lazy_name(self):
        import parzen.spark
        from parzen import SparkTrials

        assert SparkTrials is parzen.spark.SparkTrials
        assert issubclass(SparkTrials, parzen.Trials)
        with pytest.raises(AttributeError):
            parzen.NoSuchThing

    def test_stubs_shipped(self):
        import os

        d = os.path.dirname(parzen.__file__)
        assert os.path.exists(os.path.join(d, "py.typed"))
        assert os.path.exists(os.path.join(d, "_core.pyi"))

    def test_expr_to_config(self):
        from parzen.pyll_utils import Cond, expr_to_config

        space = hp.choice("m", [{"a": hp.uniform("a", 0, 1)},
                                {"b": hp.uniform("b", 0, 1)}])
        hps = {}
        expr_to_config(space, (), hps)
        assert hps["a"]["conditions"] == {(Cond("m", 0, "="),)}
        assert hps["m"]["conditions"] == {()}
        z = hp.uniform("z", 0, 1)
        hps = {}
        expr_to_config(hp.choice("c", [z, z + 1]), None, hps)
        assert hps["z"]["conditions"] == {()}


def test_rdists_without_scipy_says_what_to_install():
    import subprocess

    code = ("import sys\n"
            "for m in ('scipy', 'scipy.special', 'scipy.stats'):\n"
            "    sys.modules[m] = None\n"
            "try:\n"
            "    import parzen.rdists\n"
            "except ImportError as e:\n"
            "    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == \
        "ImportError: parzen.rdists needs scipy: pip install scipy", out
