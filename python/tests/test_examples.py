"""The examples/python scripts run unchanged (only `from parzen import`)."""

import glob
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, needs_tpe

EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "python", "*.py")))


def test_at_least_four_examples():
    names = {os.path.basename(p) for p in EXAMPLES}
    assert {"minimize.py", "sklearn_model_selection.py", "early_stopping.py",
            "resume_trials.py"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_imports_only_parzen(path):
    with open(path) as f:
        src = f.read()
    assert not re.search(r"^\s*(from|import)\s+hyperopt", src, re.M)
    assert re.search(r"^from parzen", src, re.M)


@needs_tpe
@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_runs(path, tmp_path):
    if "sklearn" in os.path.basename(path):
        pytest.importorskip("sklearn")
    env = dict(os.environ, HYPEROPT_FMIN_SEED="3")
    proc = subprocess.run([sys.executable, path, str(tmp_path)],
                          cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
