#!/usr/bin/env bash
# Conformance stage: hyperopt's own unit tests (hyperopt/tests/unit/ and
# hyperopt/tests/test_base.py of the hyperopt 0.3.0 sdist, downloaded by
# scripts/fetch-hyperopt-sdist.sh, never committed) run against parzen
# importable as `hyperopt` (python/tests/conformance/shim). Prints the
# pass/fail/excluded counts; fails on any failure not on the commented
# exclusion list of python/tests/conformance/run_hyperopt_unit.py.
# Usage: scripts/conformance-hyperopt-unit.sh [pytest args]
#        (PYTHON: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
tree=$(bash scripts/fetch-hyperopt-sdist.sh "$py")
# test_base.py checks documents with bson (pymongo's); test_rdists and
# test_criteria need scipy, which scikit-learn brings (setup-python.sh).
"$py" -m pip install -q pymongo
exec "$py" python/tests/conformance/run_hyperopt_unit.py "$tree" -q \
    -p no:warnings "$@"
