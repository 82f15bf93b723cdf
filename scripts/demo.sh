#!/usr/bin/env bash
# Build parzen and run a real job: check a search space that uses every
# distribution and a nested choice, then draw points from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPZ_TESTS=OFF \
    -DPZ_BENCH=OFF >/dev/null
cmake --build build/release -j2 >/dev/null
space=examples/spaces/every_dist.json
./build/release/parzen validate "$space"
./build/release/parzen sample "$space" -n 5 --seed 7
