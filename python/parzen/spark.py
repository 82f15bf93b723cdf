"""SparkTrials placeholder.

parzen's SparkTrials (a driver-side C study with Spark tasks running only
the objective) is a separate piece of work that has not landed yet. The
name exists so ``from parzen import SparkTrials`` works; constructing one
raises NotImplementedError. Use ``Trials`` meanwhile.
"""

from .base import Trials


class SparkTrials(Trials):
    """Not implemented yet in parzen (see the module docstring)."""

    asynchronous = True

    def __init__(self, parallelism=None, timeout=None, loss_threshold=None,
                 spark_session=None, resource_profile=None):
        raise NotImplementedError(
            "parzen.SparkTrials is not available yet in this version of "
            "parzen; use parzen.Trials (serial) for now")
