"""Benchmark problems: synthetic functions, hyperopt-style spaces and
scikit-learn tuning tasks.

Every problem has a library-neutral space (spaces.py) and an objective
``evaluate(x, rng) -> (observed_loss, true_loss)``: the optimizer sees the
observed loss, regret is measured on the true (noise-free) loss of the
incumbent (the point with the lowest observed loss so far). Only
gauss_wave2 is noisy; for every other problem the two are equal.

Optima (``fopt``) are the known global minima (literature values checked
numerically with scipy, see README); for the ML tasks ``fopt`` is None and
the optimum is estimated afterwards as the best true loss found by any
method in any run (report.py).
"""

import math

import numpy as np

from spaces import Tuple, box


class Problem:
    def __init__(self, name, group, space, fn, fopt=None, noise=0.0,
                 true_fn=None, notes=""):
        self.name = name
        self.group = group          # "synthetic", "hyperopt" or "ml"
        self.space = space
        self.fn = fn                # x -> loss (noise-free)
        self.fopt = fopt
        self.noise = noise          # std of Gaussian observation noise
        self.notes = notes

    def evaluate(self, x, rng):
        true = float(self.fn(x))
        if self.noise:
            return true + self.noise * float(rng.standard_normal()), true
        return true, true


# ----------------------------------------------------------- synthetic


def _arr(x):
    return np.asarray(x, dtype=float)


def branin(x):
    x1, x2 = x
    return ((x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6)
            ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def six_hump_camel(x):
    x1, x2 = x
    return ((4 - 2.1 * x1 ** 2 + x1 ** 4 / 3) * x1 ** 2 + x1 * x2
            + (-4 + 4 * x2 ** 2) * x2 ** 2)


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30],
                  [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470],
                         [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886],
                         [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650],
                         [4047, 8828, 8732, 5743, 1091, 381]])
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann(A, P):
    def f(x):
        x = _arr(x)
        return -float(np.sum(_H_ALPHA * np.exp(-np.sum(A * (x - P) ** 2,
                                                        axis=1))))
    return f


def rosenbrock(x):
    x = _arr(x)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2
                        + (1 - x[:-1]) ** 2))


def ackley(x):
    x = _arr(x)
    d = len(x)
    return float(-20 * math.exp(-0.2 * math.sqrt(np.sum(x ** 2) / d))
                 - math.exp(np.sum(np.cos(2 * math.pi * x)) / d)
                 + 20 + math.e)


def levy(x):
    w = 1 + (_arr(x) - 1) / 4
    return float(math.sin(math.pi * w[0]) ** 2
                 + np.sum((w[:-1] - 1) ** 2
                          * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2))


def styblinski_tang(x):
    x = _arr(x)
    return float(0.5 * np.sum(x ** 4 - 16 * x ** 2 + 5 * x))


def michalewicz(x, m=10):
    x = _arr(x)
    i = np.arange(1, len(x) + 1)
    return -float(np.sum(np.sin(x) * np.sin(i * x ** 2 / math.pi) ** (2 * m)))


def _synthetic():
    P = []

    def add(name, fn, lows, highs, fopt):
        P.append(Problem(name, "synthetic", box("x", lows, highs), fn, fopt))

    add("branin", branin, [-5, 0], [10, 15], 0.39788735772973816)
    add("six_hump_camel", six_hump_camel, [-3, -2], [3, 2],
        -1.0316284534898774)
    add("hartmann3", _hartmann(_H3_A, _H3_P), [0] * 3, [1] * 3,
        -3.8627821478207558)
    add("hartmann6", _hartmann(_H6_A, _H6_P), [0] * 6, [1] * 6,
        -3.3223680114155153)
    add("rosenbrock5", rosenbrock, [-5] * 5, [10] * 5, 0.0)
    add("rosenbrock10", rosenbrock, [-5] * 10, [10] * 10, 0.0)
    add("ackley5", ackley, [-32.768] * 5, [32.768] * 5, 0.0)
    add("levy5", levy, [-10] * 5, [10] * 5, 0.0)
    add("styblinski_tang5", styblinski_tang, [-5] * 5, [5] * 5,
        -39.16616570377142 * 5)
    add("michalewicz5", michalewicz, [0] * 5, [math.pi] * 5,
        -4.6876581790881495)
    return P


# ------------------------------------------------------ hyperopt-style
# The domains of hyperopt's tests (hyperopt-spec.md section 8.2), with the
# loss computed from the sampled values instead of inside the pyll graph.


def _q1_lognormal(x):
    return min(0.1 * (x - 10) ** 2, 10.0)


def _distractor(x):
    return -(1 / (1 + math.exp(-x)) + 2 * math.exp(-(x + 10) ** 2))


def _gauss_wave2(p):
    t = 2 * math.exp(-(p["x"] / 5) ** 2)
    if p["hf"] == 1:
        t += math.sin(p["x"]) * p["amp"]
    return -t


def _many_dists(p):
    z = sum(float(p[k]) for k in "a b bb c d e f g h i j k".split())
    return float(np.log(1e-12 + z ** 2))


def _q1_choice(o):
    return (o[0] - o[1]) ** 2


def _hyperopt_style():
    many = {
        "a": ("choice", "a", [0, 1, 2]),
        "b": ("randint", "b", 10),
        "bb": ("randint", "bb", 12, 25),
        "c": ("uniform", "c", 4, 7),
        "d": ("loguniform", "d", -2, 0),
        "e": ("quniform", "e", 0, 10, 3),
        "f": ("qloguniform", "f", 0, 3, 2),
        "g": ("normal", "g", 4, 7),
        "h": ("lognormal", "h", -2, 2),
        "i": ("qnormal", "i", 0, 10, 2),
        "j": ("qlognormal", "j", 0, 2, 1),
        "k": ("pchoice", "k", [(0.1, 0), (0.9, 1)]),
    }
    return [
        Problem("q1_lognormal", "hyperopt", ("lognormal", "x", 0, 2),
                _q1_lognormal, 0.0),
        Problem("distractor", "hyperopt", ("uniform", "x", -15, 15),
                _distractor, -2.0000453981263027),
        Problem("gauss_wave2", "hyperopt",
                {"x": ("uniform", "x", -20, 20),
                 "amp": ("uniform", "amp", 0, 1),
                 "hf": ("choice", "hf", [0, 1])},
                _gauss_wave2, -2.8352608859464388, noise=0.1,
                notes="observations carry N(0, 0.1) noise; regret is the "
                      "noise-free loss of the incumbent"),
        Problem("many_dists", "hyperopt", many, _many_dists,
                float(np.log(1e-12))),
        Problem("q1_choice", "hyperopt",
                ("choice", "o_x", [Tuple((-3, ("uniform", "x_neg", -5, 5))),
                                   Tuple((3, ("uniform", "x_pos", -5, 5)))]),
                _q1_choice, 0.0),
    ]


# ------------------------------------------------------------- ML tasks
# Deterministic objectives: fixed data subsample, fixed CV split, fixed
# model random_state, one thread (run.py pins the BLAS/OpenMP pools).

_DATA = {}
_CACHE = {}
_CACHE_MAX = 200000


def _memo(name, key, compute):
    """Evaluations are deterministic: memoise them per process (hits are
    repeated configurations, e.g. from quantized / categorical spaces)."""
    k = (name, key)
    v = _CACHE.get(k)
    if v is None:
        if len(_CACHE) > _CACHE_MAX:
            _CACHE.clear()
        v = _CACHE[k] = compute()
    return v


def _freeze(p):
    if isinstance(p, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in p.items()))
    if isinstance(p, (list, tuple)):
        return tuple(_freeze(v) for v in p)
    if isinstance(p, float):
        return float(np.float64(p))
    return p


def _digits():
    d = _DATA.get("digits")
    if d is None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import StratifiedKFold, train_test_split
        X, y = load_digits(return_X_y=True)
        X, _, y, _ = train_test_split(X / 16.0, y, train_size=500,
                                      stratify=y, random_state=0)
        folds = list(StratifiedKFold(3, shuffle=True,
                                     random_state=0).split(X, y))
        d = _DATA["digits"] = (X, y, folds)
    return d


def _svc_digits(p):
    def compute():
        from sklearn.svm import SVC
        X, y, folds = _digits()
        kw = dict(kernel=p["kernel"], C=p["C"])
        if p["kernel"] != "linear":
            kw["gamma"] = p["gamma"]
        if p["kernel"] == "poly":
            kw["degree"] = int(p["degree"])
            kw["coef0"] = p["coef0"]
        err = 0.0
        for tr, te in folds:
            m = SVC(max_iter=200000, **kw).fit(X[tr], y[tr])
            err += float(np.mean(m.predict(X[te]) != y[te]))
        return err / len(folds)
    return _memo("svc", _freeze(p), compute)


def _breast_cancer():
    d = _DATA.get("bc")
    if d is None:
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import StratifiedKFold
        X, y = load_breast_cancer(return_X_y=True)
        folds = list(StratifiedKFold(3, shuffle=True,
                                     random_state=0).split(X, y))
        d = _DATA["bc"] = (X, y, folds)
    return d


def _gb_breast_cancer(p):
    def compute():
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.metrics import log_loss
        X, y, folds = _breast_cancer()
        loss = 0.0
        for tr, te in folds:
            m = GradientBoostingClassifier(
                n_estimators=int(p["n_estimators"]),
                learning_rate=p["learning_rate"],
                max_depth=int(p["max_depth"]),
                subsample=p["subsample"],
                min_samples_leaf=int(p["min_samples_leaf"]),
                max_features=p["max_features"],
                random_state=0).fit(X[tr], y[tr])
            loss += log_loss(y[te], m.predict_proba(X[te])[:, 1])
        return loss / len(folds)
    return _memo("gb", _freeze(p), compute)


def _diabetes():
    d = _DATA.get("diabetes")
    if d is None:
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import KFold
        X, y = load_diabetes(return_X_y=True)
        folds = list(KFold(3, shuffle=True, random_state=0).split(X))
        d = _DATA["diabetes"] = (X, y, folds)
    return d


def _knn_diabetes(p):
    def compute():
        from scipy.spatial.distance import cdist
        from sklearn.neighbors import KNeighborsRegressor
        from sklearn.preprocessing import MinMaxScaler, StandardScaler
        X, y, folds = _diabetes()
        cache = _DATA.setdefault("diabetes_dist", {})
        mse = 0.0
        for i, (tr, te) in enumerate(folds):
            # -- Minkowski distances test x train per (scaler, p, fold),
            # computed once per process (p is quantized); the neighbour
            # search and the weighting are scikit-learn's (precomputed)
            key = (p["scaler"], p["p"], i)
            if key not in cache:
                Xtr, Xte = X[tr], X[te]
                if p["scaler"] != "none":
                    s = (StandardScaler() if p["scaler"] == "standard"
                         else MinMaxScaler()).fit(Xtr)
                    Xtr, Xte = s.transform(Xtr), s.transform(Xte)
                cache[key] = cdist(Xte, Xtr, "minkowski", p=p["p"])
            dummy = cache.get(("fit", i))
            if dummy is None:  # fit() only checks a square matrix
                dummy = cache[("fit", i)] = np.zeros((len(tr), len(tr)))
            m = KNeighborsRegressor(n_neighbors=int(p["n_neighbors"]),
                                    weights=p["weights"],
                                    metric="precomputed", n_jobs=1)
            m.fit(dummy, y[tr])
            mse += float(np.mean((m.predict(cache[key]) - y[te]) ** 2))
        return mse / len(folds) / 1000.0
    return _memo("knn", _freeze(p), compute)


def _ml():
    ln = math.log
    svc_space = ("choice", "kernel", [
        {"kernel": "linear",
         "C": ("loguniform", "C_linear", ln(1e-3), ln(1e3))},
        {"kernel": "rbf",
         "C": ("loguniform", "C_rbf", ln(1e-2), ln(1e4)),
         "gamma": ("loguniform", "gamma_rbf", ln(1e-4), ln(1e1))},
        {"kernel": "poly",
         "C": ("loguniform", "C_poly", ln(1e-2), ln(1e4)),
         "gamma": ("loguniform", "gamma_poly", ln(1e-4), ln(1e1)),
         "degree": ("quniform", "degree", 2, 5, 1),
         "coef0": ("uniform", "coef0", 0, 1)},
    ])
    gb_space = {
        "n_estimators": ("quniform", "n_estimators", 5, 30, 5),
        "learning_rate": ("loguniform", "learning_rate", ln(1e-2), ln(1.0)),
        "max_depth": ("quniform", "max_depth", 1, 3, 1),
        "subsample": ("uniform", "subsample", 0.5, 1.0),
        "min_samples_leaf": ("quniform", "min_samples_leaf", 1, 30, 1),
        "max_features": ("uniform", "max_features", 0.1, 1.0),
    }
    knn_space = {
        "n_neighbors": ("quniform", "n_neighbors", 1, 60, 1),
        "weights": ("choice", "weights", ["uniform", "distance"]),
        "p": ("quniform", "p", 1.0, 3.0, 0.25),
        "scaler": ("choice", "scaler", ["none", "standard", "minmax"]),
    }
    return [
        Problem("svc_digits", "ml", svc_space, _svc_digits,
                notes="SVC (linear / rbf / poly) on 500 digits, 3-fold "
                      "stratified CV error"),
        Problem("gb_breast_cancer", "ml", gb_space, _gb_breast_cancer,
                notes="GradientBoostingClassifier on breast_cancer, 3-fold "
                      "stratified CV log-loss"),
        Problem("knn_diabetes", "ml", knn_space, _knn_diabetes,
                notes="KNeighborsRegressor (+ scaler choice) on diabetes, "
                      "3-fold CV MSE / 1000"),
    ]


PROBLEMS = _synthetic() + _hyperopt_style() + _ml()
BY_NAME = {p.name: p for p in PROBLEMS}
