#!/usr/bin/env python
"""Same history, same question: does parzen's tpe.suggest propose from the
same distribution as hyperopt's?

For a space and a fixed history (n random points scored by a loss), both
libraries are asked for one TPE suggestion with many different seeds; the
proposals of each parameter are compared with a two-sample
Kolmogorov-Smirnov test (continuous) or a chi-square test (categorical).
A small p-value means parzen's TPE proposes differently from hyperopt's
on that parameter -- a fidelity bug, not noise.

    .venv-bench/bin/python bench/quality/fidelity.py [--draws 1000] [--n 60]
"""

import argparse
import math
import os
import sys
import warnings

import numpy as np
from scipy.stats import chi2_contingency, ks_2samp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from spaces import to_hp  # noqa: E402

CASES = {
    # name: (space, loss(point))
    "uniform": ({"x": ("uniform", "x", -5, 10)},
                lambda p: (p["x"] - 2.0) ** 2),
    "quniform": ({"x": ("quniform", "x", 0, 20, 2)},
                 lambda p: (p["x"] - 7.3) ** 2),
    "loguniform": ({"x": ("loguniform", "x", -7, 2)},
                   lambda p: (math.log(p["x"]) + 3) ** 2),
    "qloguniform": ({"x": ("qloguniform", "x", 0, 5, 2)},
                    lambda p: (p["x"] - 30.3) ** 2),
    "normal": ({"x": ("normal", "x", 0, 3)},
               lambda p: (p["x"] - 2.0) ** 2),
    "qnormal": ({"x": ("qnormal", "x", 0, 10, 2)},
                lambda p: (p["x"] - 5.3) ** 2),
    "lognormal": ({"x": ("lognormal", "x", 0, 2)},
                  lambda p: min(0.1 * (p["x"] - 10) ** 2, 10)),
    "qlognormal": ({"x": ("qlognormal", "x", 0, 2, 1)},
                   lambda p: (p["x"] - 4.3) ** 2),
    "randint": ({"x": ("randint", "x", 3, 15)},
                lambda p: (p["x"] - 11.3) ** 2),
    "choice": ({"x": ("choice", "x", [0, 1, 2, 3, 4])},
               lambda p: abs(p["x"] - 3.3)),
    "pchoice": ({"x": ("pchoice", "x", [(0.1, 0), (0.6, 1), (0.3, 2)])},
                lambda p: float(p["x"] != 0)),
    "conditional": (("choice", "o", [
        {"k": 0, "a": ("uniform", "a", -5, 5)},
        {"k": 1, "b": ("uniform", "b", -5, 5)}]),
        lambda p: (p.get("a", 9) + 3) ** 2 if p["k"] == 0
        else 2 + (p["b"] - 1) ** 2),
    "2d": ({"x": ("uniform", "x", -5, 10), "y": ("uniform", "y", 0, 15)},
           lambda p: (p["x"] - 3) ** 2 + (p["y"] - 2) ** 2),
}


def history(lib, space, loss, n, seed):
    """A Trials of n DONE random points (the same points for both libs:
    drawn with hyperopt's sampler, inserted as misc idxs/vals)."""
    import hyperopt
    rng = np.random.default_rng(seed)
    expr = to_hp(space, hyperopt.hp)
    dom = hyperopt.base.Domain(lambda p: 0.0, expr)
    labels = sorted(dom.params)
    # -- sample points with rand.suggest in hyperopt (gives idxs/vals)
    tr = hyperopt.Trials()
    docs = hyperopt.rand.suggest(list(range(n)), dom, tr,
                                 int(rng.integers(2 ** 31 - 1)))
    out = lib.Trials()
    new = []
    for d in docs:
        misc = d["misc"]
        vals = {k: list(v) for k, v in misc["vals"].items()}
        for k in labels:
            vals.setdefault(k, [])
        idxs = {k: ([misc["tid"]] if vals[k] else []) for k in labels}
        spec = {k: v[0] for k, v in vals.items() if v}
        point = hyperopt.space_eval(expr, spec)
        doc = out.new_trial_docs([misc["tid"]], [None],
                                 [{"status": "ok", "loss": loss(point)}],
                                 [{"tid": misc["tid"], "cmd": None,
                                   "workdir": None, "idxs": idxs,
                                   "vals": vals}])[0]
        doc["state"] = 2
        new.append(doc)
    out.insert_trial_docs(new)
    out.refresh()
    return out, labels


def proposals(libname, space, loss, n, draws, hist_seed):
    if libname == "parzen":
        import parzen as lib
    else:
        import hyperopt as lib
    trials, labels = history(lib, space, loss, n, hist_seed)
    dom = lib.base.Domain(lambda p: 0.0, to_hp(space, lib.hp))
    out = {k: [] for k in labels}
    for s in range(draws):
        doc = lib.tpe.suggest([n + 1000], dom, trials, 12345 + s)[0]
        for k in labels:
            v = doc["misc"]["vals"].get(k, [])
            out[k].append(v[0] if v else np.nan)
    return out


def compare(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = np.isnan(a).mean(), np.isnan(b).mean()
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan"), na, nb, "-"
    cats = np.union1d(a, b)
    if len(cats) <= 30:
        table = np.array([[np.sum(a == c) for c in cats],
                          [np.sum(b == c) for c in cats]])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return 1.0, na, nb, "chi2"
        return float(chi2_contingency(table)[1]), na, nb, "chi2"
    return float(ks_2samp(a, b).pvalue), na, nb, "KS"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--hist-seed", type=int, default=0)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    print("| case | param | test | p | parzen median | hyperopt median |"
          " parzen IQR | hyperopt IQR |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name in a.cases.split(","):
        space, loss = CASES[name]
        pz = proposals("parzen", space, loss, a.n, a.draws, a.hist_seed)
        ho = proposals("hyperopt", space, loss, a.n, a.draws, a.hist_seed)
        for k in pz:
            p, na, nb, test = compare(pz[k], ho[k])
            x, y = np.asarray(pz[k], float), np.asarray(ho[k], float)
            x, y = x[~np.isnan(x)], y[~np.isnan(y)]
            q = lambda v: (np.percentile(v, 75) - np.percentile(v, 25)
                           if len(v) else float("nan"))
            print("| %s | %s | %s | %.3g | %.4g | %.4g | %.4g | %.4g |" % (
                name, k, test, p, np.median(x) if len(x) else np.nan,
                np.median(y) if len(y) else np.nan, q(x), q(y)),
                flush=True)


if __name__ == "__main__":
    main()
