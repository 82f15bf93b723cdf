#!/usr/bin/env bash
# Mutation check: the Python tests that claim what a sampler does must
# fail when the samplers are broken on purpose. For each mutant of the C
# core (src/sampler.c, test-only, set through PZ_TEST_MUTANT by
# python/tests/conftest.py):
#   random            every sampler draws from the prior (random search)
#   tpe-no-selection  TPE keeps its first candidate from l(x) instead of
#                     the best of n_EI_candidates by l(x)/g(x)
# the tests marked @pytest.mark.sampler_claim that the mutant breaks are
# run as strict xfails: this script passes only if every one of them fails
# on an assertion (a pass, or any other error, fails it).
# Usage: scripts/mutation-check.sh [pytest args]   (PYTHON: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
for mutant in random tpe-no-selection; do
    printf '\n== mutant %s: each sampler claim it breaks must fail\n' \
        "$mutant" >&2
    PZ_TEST_MUTANT=$mutant "$py" -m pytest -q -p no:cacheprovider -rxX \
        -m sampler_claim python/tests "$@"
done
