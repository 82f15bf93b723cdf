#!/bin/sh
# Regenerate the seed corpus of fuzz_store_open (fuzz/corpus/store/):
# real stores written by 'parzen run' (done, error, fail and lost trials,
# two studies, kept output), then damaged copies: truncated at several
# sizes, a zeroed header, a newer schema, a foreign application id, an
# empty file, text, a 100-byte header alone.
#
#   fuzz/make_store_seeds.sh PATH/TO/parzen
set -eu
case $1 in /*) parzen=$1 ;; *) parzen=$(pwd)/$1 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/store
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
obj=$here/../tests/cli/objectives
space=$here/../tests/cli/store/space.json
cd "$tmp"
TMPDIR=$tmp
export TMPDIR
"$parzen" run "$space" --max-evals 4 --seed 1 --algo rand --quiet \
    --store small.db -- "$obj/square.sh" {x} {opt}
cp small.db "$out/small.db"
"$parzen" run "$space" --max-evals 7 --seed 2 --quiet --trial-timeout 1 \
    --store mixed.db -- "$obj/fails.sh" >/dev/null 2>&1 || true
"$parzen" run "$space" --max-evals 3 --seed 3 --quiet --study other \
    --store mixed.db -- "$obj/square.sh" {x} {opt}
cp mixed.db "$out/mixed.db"
# A run killed by its objective: trial 2 stays RUNNING (its owner gone).
KILL_AT=2 MARKER=$tmp/marker "$parzen" run "$space" --max-evals 5 --seed 4 \
    --quiet --store lost.db -- "$obj/killer.sh" {x} {opt} || true
sqlite3 lost.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
cp lost.db "$out/lost.db"
size=$(wc -c <mixed.db)
for n in 100 512 4096 8192 $((size / 2)) $((size - 100)); do
    [ "$n" -lt "$size" ] || continue
    head -c "$n" mixed.db >"$out/truncated_$n.db"
done
python3 - "$out" <<'PY'
import sys, struct
out = sys.argv[1]
data = bytearray(open(out + "/small.db", "rb").read())
z = bytearray(data); z[:100] = bytes(100)
open(out + "/zeroed_header.db", "wb").write(z)
n = bytearray(data); n[60:64] = struct.pack(">I", 7)           # user_version
open(out + "/newer_schema.db", "wb").write(n)
f = bytearray(data); f[68:72] = struct.pack(">I", 0x12345678)  # application_id
open(out + "/foreign_app.db", "wb").write(f)
open(out + "/header_only.db", "wb").write(data[:100])
open(out + "/text.db", "wb").write(b"not a database at all\n" * 200)
open(out + "/empty.db", "wb").write(b"")
PY
# A plain SQLite file of another program.
sqlite3 other.db 'CREATE TABLE t(a); INSERT INTO t VALUES (1);'
cp other.db "$out/other_program.db"
ls "$out"
