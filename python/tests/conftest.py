"""Shared fixtures and the suite's rules.

* ``find_cli()``: the ``parzen`` binary the command-line tests run.
* No silent skips: every skip is listed with its reason at the end of the
  run, and a skip that is not on ALLOWED_SKIPS fails the run.
* Sampler claims: a test that claims what a sampler does (TPE finds the
  minimum, annealing beats random search, ...) carries
  ``@pytest.mark.sampler_claim("tpe")`` (or "anneal"). With
  ``PZ_TEST_MUTANT=random`` or ``PZ_TEST_MUTANT=tpe-no-selection`` in the
  environment, the C core's samplers are broken on purpose
  (``_core._set_sampler_mutant``, test-only) and only the claims that
  mutant breaks are run, each expected to fail on an assertion
  (strict xfail): the run passes only if every such claim fails. A claim
  marked ``selection=False`` is one TPE's l(x)/g(x) model makes without
  the best-of-n_EI_candidates selection (measured, said in the test):
  only the "random" mutant must break it.
  scripts/mutation-check.sh runs both mutants.
"""

import glob
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)


def _has_sampler(name):
    from parzen import _core

    s = _core.Space()
    s.add("x", "uniform", low=0.0, high=1.0)
    st = _core.Study(s)
    try:
        st.set_sampler(name)
    except _core.InvalidArgumentError:
        return False
    return True


HAS_TPE = _has_sampler("tpe")
HAS_ANNEAL = _has_sampler("anneal")

needs_tpe = pytest.mark.skipif(
    not HAS_TPE, reason="the C core has no 'tpe' sampler yet (src/sampler_tpe.c)")
needs_anneal = pytest.mark.skipif(
    not HAS_ANNEAL,
    reason="the C core has no 'anneal' sampler yet (src/sampler_anneal.c)")


@pytest.fixture
def root_dir():
    return ROOT


# ------------------------------------------------------------------ CLI


def find_cli():
    """The ``parzen`` binary: $PARZEN_CLI; else build/ci/parzen (what
    scripts/test.sh builds); else the newest build/*/parzen or
    build*/parzen, sanitizer builds last. None when there is none."""
    if os.environ.get("PARZEN_CLI"):
        return os.environ["PARZEN_CLI"]
    found = [p for p in glob.glob(os.path.join(ROOT, "build", "*", "parzen"))
             + glob.glob(os.path.join(ROOT, "build*", "parzen"))
             if os.access(p, os.X_OK) and not os.path.isdir(p)]
    preferred = os.path.join(ROOT, "build", "ci", "parzen")
    if preferred in found:
        return preferred
    plain = [p for p in found if "asan" not in p and "san" not in
             os.path.basename(os.path.dirname(p))]
    pool = plain or found
    return max(pool, key=os.path.getmtime) if pool else None


# ------------------------------------------------------------ no silent skips

# Every skip the suite may take, as (test file, reason substring), each
# with why it is acceptable. Anything else that skips fails the run.
ALLOWED_SKIPS = [
    # -- the two long fault tests run in the hardening stage
    #    (scripts/hardening.sh sets PZ_LONG_FAULTS=1), not twice.
    ("test_faults.py", "PZ_LONG_FAULTS=1"),
    # -- StoreTrials' fork test on a platform without os.fork (not Linux).
    ("test_store_trials.py", "needs fork"),
]


def _allowed(nodeid, reason):
    path = os.path.basename(nodeid.split("::")[0])
    return any(path == name and text in reason
               for name, text in ALLOWED_SKIPS)


_skips = []


def _note_skip(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) \
            else str(report.longrepr)
        _skips.append((report.nodeid, reason))


def pytest_runtest_logreport(report):
    _note_skip(report)


def pytest_collectreport(report):
    _note_skip(report)  # a whole module skipped (pytest.importorskip)


def pytest_terminal_summary(terminalreporter):
    if not _skips:
        return
    tr = terminalreporter
    tr.section("skips (allowed list: ALLOWED_SKIPS in python/tests/conftest.py)")
    for nodeid, reason in _skips:
        mark = "allowed" if _allowed(nodeid, reason) else "NOT ALLOWED"
        tr.line("%s: %s -- %s" % (mark, nodeid, reason))
    bad = sum(not _allowed(*s) for s in _skips)
    if bad:
        tr.line("%d skip(s) not on ALLOWED_SKIPS: the run fails" % bad,
                red=True)


def pytest_sessionfinish(session, exitstatus):
    bad = [s for s in _skips if not _allowed(*s)]
    if bad and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ------------------------------------------------------------ sampler claims

MUTANTS = {
    # mutant -> the claims it must break
    "random": {"tpe", "anneal"},
    "tpe-no-selection": {"tpe"},
}
MUTANT = os.environ.get("PZ_TEST_MUTANT", "")
if MUTANT:
    if MUTANT not in MUTANTS:
        raise pytest.UsageError("PZ_TEST_MUTANT=%r: expected one of %s"
                                % (MUTANT, ", ".join(sorted(MUTANTS))))
    from parzen import _core

    _core._set_sampler_mutant(MUTANT)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sampler_claim(*samplers, selection=True): the test "
        "claims what these samplers ('tpe', 'anneal') do; it must fail "
        "under the sampler mutants (PZ_TEST_MUTANT, "
        "scripts/mutation-check.sh). selection=False: a claim about TPE's "
        "densities that TPE without candidate selection also meets (the "
        "test says why); only the 'random' mutant must break it")


def pytest_collection_modifyitems(config, items):
    if not MUTANT:
        return
    keep, drop = [], []
    for item in items:
        claims = set()
        for m in item.iter_markers("sampler_claim"):
            if MUTANT == "tpe-no-selection" and \
                    not m.kwargs.get("selection", True):
                continue  # -- a claim about TPE's model alone (see the test)
            claims.update(m.args)
        if claims & MUTANTS[MUTANT]:
            item.add_marker(pytest.mark.xfail(
                strict=True, raises=AssertionError,
                reason="mutant %s: this sampler claim must fail" % MUTANT))
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
