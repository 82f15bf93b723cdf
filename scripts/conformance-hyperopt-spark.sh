#!/usr/bin/env bash
# Conformance stage: hyperopt 0.3.0's own SparkTrials tests
# (hyperopt/tests/integration/test_spark.py, from its sdist, downloaded at
# test time and never committed) run against parzen importable as
# `hyperopt` on the driver and on the executors (python/tests/conformance/
# shim, as the unit stage). Prints the counts; exits 1 on an unexpected failure.
# Usage: scripts/conformance-hyperopt-spark.sh [PYTHON]  (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=${1:-$root/.venv/bin/python}
sdist=$(bash scripts/fetch-hyperopt-sdist.sh "$py")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r python/tests/conformance/shim/hyperopt "$work/"
ln -s "$sdist/hyperopt/tests" "$work/hyperopt/tests"
# Documented differences (docs/spark.md, "hyperopt's own tests"): the test
# id and why parzen differs.
#  test_timeout_with_job_cancellation: its second half expects 6 trials of
#  1 s at parallelism 4 to outlast a 4 s timeout, which they do only with
#  hyperopt's one-trial-per-second dispatch; parzen runs them in ~2 s.
#  test_trial_run_info: expects exactly 6 of 8 anneal points in (-3, 3) at
#  parallelism 4 and one seed. Anneal's points depend on the trials that
#  have finished when it is asked, so the count depends on the order the
#  4 running trials finish in (parzen: 5, 6 or 7 across runs); hyperopt's
#  1 s polling makes its run nearly sequential, and its numpy stream is
#  not parzen's. parzen's test_spark.py checks the same with rand.
t=hyperopt/tests/integration/test_spark.py::FMinTestCase
deselect=(--deselect "$t::test_timeout_with_job_cancellation"
    --deselect "$t::test_trial_run_info")
cd "$work"
rc=0
PYSPARK_PYTHON="$py" PYTHONPATH="$work" "$py" -m pytest -q -p no:cacheprovider \
    hyperopt/tests/integration/test_spark.py "${deselect[@]}" \
    --junitxml="$work/report.xml" >"$work/pytest.log" 2>&1 || rc=$?
tail -n 30 "$work/pytest.log" >&2
"$py" - "$work/report.xml" "${#deselect[@]}" <<'PY'
import sys
import xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, fail = int(suite.get("tests")), int(suite.get("failures")) + int(suite.get("errors"))
skip = int(suite.get("skipped"))
print("hyperopt test_spark.py against parzen (classic local[4]): "
      "%d deselected as documented differences" % (int(sys.argv[2]) // 2))
print("%d passed, %d failed, %d skipped" % (tests - fail - skip, fail, skip))
PY
exit "$rc"
