"""The project's seed example, verbatim, with parzen imported as hyperopt:
on a classic local session and on a Spark Connect session."""

import glob
import os

import pytest

from spark_fixtures import connect_session, session, ship_by_value

import parzen

ship_by_value(__name__)

# The example of the seed document (shared/seed/), character for character:
# `algo` is the module, SparkTrials() takes the active session.
SEED_EXAMPLE = """\
import hyperopt
best_hyperparameters = hyperopt.fmin(
fn = training_function,
space = search_space,
algo = hyperopt.tpe,
max_evals = 64,
trials = hyperopt.SparkTrials())
"""

HERE = os.path.dirname(os.path.abspath(__file__))


def _seed_texts():
    root = os.path.dirname(os.path.dirname(HERE))
    for base in (os.path.join(root, "..", "shared", "seed"),
                 "/work/shared/seed"):
        for path in glob.glob(os.path.join(base, "*.txt")):
            with open(path, encoding="utf-8") as f:
                yield f.read()


def test_the_embedded_example_is_the_seeds():
    texts = list(_seed_texts())
    if not texts:
        pytest.skip("the seed document (shared/seed/) is not beside the repo")
    body = SEED_EXAMPLE.split("\n", 1)[1]  # after "import hyperopt"
    assert any(body.strip() in t for t in texts)


def training_function(params):
    return (params["x"] - 1) ** 2 + params["y"]


def run_seed_example():
    namespace = {
        "training_function": training_function,
        "search_space": {"x": parzen.hp.uniform("x", -3, 3),
                         "y": parzen.hp.choice("y", [0.5, 0.0])},
    }
    code = SEED_EXAMPLE.replace("import hyperopt\n",
                                "import parzen as hyperopt\n", 1)
    exec(compile(code, "<seed example>", "exec"), namespace)
    best = namespace["best_hyperparameters"]
    assert set(best) == {"x", "y"}
    assert abs(best["x"] - 1) < 1.0
    assert best["y"] == 1  # the index of 0.0


@pytest.fixture(autouse=True)
def fixed_seed(monkeypatch):
    # hyperopt's way to seed an fmin call that passes no rstate
    monkeypatch.setenv("HYPEROPT_FMIN_SEED", "7")


def test_the_seed_example_on_classic_spark():
    spark = session("local[2]", "parzen-seed")
    try:
        run_seed_example()
    finally:
        spark.stop()


def test_the_seed_example_on_spark_connect():
    pytest.importorskip("pyarrow")
    spark = connect_session("local[2]")
    try:
        run_seed_example()
    finally:
        spark.stop()
