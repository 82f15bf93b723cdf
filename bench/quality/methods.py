"""The optimizers under test and the simulated asynchronous workers.

Sequential runs use each library the way a user does: ``fmin`` with
``rstate=np.random.default_rng(seed)`` for parzen and hyperopt, the
ask/tell loop with ``TPESampler(seed=seed)`` for Optuna.

Parallel runs (``run_async``) simulate P asynchronous workers without a
cluster: trial durations are drawn from a seeded log-normal (the same
sequence for every method), a discrete-event loop keeps P trials in flight,
and each free worker asks the algorithm for one point through the suggest
protocol, ``algo(new_ids, domain, trials, seed)``, with the in-flight trials
present in the Trials object as RUNNING documents (so the algorithm sees
exactly what it sees under SparkTrials / MongoTrials). For Optuna the
in-flight trials are simply asked-but-not-told trials.

Pending-aware strategies for parzen (benchmark-side experiments, nothing
here changes parzen): before each suggestion the RUNNING documents are
temporarily shown as DONE with a fake loss ("constant liar"), or hidden.
"""

import functools
import heapq
import math
import time
import warnings

import numpy as np

from spaces import sample_optuna, to_hp

METHODS = ["parzen-mtpe", "parzen-tpe", "parzen-rand", "parzen-anneal",
           "hyperopt-tpe", "hyperopt-rand", "hyperopt-anneal",
           "optuna-tpe", "optuna-tpe-indep"]

# Pending-aware strategies (run_async, parzen / hyperopt):
#   worst   the trials as they are: RUNNING = +inf loss (hyperopt's rule)
#   hide    RUNNING trials are invisible to the algorithm
#   best    constant liar with the best loss so far
#   mean    constant liar with the mean loss so far
#   median  constant liar with the median loss so far
#   q25     constant liar with the 25 % quantile of the losses so far
#   done-startup  worst, but the random startup phase lasts until
#           n_startup_jobs trials are DONE (pending ones do not count)
STRATEGIES = ["worst", "hide", "best", "mean", "median", "q25",
              "done-startup"]

_NOISE_SALT = 1000003
_DURATION_SALT = 7919


def _lib(name):
    if name == "parzen":
        import parzen as lib
        import parzen.base as base
    else:
        import hyperopt as lib
        import hyperopt.base as base
    return lib, base


def noise_rng(seed):
    return np.random.default_rng([seed, _NOISE_SALT])


# Extra (non-default) variants, reported apart from the main ranking:
#   parzen-tpe-g1  tpe.suggest with gamma=1.0 (good set ceil(sqrt(N)), not
#                  hyperopt's ceil(0.25 sqrt(N))); everything else default
EXTRA_METHODS = ["parzen-tpe-g1"]


def _algo(lib, algo_name):
    """An algorithm by name; "mtpe@gamma=0.15+bw_factor=0.3" is mtpe with
    those options (the tuning sweeps of docs/benchmarks.md, "mtpe")."""
    if algo_name == "tpe-g1":
        return functools.partial(lib.tpe.suggest, gamma=1.0)
    name, _, opts = algo_name.partition("@")
    if name == "mtpe" and opts:
        kw = {k: float(v) for k, v in
              (o.split("=") for o in opts.split("+"))}
        return functools.partial(lib.mtpe.suggest, **kw)
    return {"tpe": lib.tpe.suggest, "rand": lib.rand.suggest,
            "anneal": lib.anneal.suggest, "mtpe": getattr(lib, "mtpe", None)
            and lib.mtpe.suggest}[name]


# ----------------------------------------------------------- sequential


def _run_fmin(libname, algo_name, problem, seed, budget):
    lib, _ = _lib(libname)
    rng = noise_rng(seed)

    def fn(x):
        obs, true = problem.evaluate(x, rng)
        return {"loss": obs, "true_loss": true, "status": "ok"}

    trials = lib.Trials()
    lib.fmin(fn, to_hp(problem.space, lib.hp), algo=_algo(lib, algo_name),
             max_evals=budget, trials=trials,
             rstate=np.random.default_rng(seed), show_progressbar=False)
    docs = sorted(trials.trials, key=lambda d: d["tid"])
    return ([d["result"]["loss"] for d in docs],
            [d["result"]["true_loss"] for d in docs])


def _run_optuna(problem, seed, budget, variant="tpe", parallelism=1):
    """Optuna's TPESampler: "tpe" = the defaults of the installed Optuna
    (5.0: multivariate=True, constant_liar=True for single-objective),
    "tpe-indep" = multivariate=False (the independent TPE, Optuna < 5's
    default)."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.
                            ExperimentalWarning)
    kw = {"seed": seed}
    if variant == "tpe-indep":
        kw["multivariate"] = False
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(**kw))
    rng = noise_rng(seed)
    obs_l, true_l = [], []
    if parallelism == 1:
        for _ in range(budget):
            trial = study.ask()
            obs, true = problem.evaluate(sample_optuna(problem.space, trial),
                                         rng)
            study.tell(trial, obs)
            obs_l.append(obs)
            true_l.append(true)
        return obs_l, true_l
    durations = _durations(seed, budget)
    running = []
    started = 0
    now = 0.0
    while started < budget or running:
        while len(running) < parallelism and started < budget:
            trial = study.ask()
            x = sample_optuna(problem.space, trial)
            heapq.heappush(running, (now + durations[started], started,
                                     trial, x))
            started += 1
        now, _, trial, x = heapq.heappop(running)
        obs, true = problem.evaluate(x, rng)
        study.tell(trial, obs)
        obs_l.append(obs)
        true_l.append(true)
    return obs_l, true_l


def run_sequential(method, problem, seed, budget):
    """(observed losses, true losses) in evaluation order. A method name
    ending in "-aa" is the same method on other seeds (seed + 100000): the
    A/A control of the statistics."""
    if method.endswith("-aa"):
        return run_sequential(method[:-3], problem, seed + 100000, budget)
    lib, _, algo = method.partition("-")
    if lib == "optuna":
        return _run_optuna(problem, seed, budget, algo)
    return _run_fmin(lib, algo, problem, seed, budget)


# ------------------------------------------------------------- parallel


def _durations(seed, n):
    """Trial run times (arbitrary units), indexed by start order: the same
    sequence for every method with this seed."""
    return np.random.default_rng([seed, _DURATION_SALT]).lognormal(
        0.0, 0.5, n)


def _lie(strategy, losses):
    if not losses:
        return math.inf
    if strategy == "best":
        return min(losses)
    if strategy == "mean":
        return float(np.mean(losses))
    if strategy == "median":
        return float(np.median(losses))
    if strategy == "q25":
        return float(np.quantile(losses, 0.25))
    raise ValueError(strategy)


def run_async(libname, algo_name, problem, seed, budget, parallelism,
              strategy="worst"):
    """Simulated asynchronous workers driving ``algo`` through the suggest
    protocol. Returns (observed, true) losses in completion order."""
    lib, base = _lib(libname)
    rng = noise_rng(seed)
    algo = _algo(lib, algo_name)
    if strategy == "done-startup":
        # -- startup counted on DONE trials only: random until then
        n_startup = 20
        tpe_algo, rand_algo = algo, lib.rand.suggest

        def algo(new_ids, domain, trials, seed):  # noqa: F811
            n_done = sum(1 for d in trials.trials
                         if d["state"] == base.JOB_STATE_DONE)
            f = rand_algo if n_done < n_startup else tpe_algo
            return f(new_ids, domain, trials, seed)

    def fn(x):
        obs, true = problem.evaluate(x, rng)
        return {"loss": obs, "true_loss": true, "status": "ok"}

    domain = base.Domain(fn, to_hp(problem.space, lib.hp))
    trials = lib.Trials()
    rstate = np.random.default_rng(seed)
    durations = _durations(seed, budget)
    running = []      # heap of (finish time, start index, doc)
    pending = []      # docs in flight
    done_losses = []
    obs_l, true_l = [], []
    started = 0
    now = 0.0
    new_result = {"status": "new"}
    while started < budget or running:
        while len(running) < parallelism and started < budget:
            hidden = []
            if pending and strategy in ("best", "mean", "median", "q25"):
                lie = _lie(strategy, done_losses)
                for d in pending:
                    d["state"] = base.JOB_STATE_DONE
                    d["result"] = {"loss": lie, "status": "ok"}
            elif pending and strategy == "hide":
                for d in pending:
                    d["state"] = base.JOB_STATE_ERROR
                    hidden.append(d)
            new_ids = trials.new_trial_ids(1)
            trials.refresh()
            docs = algo(new_ids, domain, trials,
                        rstate.integers(2 ** 31 - 1))
            for d in pending:  # undo the lie / the hiding
                d["state"] = base.JOB_STATE_RUNNING
                d["result"] = dict(new_result)
            trials.insert_trial_docs(docs)
            doc = docs[0]
            doc["state"] = base.JOB_STATE_RUNNING
            pending.append(doc)
            trials.refresh()
            heapq.heappush(running, (now + durations[started], started, doc))
            started += 1
        now, _, doc = heapq.heappop(running)
        pending.remove(doc)
        spec = base.spec_from_misc(doc["misc"])
        result = domain.evaluate(spec, base.Ctrl(trials, current_trial=doc))
        doc["result"] = result
        doc["state"] = base.JOB_STATE_DONE
        done_losses.append(result["loss"])
        obs_l.append(result["loss"])
        true_l.append(result["true_loss"])
    trials.refresh()
    return obs_l, true_l


def run_async_method(method, problem, seed, budget, parallelism, strategy):
    lib, _, algo = method.partition("-")
    if lib == "optuna":
        return _run_optuna(problem, seed, budget, algo, parallelism)
    return run_async(lib, algo, problem, seed, budget, parallelism, strategy)


def timed(f, *args):
    t = time.perf_counter()
    r = f(*args)
    return r, time.perf_counter() - t
