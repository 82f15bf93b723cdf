#!/usr/bin/env bash
# Create the benchmark environment .venv-bench: hyperopt and optuna from
# PyPI (never runtime dependencies of parzen) plus parzen built from this
# checkout. Idempotent; re-run after changing parzen to reinstall it.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if [ ! -x .venv-bench/bin/python ]; then
    "$py" -m venv .venv-bench
fi
.venv-bench/bin/python -m pip install -q --upgrade pip
.venv-bench/bin/python -m pip install -q "hyperopt==0.3.0" optuna numpy scipy scikit-learn
.venv-bench/bin/python -m pip install -q --force-reinstall --no-deps .
.venv-bench/bin/python -m pip install -q .
.venv-bench/bin/python - <<'PY'
import hyperopt, numpy, optuna, parzen
print("bench env: parzen", parzen.__version__, "hyperopt", hyperopt.__version__,
      "optuna", optuna.__version__, "numpy", numpy.__version__)
PY
