"""parzen vs hyperopt: TPE through fmin, in one run, as ratios.

Run in the bench environment (hyperopt is never a parzen dependency):

    bash bench/setup-bench-env.sh
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv-bench/bin/python bench/bench_fmin.py [--quick] [--markdown]

Both libraries get the same work, the same number of repetitions and the
same seeds; the repetitions alternate between them (hyperopt, parzen,
hyperopt, ...) so that a load change on a shared machine hits both. Every
row prints the median and the spread (min-max) over the repetitions, and
each run checks its own work (the trial counts, one document per
suggestion). On the same 10-parameter space (10 x uniform(-5, 5)) and a
trivial objective (sum of squares):

1. suggest after a new trial, n=1000: before each timed ``tpe.suggest``
   one more finished trial joins the history, as between two suggestions
   inside fmin (parzen's C mirror takes in that one trial).
2. suggest on a fresh history, n=1000: each timed call gets a new Trials
   holding a copy of the same 1000 finished trials (parzen builds its C
   mirror from the documents inside the timed call).
3. fmin per trial at n=1000: the wall time per trial of ``fmin``
   continuing a 1000-trial search by K trials (the same K both sides).
4. whole fmin, 1000 trials: one 1000-trial TPE ``fmin`` from scratch per
   seed, the same seeds both sides; the ratio is taken seed by seed.
5. search quality: the best loss after 300 TPE trials, the same seeds both
   sides (values, not times).
"""

import argparse
import copy
import os
import platform
import statistics
import sys
import time

import numpy as np
from bench_util import cpu_model, load, spread

D = 10
N = 1000


def objective(p):
    return float(sum(v * v for v in p.values()))


def make_space(lib):
    return {"x%d" % i: lib.hp.uniform("x%d" % i, -5, 5) for i in range(D)}


def filled_trials(lib, n, seed=0):
    trials = lib.Trials()
    lib.fmin(objective, make_space(lib), algo=lib.rand.suggest, max_evals=n,
             trials=trials, rstate=np.random.default_rng(seed),
             show_progressbar=False)
    assert len(trials) == n and all(
        d["result"]["status"] == "ok" for d in trials.trials)
    return trials


def add_finished_trial(lib, domain, trials, seed):
    """One more finished (random) trial, as fmin would have added."""
    tid = trials.new_trial_ids(1)[0]
    (doc,) = lib.rand.suggest([tid], domain, trials, seed)
    point = {k: v[0] for k, v in doc["misc"]["vals"].items()}
    doc["state"] = lib.base.JOB_STATE_DONE
    doc["result"] = {"status": "ok", "loss": objective(point)}
    trials.insert_trial_docs([doc])
    trials.refresh()


class Suggest:
    """Row 1 (warm=True) and row 2 (warm=False) for one library."""

    def __init__(self, lib, warm):
        self.lib, self.warm = lib, warm
        self.base = filled_trials(lib, N)
        self.docs = copy.deepcopy(self.base.trials)
        self.domain = lib.base.Domain(objective, make_space(lib))
        if warm:  # -- parzen: the mirror follows this Trials from here on
            lib.tpe.suggest([N], self.domain, self.base, 1)
        self.calls = 0

    def once(self, r):
        lib = self.lib
        if self.warm:
            add_finished_trial(lib, self.domain, self.base, 10_000 + r)
            trials = self.base
        else:
            trials = lib.Trials()
            trials.insert_trial_docs(copy.deepcopy(self.docs))
            trials.refresh()
            assert len(trials) == N
        tid = trials.new_trial_ids(1)[0]
        t0 = time.perf_counter()
        docs = lib.tpe.suggest([tid], self.domain, trials, 2 + r)
        elapsed = time.perf_counter() - t0
        assert len(docs) == 1 and docs[0]["tid"] == tid
        self.calls += 1
        return elapsed


def fmin_step(lib, k, seed):
    trials = filled_trials(lib, N, seed)
    t0 = time.perf_counter()
    lib.fmin(objective, make_space(lib), algo=lib.tpe.suggest,
             max_evals=N + k, trials=trials,
             rstate=np.random.default_rng(5 + seed), show_progressbar=False)
    elapsed = time.perf_counter() - t0
    assert len(trials) == N + k
    assert trials.count_by_state_unsynced(lib.base.JOB_STATE_DONE) == N + k
    return elapsed / k


def fmin_total(lib, n, seed):
    trials = lib.Trials()
    t0 = time.perf_counter()
    lib.fmin(objective, make_space(lib), algo=lib.tpe.suggest, max_evals=n,
             trials=trials, rstate=np.random.default_rng(seed),
             show_progressbar=False)
    elapsed = time.perf_counter() - t0
    assert len(trials) == n
    assert trials.count_by_state_unsynced(lib.base.JOB_STATE_DONE) == n
    return elapsed, min(trials.losses())


def core_loop(n):
    """The floor under parzen's fmin: the C study's own ask/tell loop for
    n TPE trials (no Python fmin, no trial documents)."""
    from parzen import _core

    space = _core.Space()
    for i in range(D):
        space.add("x%d" % i, "uniform", low=-5.0, high=5.0)
    study = _core.Study(space)
    study.set_sampler("tpe")
    t0 = time.perf_counter()
    for _ in range(n):
        tid, v = study.ask()
        study.tell(tid, 2, float(sum(x * x for x in v)))
    assert study.n_trials == n
    return time.perf_counter() - t0


def interleaved(reps, fh, fp):
    """reps values of fh(r) and fp(r), alternating."""
    h, p = [], []
    for r in range(reps):
        h.append(fh(r))
        p.append(fp(r))
    return h, p






def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer repetitions (a smoke run, not for the record)")
    ap.add_argument("--markdown", action="store_true",
                    help="print the tables as Markdown")
    args = ap.parse_args()

    import hyperopt
    import hyperopt.base  # noqa: F401
    import parzen
    import parzen.base  # noqa: F401

    rep_suggest, k_step, rep_step, seeds_total, seeds_quality = (
        (5, 20, 1, 1, 2) if args.quick else (30, 100, 3, 3, 6))
    load_before = load()
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    rows = []  # (name, hyperopt values, parzen values)

    for warm, name in ((True, "tpe.suggest after a new trial, n=1000"),
                       (False, "tpe.suggest, fresh 1000-trial history")):
        sh, sp = Suggest(hyperopt, warm), Suggest(parzen, warm)
        h, p = interleaved(rep_suggest, sh.once, sp.once)
        assert sh.calls == sp.calls == rep_suggest
        rows.append((name, h, p))

    h, p = interleaved(rep_step, lambda r: fmin_step(hyperopt, k_step, r),
                       lambda r: fmin_step(parzen, k_step, r))
    rows.append(("fmin per trial at n=1000 (%d more trials)" % k_step, h, p))

    runs_h, runs_p = interleaved(seeds_total,
                                 lambda s: fmin_total(hyperopt, N, s),
                                 lambda s: fmin_total(parzen, N, s))
    rows.append(("whole fmin, 1000 trials", [t for t, _ in runs_h],
                 [t for t, _ in runs_p]))

    core = [core_loop(N) for _ in range(max(3, seeds_total))]

    quality_h, quality_p = interleaved(
        seeds_quality, lambda s: fmin_total(hyperopt, 300, 100 + s)[1],
        lambda s: fmin_total(parzen, 300, 100 + s)[1])
    load_after = load()

    print("command: %s" % " ".join([os.path.basename(sys.executable)]
                                   + sys.argv))
    print("%s, %d CPUs; %s UTC; load average %s before, %s after"
          % (cpu_model(), os.cpu_count(), started, load_before, load_after))
    print("Python %s, numpy %s, hyperopt %s, parzen %s, %s" % (
        platform.python_version(), np.__version__, hyperopt.__version__,
        parzen.__version__, platform.machine()))
    print()
    ratios = []
    if args.markdown:
        print("| measurement (d=10) | runs | hyperopt median (min-max) "
              "| parzen median (min-max) | ratio median (min-max) |")
        print("|---|---:|---:|---:|---:|")
    for name, h, p in rows:
        # -- seed by seed (row 4) or repetition by repetition: the pairs
        #    ran back to back
        rs = [a / b for a, b in zip(h, p)]
        ratios.append(rs)
        ratio = spread(rs, lambda v: "%.0fx" % v)
        if args.markdown:
            print("| %s | %d | %s | %s | %s |"
                  % (name, len(h), spread(h), spread(p), ratio))
        else:
            print("%-44s x%-3d hyperopt %-28s parzen %-28s ratio %s"
                  % (name, len(h), spread(h), spread(p), ratio))
    if args.markdown:
        print("| C ask/tell loop, 1000 TPE trials (floor) | %d | | %s | |"
              % (len(core), spread(core)))
    else:
        print("%-44s x%-3d %37s parzen %s"
              % ("C ask/tell loop, 1000 TPE trials (floor)", len(core), "",
                 spread(core)))
    print()
    print("best loss after 300 TPE trials, seeds 100-%d:" % (
        99 + seeds_quality))
    print("  hyperopt %s (mean %.2f)" % (
        " ".join("%.2f" % v for v in quality_h), np.mean(quality_h)))
    print("  parzen   %s (mean %.2f)" % (
        " ".join("%.2f" % v for v in quality_p), np.mean(quality_p)))
    print("best loss after 1000 TPE trials (row 4 seeds): hyperopt %s, "
          "parzen %s" % (" ".join("%.2f" % l for _, l in runs_h),
                         " ".join("%.2f" % l for _, l in runs_p)))
    med_suggest = statistics.median(ratios[0])
    med_total = statistics.median(ratios[3])
    ok = med_suggest >= 15 and med_total >= 50
    print("targets (median ratios: suggest after a new trial >= 15x, whole "
          "fmin >= 50x): %s (%.0fx, %.0fx; lowest %.0fx, %.0fx)"
          % ("met" if ok else "NOT met", med_suggest, med_total,
             min(ratios[0]), min(ratios[3])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
