#!/usr/bin/env bash
# Conformance stage: hyperopt 0.3.0's own SparkTrials tests
# (hyperopt/tests/integration/test_spark.py, from its sdist, downloaded at
# test time and never committed) run against parzen importable as
# `hyperopt` on the driver and on the executors (python/tests/conformance/
# spark_shim). Prints the counts; exits 1 on an unexpected failure.
# Usage: scripts/conformance-hyperopt-spark.sh [PYTHON]  (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=${1:-$root/.venv/bin/python}
sdist=$(bash scripts/fetch-hyperopt-sdist.sh "$py")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r python/tests/conformance/spark_shim/hyperopt "$work/"
ln -s "$sdist/hyperopt/tests" "$work/hyperopt/tests"
# Documented differences (docs/spark.md, "hyperopt's own tests"): the test
# id and why parzen differs.
#  test_timeout_with_job_cancellation: its second half expects 6 trials of
#  1 s at parallelism 4 to outlast a 4 s timeout, which they do only with
#  hyperopt's one-trial-per-second dispatch; parzen runs them in ~2 s.
#  test_trial_run_info: asserts 6 successes and 2 failures of anneal over
#  fn_succeed_within_range at parallelism 4, but which points anneal
#  proposes depends on which of the 4 running trials have finished at each
#  ask, i.e. on timing: parzen's event-driven dispatch gives 6/2 or 7/1 (the
#  function's own docstring says 7 and 1), so the count is not a fixed fact.
deselect=(--deselect
    "hyperopt/tests/integration/test_spark.py::FMinTestCase::test_timeout_with_job_cancellation"
    --deselect
    "hyperopt/tests/integration/test_spark.py::FMinTestCase::test_trial_run_info")
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
