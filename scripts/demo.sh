#!/usr/bin/env bash
# Build parzen and run a real tuning job: TPE tunes an SVM (kernel choice
# with kernel-specific parameters) on scikit-learn's bundled digits data,
# 30 trials, 2 at a time, in a durable SQLite store (re-running resumes;
# delete build/demo/parzen.db to start over). Then a short Python run of
# the same kind through the hyperopt-compatible API.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/setup-python.sh >/dev/null
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPZ_TESTS=OFF \
    -DPZ_BENCH=OFF >/dev/null
cmake --build build/release -j2 >/dev/null
mkdir -p build/demo
parzen=./build/release/parzen
$parzen run examples/cli/space.json --max-evals 30 --parallelism 2 \
    --seed 1 --store build/demo/parzen.db \
    -- .venv/bin/python examples/cli/train_svc.py
echo "best trial:"
$parzen best --store build/demo/parzen.db
