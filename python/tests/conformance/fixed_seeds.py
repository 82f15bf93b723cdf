"""pytest plugin of the conformance stages: every hyperopt test starts
from numpy's and Python's global random state seeded from its own test
id, so the tests that draw unseeded (test_rdists' Kolmogorov-Smirnov
checks at alpha = 0.01 fail one run in a hundred by design) give the same
result on every run, as our own statistical tests do."""

import random
import zlib

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_from_test_id(request):
    seed = zlib.crc32(request.node.nodeid.encode())
    np.random.seed(seed)
    random.seed(seed)
    yield
