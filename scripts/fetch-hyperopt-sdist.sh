#!/usr/bin/env bash
# Download and unpack hyperopt's sdist (hyperopt==0.3.0) for the conformance
# stages, which run hyperopt's own tests against parzen. Nothing of it is
# committed: it lands in build/hyperopt-sdist/ (idempotent) and the path of
# the unpacked tree is printed on stdout.
# Usage: scripts/fetch-hyperopt-sdist.sh [PYTHON]   (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
version=0.3.0
dest=build/hyperopt-sdist
tree=$dest/hyperopt-$version
if [ ! -f "$tree/hyperopt/__init__.py" ]; then
    mkdir -p "$dest"
    "$py" -m pip download -q --no-deps --no-binary :all: -d "$dest" \
        "hyperopt==$version" >&2
    tar -xzf "$dest/hyperopt-$version.tar.gz" -C "$dest"
fi
echo "$PWD/$tree"
