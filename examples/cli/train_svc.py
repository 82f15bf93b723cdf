"""Train a support vector classifier on scikit-learn's bundled digits
data set with the hyperparameters parzen proposes, and report the loss.

parzen runs this script once per trial:

    parzen run examples/cli/space.json --max-evals 30 \
        -- .venv/bin/python examples/cli/train_svc.py

It reads the point from PARZEN_PARAMS (the same JSON also arrives on
stdin), for example

    {"C": 12.3, "kernel": {"name": "rbf", "gamma": 0.0011}}

and writes its result, a JSON object, to PARZEN_RESULT_FILE: "loss" is
what parzen minimizes (1 - mean 3-fold cross-validated accuracy); the
other keys are kept with the trial ('parzen show --trial ID'). Anything
printed goes to the trial's captured output. A crash (an exception, a
non-zero exit) makes a failed trial and the search goes on.
"""

import json
import os
import sys

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC


def make_model(point):
    kernel = point["kernel"]
    options = {"C": point["C"], "kernel": kernel["name"]}
    if "gamma" in kernel:
        options["gamma"] = kernel["gamma"]
    if "degree" in kernel:
        options["degree"] = int(kernel["degree"])
    return SVC(**options)


def main():
    point = json.loads(os.environ["PARZEN_PARAMS"])
    X, y = load_digits(return_X_y=True)
    scores = cross_val_score(make_model(point), X / 16.0, y, cv=3)
    result = {
        "loss": 1.0 - scores.mean(),
        "status": "ok",
        "accuracy": scores.mean(),
        "accuracy_std": scores.std(),
    }
    print(f"trial {os.environ['PARZEN_TRIAL_ID']}: accuracy "
          f"{scores.mean():.4f}", file=sys.stderr)
    with open(os.environ["PARZEN_RESULT_FILE"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
