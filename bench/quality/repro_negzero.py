#!/usr/bin/env python
"""Minimal reproduction: parzen's TPE treated -0.0 and +0.0 as different
values when it sorted observations (src/mixture_sort.c key_of, src/mixture.c place_components).
Fixed (key_of canonicalises zero); this script now prints "same" for both
libraries and stays as the regression check.

Two histories that differ ONLY in the sign of zero (qnormal draws that
round to zero come out as -0.0 or +0.0) should give the same proposals:
-0.0 == 0.0, and hyperopt's np.searchsorted / np.argsort treat them as
equal. parzen's radix key mapped -0.0 below +0.0, so the prior mean (0.0)
was inserted after the -0.0 observations instead of before every value
equal to it, the neighbour-gap bandwidths changed, and so did the
proposals.

    .venv-bench/bin/python bench/quality/repro_negzero.py
"""

import collections
import copy

import numpy as np


def history(lib, zero):
    rng = np.random.default_rng(1)
    trials = lib.Trials()
    docs = []
    for tid in range(60):
        x = float(np.round(rng.normal(0, 10) / 2) * 2)
        if x == 0.0:
            x = zero
        misc = {"tid": tid, "cmd": None, "workdir": None,
                "idxs": {"x": [tid]}, "vals": {"x": [x]}}
        d = trials.new_trial_docs([tid], [None],
                                  [{"status": "ok", "loss": (x - 0.3) ** 2}],
                                  [misc])[0]
        d["state"] = 2
        docs.append(d)
    trials.insert_trial_docs(copy.deepcopy(docs))
    trials.refresh()
    return trials


def proposals(lib, zero, n=400):
    trials = history(lib, zero)
    dom = lib.base.Domain(lambda p: 0.0, lib.hp.qnormal("x", 0, 10, 2))
    out = collections.Counter()
    for s in range(n):
        out[lib.tpe.suggest([1000], dom, trials, s)[0]["misc"]["vals"]["x"][0]
            + 0.0] += 1
    return dict(sorted(out.items()))


def main():
    import parzen
    libs = [parzen]
    try:
        import hyperopt
        libs.append(hyperopt)
    except ImportError:
        pass
    n_zero = sum(1 for d in history(parzen, 0.0).trials
                 if d["misc"]["vals"]["x"][0] == 0.0)
    print("history: 60 trials, %d of them at x = 0" % n_zero)
    for lib in libs:
        a = proposals(lib, 0.0)
        b = proposals(lib, -0.0)
        print("%-8s zeros as +0.0: %s" % (lib.__name__, a))
        print("%-8s zeros as -0.0: %s   -> %s" % (
            lib.__name__, b, "same" if a == b else "DIFFERENT"))


if __name__ == "__main__":
    main()
