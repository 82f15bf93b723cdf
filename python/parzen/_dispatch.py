"""Former home of the parallel loop, now :mod:`parzen._driver` (one loop
for every executor). The executor interface keeps its names here:
``Backend`` (= ``_driver.Executor``), ``ThreadedBackend``, ``Outcome``."""

from ._driver import (  # noqa: F401
    CANCEL_GRACE_SECS,
    FMIN_CANCELLED_REASON_EARLY_STOPPING,
    FMIN_CANCELLED_REASON_LOSS_THRESHOLD,
    FMIN_CANCELLED_REASON_TIMEOUT,
    FMIN_CANCELLED_REASON_USER,
    Executor as Backend,
    Outcome,
    ThreadedExecutor as ThreadedBackend,
)


def run_parallel(trials, domain, algo, backend, *, max_evals, timeout=None,
                 loss_threshold=None, rstate, early_stop_fn=None,
                 progress=None):
    """The former parallel loop's entry point: one run of the driver with
    `backend` as its executor. Returns the reason the run was stopped."""
    from ._driver import run_trials

    return run_trials(trials, domain, algo, backend, max_evals=max_evals,
                      timeout=timeout, loss_threshold=loss_threshold,
                      rstate=rstate, early_stop_fn=early_stop_fn,
                      progress=progress)
