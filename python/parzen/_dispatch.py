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
