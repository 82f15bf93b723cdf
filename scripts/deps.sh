#!/usr/bin/env bash
# Install the Debian packages parzen builds and tests with, if missing.
# Idempotent: packages already present are not touched, and apt is not
# called at all when nothing is missing.
set -euo pipefail

packages=(build-essential cmake pkg-config libjansson-dev libsqlite3-dev
          libcriterion-dev clang-format python3 python3-venv python3-dev
          clang valgrind chromium)
# (chromium: the optuna-dashboard test opens the exported run in it)
# Spark tests need a Java runtime; any installed JDK/JRE will do.
if ! command -v java >/dev/null 2>&1; then
    packages+=(openjdk-17-jre-headless)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
# cmake may come from pip rather than Debian; either is fine.
if command -v cmake >/dev/null 2>&1; then
    missing=("${missing[@]/cmake/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "parzen: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
