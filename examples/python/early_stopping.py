"""Stop a search early: when the loss stops improving (no_progress_loss),
when it is good enough (loss_threshold), or after a time budget (timeout)."""

import numpy as np

from parzen import Trials, fmin, hp, tpe
from parzen.early_stop import no_progress_loss


def objective(x):
    return (x - 1.5) ** 2


space = hp.uniform("x", -10, 10)

if __name__ == "__main__":
    trials = Trials()
    fmin(objective, space, algo=tpe.suggest, max_evals=1000, trials=trials,
         early_stop_fn=no_progress_loss(iteration_stop_count=25),
         rstate=np.random.default_rng(1), show_progressbar=False)
    print("no_progress_loss stopped after %d of 1000 trials" % len(trials))
    assert len(trials) < 1000

    trials = Trials()
    fmin(objective, space, algo=tpe.suggest, loss_threshold=1e-4,
         trials=trials, rstate=np.random.default_rng(1),
         show_progressbar=False)
    print("loss_threshold reached after %d trials (best %.2e)"
          % (len(trials), min(trials.losses())))
    assert min(trials.losses()) < 1e-4

    trials = Trials()
    fmin(objective, space, algo=tpe.suggest, timeout=0.5, trials=trials,
         show_progressbar=False)
    print("timeout: %d trials in 0.5 s" % len(trials))
