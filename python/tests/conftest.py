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
