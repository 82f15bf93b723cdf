"""Resume a search: trials_save_file checkpoints after every trial (a pickle,
or with a .db name a durable store written trial by trial), and a pickled
Trials object can be passed back with a larger max_evals."""

import os
import pickle
import sys
import tempfile

from parzen import StoreTrials, Trials, fmin, hp, tpe

space = {"x": hp.uniform("x", -5, 5), "y": hp.quniform("y", 0, 10, 1)}


def objective(p):
    return (p["x"] - 1) ** 2 + (p["y"] - 7) ** 2


if __name__ == "__main__":
    workdir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    path = os.path.join(workdir, "trials.pkl")

    # -- 1. checkpoint to a file; a second call with the same file resumes
    fmin(objective, space, algo=tpe.suggest, max_evals=20,
         trials_save_file=path, show_progressbar=False)
    best = fmin(objective, space, algo=tpe.suggest, max_evals=40,
                trials_save_file=path, show_progressbar=False)
    with open(path, "rb") as f:
        saved = pickle.load(f)
    print("resumed from file: %d trials, best %s" % (len(saved), best))
    assert len(saved) == 40

    # -- 2. pickle a Trials object yourself and continue later
    trials = Trials()
    fmin(objective, space, algo=tpe.suggest, max_evals=30, trials=trials,
         show_progressbar=False)
    blob = pickle.dumps(trials)
    trials = pickle.loads(blob)
    best = fmin(objective, space, algo=tpe.suggest, max_evals=60,
                trials=trials, show_progressbar=False)
    print("resumed from pickle: %d trials, best %s" % (len(trials), best))
    assert len(trials) == 60

    # -- 3. a durable store (SQLite, as `parzen run`): every trial is
    # committed as it finishes, so even a killed run resumes
    db = os.path.join(workdir, "trials.db")
    fmin(objective, space, algo=tpe.suggest, max_evals=20,
         trials_save_file=db, show_progressbar=False)
    best = fmin(objective, space, algo=tpe.suggest, max_evals=40,
                trials_save_file=db, show_progressbar=False)
    with StoreTrials(db) as stored:
        print("resumed from store: %d trials, best %s" % (len(stored), best))
        assert len(stored) == 40
