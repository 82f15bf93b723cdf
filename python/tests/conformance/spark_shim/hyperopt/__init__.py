"""parzen importable as ``hyperopt``, for running hyperopt's own SparkTrials
tests (scripts/conformance-hyperopt-spark.sh). The script copies this
package into a scratch directory beside a link ``hyperopt/tests`` to the
tests of hyperopt's sdist, and puts that directory on PYTHONPATH, so the
Spark executors' Python workers import the same ``hyperopt`` (the test
module's functions are pickled by reference).

Every parzen module is also registered under its hyperopt name
(``hyperopt.spark`` *is* ``parzen.spark``: a test that patches
``hyperopt.spark._have_spark`` patches parzen's).
"""

import importlib
import pkgutil
import sys

import parzen
from parzen import *  # noqa: F401,F403

__version__ = parzen.__version__

_me = sys.modules[__name__]
for _info in pkgutil.walk_packages(parzen.__path__, "parzen."):
    try:
        _mod = importlib.import_module(_info.name)
    except ImportError:  # an optional dependency is missing
        continue
    sys.modules.setdefault("hyperopt" + _info.name[len("parzen"):], _mod)
    _leaf = _info.name.split(".", 1)[1]
    if "." not in _leaf and not hasattr(_me, _leaf):
        setattr(_me, _leaf, _mod)  # hyperopt.spark, ... (not hyperopt.fmin)
SparkTrials = parzen.spark.SparkTrials
