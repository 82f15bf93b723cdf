"""Choose a classifier and its hyperparameters on scikit-learn's bundled
digits dataset: a conditional space where each model has its own
parameters (hyperopt-sklearn style)."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from parzen import STATUS_OK, Trials, fmin, hp, space_eval, tpe
from parzen.pyll import scope

X, y = load_digits(return_X_y=True)
X, y = X[:600] / 16.0, y[:600]

space = hp.choice("classifier", [
    {"type": "svm",
     "C": hp.loguniform("svm_C", np.log(1e-2), np.log(1e2)),
     "kernel": hp.choice("svm_kernel", ["linear", "rbf"]),
     "gamma": hp.loguniform("svm_gamma", np.log(1e-3), np.log(1.0))},
    {"type": "rf",
     "n_estimators": scope.int(hp.quniform("rf_n", 10, 40, 10)),
     "max_depth": hp.choice("rf_depth", [None, hp.randint("rf_d", 2, 12)]),
     "criterion": hp.choice("rf_criterion", ["gini", "entropy"])},
    {"type": "knn",
     "n_neighbors": hp.uniformint("knn_k", 1, 15)},
    {"type": "logreg",
     "C": hp.lognormal("lr_C", 0, 1)},
])


def make(params):
    p = dict(params)
    kind = p.pop("type")
    if kind == "svm":
        return SVC(**p)
    if kind == "rf":
        return RandomForestClassifier(random_state=0, **p)
    if kind == "knn":
        return KNeighborsClassifier(**p)
    return LogisticRegression(max_iter=300, **p)


def objective(params):
    acc = cross_val_score(make(params), X, y, cv=3).mean()
    return {"loss": -acc, "status": STATUS_OK, "model": params["type"]}


if __name__ == "__main__":
    trials = Trials()
    best = fmin(objective, space, algo=tpe.suggest, max_evals=25,
                trials=trials, rstate=np.random.default_rng(0),
                show_progressbar=False)
    point = space_eval(space, best)
    print("best model:", point)
    print("cross-validated accuracy: %.3f" % -trials.best_trial["result"][
        "loss"])
    assert -trials.best_trial["result"]["loss"] > 0.85
