"""parzen importable as ``hyperopt``, to run hyperopt's own tests.

Only for the conformance stages (scripts/conformance-hyperopt-unit.sh and
scripts/conformance-hyperopt-spark.sh): a directory holding this package
first on sys.path makes ``import hyperopt`` give parzen's names and
``import hyperopt.X`` give the module ``parzen.X`` itself (the same module
object, so monkeypatching ``hyperopt.tpe`` or ``hyperopt.spark._have_spark``
patches parzen's). ``hyperopt.tests`` is not aliased: the runner links
hyperopt's own tests there. The Spark stage also puts that directory on
the executors' PYTHONPATH: their Python workers unpickle the test module's
functions by reference, so they import this same ``hyperopt``.
"""

import importlib
import importlib.abc
import importlib.util
import sys

import parzen
from parzen import *  # noqa: F401,F403
from parzen import __all__, __version__  # noqa: F401

_PREFIX = __name__ + "."


def _target(fullname):
    rest = fullname[len(_PREFIX):]
    if rest == "tests" or rest.startswith("tests."):
        return None  # -- hyperopt's own test packages, found on disk
    return "parzen." + rest


class _ParzenAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """hyperopt.X -> the module parzen.X, when parzen has one."""

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(_PREFIX):
            return None
        name = _target(fullname)
        if name is None:
            return None
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return None  # -- ModuleNotFoundError for hyperopt.X, as usual
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(_target(spec.name))
        self._own_spec = module.__spec__  # -- the import system resets it
        return module

    def exec_module(self, module):
        module.__spec__ = self._own_spec


if not any(isinstance(f, _ParzenAlias) for f in sys.meta_path):
    sys.meta_path.insert(0, _ParzenAlias())


def _import_shadowed_submodules():
    """Importing a submodule sets it as an attribute of its package, once:
    hyperopt's own ``from .fmin import fmin`` then rebinds the name to the
    function. Do the same here for every name that is both (``fmin``)."""
    for name in __all__:
        value = globals().get(name)
        sub = getattr(parzen, name, None)
        if value is None or isinstance(value, type(sys)):
            continue
        if importlib.util.find_spec("parzen." + name) is not None:
            importlib.import_module(_PREFIX + name)
            globals()[name] = sub if sub is not None else value


def _alias_loaded_submodules():
    """``hyperopt.spark`` etc. as attributes without an import of their
    own (hyperopt's package imports them): parzen's submodules already
    loaded, except the names that are also functions (``fmin``)."""
    for name, value in list(vars(parzen).items()):
        if (isinstance(value, type(sys)) and name not in __all__
                and value.__name__ == "parzen." + name):
            importlib.import_module(_PREFIX + name)


_alias_loaded_submodules()
_import_shadowed_submodules()
del parzen
