#!/usr/bin/env python
"""The mtpe report: parzen mtpe against Optuna's default TPE (and every
other method present) on bench/quality's runs.

    .venv-bench/bin/python bench/quality/report_mtpe.py DIR [DIR...] \\
        [--confirm DIR[,DIR...]] [--budgets 50,100,200] [--out report_mtpe.md]

Reads the runs of every DIR (the methods may have been run into separate
directories), keeps for each problem the seeds that every method has (so
a method still running is compared on the seeds done), and prints:
median log10 regret per problem and budget, the mean rank over the
problems (all, and per group), one-sided Mann–Whitney U p-values of
"mtpe's regret is larger than optuna's", the parallelism experiment at the
largest P (medians, mean rank, degradation from P=1), and the targets of
docs/benchmarks.md "mtpe". --confirm DIR[,DIR...]: fresh-seed re-runs of
the problems flagged at the largest budget (several directories when the
flags came in several rounds).
"""

import argparse
import math
import os
import sys
from collections import defaultdict

import numpy as np
from scipy.stats import mannwhitneyu, rankdata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import report  # noqa: E402
from problems import BY_NAME, PROBLEMS  # noqa: E402

MTPE, RIVAL = "parzen-mtpe", "optuna-tpe"


def short(m):
    return report.SHORT.get(m, m)


def common(seq, problems, methods):
    """(problem, method) -> {seed: trace} restricted to common seeds."""
    out = {}
    for p in problems:
        have = [m for m in methods if (p, m) in seq]
        if len(have) < len(methods):
            continue
        seeds = set.intersection(*(set(seq[(p, m)]) for m in methods))
        for m in methods:
            out[(p, m)] = {s: seq[(p, m)][s] for s in sorted(seeds)}
    return out


def one_sided(x, y):
    """p of 'x is stochastically larger than y' (x worse: higher regret)."""
    x, y = np.asarray(x), np.asarray(y)
    if np.all(x == x[0]) and np.all(y == x[0]):
        return 1.0
    return float(mannwhitneyu(x, y, alternative="greater").pvalue)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--confirm", default="")
    ap.add_argument("--budgets", default="50,100,200")
    ap.add_argument("--out", default="")
    ap.add_argument("--problems", default="",
                    help="comma-separated subset (default: every problem "
                         "with runs)")
    a = ap.parse_args()
    budgets = [int(b) for b in a.budgets.split(",")]
    recs = []
    for d in a.dirs:
        recs += report.load(os.path.join(d, "runs.jsonl"))[0]
    crecs = []
    for d in filter(None, a.confirm.split(",")):
        crecs += report.load(os.path.join(d, "runs.jsonl"))[0]
    # -- one Scale for everything (estimated optima of the ML tasks)
    scale = report.Scale(recs + crecs)
    seq, par = defaultdict(dict), defaultdict(dict)
    for r in recs:
        tr = scale.log_regret(r["problem"], report.incumbent_true(r))
        if r["kind"] == "seq" and "@" not in r["method"]:
            seq[(r["problem"], r["method"])][r["seed"]] = tr
        elif r["kind"] == "par":
            par[(r["problem"], r["method"], r["strategy"],
                 r["parallelism"])][r["seed"]] = tr
    problems = [p.name for p in PROBLEMS
                if any(k[0] == p.name for k in seq) and
                (not a.problems or p.name in a.problems.split(","))]
    # -- methods run on every problem (a stray partial method is left out)
    methods = [m for m in report.METHODS
               if all((p, m) in seq for p in problems)]
    cs = common(seq, problems, methods)
    probs = [p for p in problems if (p, methods[0]) in cs]
    L = ["# mtpe vs Optuna's default TPE — bench/quality\n",
         "Methods: %s. Seeds per problem: those every method has "
         "(n column).\n" % ", ".join(short(m) for m in methods)]
    med = {}
    for b in budgets:
        L.append("\n**Median log10 regret after %d evaluations**\n" % b)
        L.append("| problem | n | " + " | ".join(short(m) for m in methods)
                 + " |")
        L.append("|---|---:|" + "---:|" * len(methods))
        for p in probs:
            vals = []
            for m in methods:
                v = float(np.median(report.at(cs[(p, m)], b)))
                med[(p, m, b)] = v
                vals.append(v)
            best = min(vals)
            L.append("| %s | %d | %s |" % (p, len(cs[(p, methods[0])]),
                                           " | ".join(
                ("**%.2f**" if abs(v - best) < 5e-3 else "%.2f") % v
                for v in vals)))
    groups = {"all": probs}
    for g, gl in (("synthetic", "synthetic"), ("hyperopt", "hyperopt-style"),
                  ("ml", "ML")):
        ps = [p for p in probs if BY_NAME[p].group == g]
        if ps and len(ps) < len(probs):
            groups[gl] = ps
    rl, ranks = report.rank_table(med, budgets, methods, groups)
    L += rl
    flagged = []
    if MTPE in methods and RIVAL in methods:
        L.append("\n**One-sided Mann–Whitney U: p that mtpe's regret is "
                 "larger than optuna tpe's** (bold: p < 0.05; ratio = "
                 "median regret mtpe / optuna)\n")
        L.append("| problem | " + " | ".join("@%d p | @%d ratio" % (b, b)
                                            for b in budgets) + " |")
        L.append("|---|" + "---:|---:|" * len(budgets))
        for p in probs:
            cells = []
            for b in budgets:
                x = report.at(cs[(p, MTPE)], b)
                y = report.at(cs[(p, RIVAL)], b)
                pv = one_sided(x, y)
                ratio = 10 ** (np.median(x) - np.median(y))
                cells.append(("**%s**" if pv < 0.05 else "%s") %
                             report.fmt_p(pv))
                cells.append("%.2f" % ratio)
                if b == budgets[-1] and pv < 0.05:
                    flagged.append(p)
            L.append("| %s | %s |" % (p, " | ".join(cells)))
    # -- confirmation on fresh seeds
    confirmed = {}
    if crecs:
        cseq = defaultdict(dict)
        for r in crecs:
            cseq[(r["problem"], r["method"])][r["seed"]] = \
                scale.log_regret(r["problem"], report.incumbent_true(r))
        cprobs = sorted({p for p, _ in cseq})
        cc = common(cseq, cprobs, [MTPE, RIVAL])
        L.append("\n**Fresh seeds (re-run of flagged problems)**, @%d\n"
                 % budgets[-1])
        L.append("| problem | n | p (mtpe worse) | ratio |")
        L.append("|---|---:|---:|---:|")
        for p in cprobs:
            if (p, MTPE) not in cc:
                continue
            x = report.at(cc[(p, MTPE)], budgets[-1])
            y = report.at(cc[(p, RIVAL)], budgets[-1])
            pv = one_sided(x, y)
            confirmed[p] = pv
            L.append("| %s | %d | %s | %.2f |" % (
                p, len(x), report.fmt_p(pv),
                10 ** (np.median(x) - np.median(y))))
    # -- parallelism
    Ps = sorted({k[3] for k in par})
    pinfo = {}
    if Ps:
        P = Ps[-1]
        rows = sorted({(k[1], k[2]) for k in par if k[3] == P})
        pprobs = sorted({k[0] for k in par if k[3] == P})
        L.append("\n**Parallelism P=%d** (simulated asynchronous workers; "
                 "median log10 regret @%d, common seeds; Δ = change from "
                 "the sequential run's median, same seeds)\n"
                 % (P, budgets[-1]))
        L.append("| problem | n | " + " | ".join(
            "%s/%s | Δ" % (short(m), s) for m, s in rows) + " |")
        L.append("|---|---:|" + "---:|---:|" * len(rows))
        pr = defaultdict(list)
        deg = defaultdict(list)
        for p in pprobs:
            keys = [(p, m, s, P) for m, s in rows]
            if any(k not in par for k in keys):
                continue
            seeds = set.intersection(*(set(par[k]) for k in keys))
            vals, cells = [], []
            for (m, s), k in zip(rows, keys):
                v = float(np.median([par[k][sd][budgets[-1] - 1]
                                     for sd in seeds]))
                vals.append(v)
                sq = seq.get((p, m), {})
                ss = [sd for sd in seeds if sd in sq]
                d = v - float(np.median([sq[sd][budgets[-1] - 1]
                                         for sd in ss])) if ss else \
                    float("nan")
                deg[(m, s)].append(d)
                cells.append("%.2f | %s" % (v, report.fmt(d)))
            for (m, s), r in zip(rows, rankdata(np.round(vals, 6))):
                pr[(m, s)].append(r)
            L.append("| %s | %d | %s |" % (p, len(seeds), " | ".join(cells)))
        L.append("\n| P=%d | mean rank | mean Δ |" % P)
        L.append("|---|---:|---:|")
        for m, s in rows:
            pinfo[(m, s)] = (float(np.mean(pr[(m, s)])),
                             float(np.nanmean(deg[(m, s)])))
            L.append("| %s/%s | %.2f | %.2f |" % (short(m), s,
                                                  *pinfo[(m, s)]))
    # -- targets
    L.append("\n## Targets\n")
    if MTPE in methods and RIVAL in methods:
        for b in budgets:
            x, y = ranks[("all", MTPE, b)], ranks[("all", RIVAL, b)]
            L.append("- mean rank @%d over %d problems: mtpe %.2f vs optuna "
                     "tpe %.2f → %s" % (b, len(probs), x, y,
                                        "ahead" if x < y else "NOT ahead"))
        L.append("- significantly worse than optuna tpe @%d (one-sided p < "
                 "0.05, main seeds): %s" % (budgets[-1],
                                            ", ".join(flagged) or "none"))
        if confirmed:
            bad = [p for p, pv in confirmed.items() if pv < 0.05]
            L.append("- on fresh seeds: %s" % (
                "still worse on " + ", ".join(bad) if bad else
                "none significantly worse"))
    for (m, s), (r, d) in sorted(pinfo.items()):
        L.append("- P=%d %s/%s: mean rank %.2f, mean Δ %.2f" % (
            Ps[-1], short(m), s, r, d))
    text = "\n".join(L) + "\n"
    out = a.out or os.path.join(a.dirs[0], "report_mtpe.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    print("flagged:", ",".join(flagged))


if __name__ == "__main__":
    main()
