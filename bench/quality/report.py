"""Tables, tests and plots from runs.jsonl (see run.py).

Metric: simple regret of the incumbent, log10. The incumbent after t
evaluations is the evaluated point with the lowest *observed* loss; its
regret is its true (noise-free) loss minus the optimum. Synthetic and
hyperopt-style problems use the known optimum. For the scikit-learn tasks
the optimum is estimated as the lowest true loss found by any method in
any run in the results file, and the regret is normalised by the spread
of random configurations: (f - f*) / (median loss of random search's
evaluations - f*). Regrets are floored before the log: at 1e-12 for the
synthetic and hyperopt-style problems, at 1e-3 (normalised) for the ML
tasks, whose losses are discrete enough (CV error over 500 digits; a
k-NN space of 3240 configurations) that many runs find the estimated
optimum exactly.

    .venv-bench/bin/python bench/quality/report.py [results dir] [--docs-img DIR]
"""

import json
import math
import os
import sys
from collections import defaultdict

import numpy as np
from scipy.stats import mannwhitneyu, rankdata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from methods import EXTRA_METHODS, METHODS  # noqa: E402
from problems import BY_NAME, PROBLEMS  # noqa: E402

FLOOR = 1e-12
FLOOR_ML = 1e-3
ALPHA = 0.05
SHORT = {"parzen-tpe": "pz tpe", "parzen-rand": "pz rand",
         "parzen-anneal": "pz anneal", "hyperopt-tpe": "ho tpe",
         "hyperopt-rand": "ho rand", "hyperopt-anneal": "ho anneal",
         "optuna-tpe": "optuna tpe", "optuna-tpe-indep": "optuna indep",
         "parzen-tpe-g1": "pz tpe γ=1", "parzen-mtpe": "pz mtpe"}


def load(path):
    recs, errors = [], []
    with open(path) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            (errors if "error" in r else recs).append(r)
    return recs, errors


def incumbent_true(rec):
    """True loss of the incumbent after each evaluation."""
    obs = np.asarray(rec["loss"], dtype=float)
    true = np.asarray(rec.get("true", rec["loss"]), dtype=float)
    obs = np.where(np.isnan(obs), np.inf, obs)
    out = np.empty(len(obs))
    best_o, best_t = np.inf, np.inf
    for i, (o, t) in enumerate(zip(obs, true)):
        if o < best_o:
            best_o, best_t = o, t
        out[i] = best_t
    return out


class Scale:
    """Optimum and normaliser per problem."""

    def __init__(self, recs):
        self.fopt, self.norm, self.estimated = {}, {}, set()
        by_prob = defaultdict(list)
        for r in recs:
            by_prob[r["problem"]].append(r)
        for name, rs in by_prob.items():
            p = BY_NAME[name]
            if p.fopt is not None:
                self.fopt[name] = p.fopt
                self.norm[name] = 1.0
                continue
            trues = [min(r.get("true", r["loss"])) for r in rs]
            f = float(min(trues))
            rand = [x for r in rs if r["kind"] == "seq"
                    and r["method"].endswith("-rand")
                    for x in r.get("true", r["loss"])]
            if not rand:
                rand = [x for r in rs for x in r.get("true", r["loss"])]
            self.fopt[name] = f
            self.norm[name] = max(float(np.median(rand)) - f, 1e-300)
            self.estimated.add(name)

    def log_regret(self, name, trace):
        r = (np.asarray(trace) - self.fopt[name]) / self.norm[name]
        floor = FLOOR_ML if name in self.estimated else FLOOR
        return np.log10(np.maximum(r, floor))


def fmt(x, nd=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return "%.*f" % (nd, x)


def fmt_p(p):
    if p is None or math.isnan(p):
        return "–"
    return "%.2g" % p if p >= 0.001 else "<0.001"


def mwu(a, b):
    """Two-sided Mann-Whitney U p-value; 1.0 when both samples are equal
    constants (scipy would return NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    if np.all(a == a[0]) and np.all(b == a[0]):
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def analyse(recs, budgets):
    scale = Scale(recs)
    seq = defaultdict(dict)       # (problem, method) -> seed -> log-regret trace
    par = defaultdict(dict)       # (problem, method, strategy, P) -> seed -> trace
    conf = defaultdict(dict)      # (problem, method) -> fresh seed -> trace
    secs = defaultdict(list)
    for r in recs:
        tr = scale.log_regret(r["problem"], incumbent_true(r))
        if r["kind"] == "seq":
            seq[(r["problem"], r["method"])][r["seed"]] = tr
            secs[r["method"]].append(r["seconds"])
        elif r["kind"] == "confirm":
            conf[(r["problem"], r["method"])][r["seed"]] = tr
        else:
            par[(r["problem"], r["method"], r["strategy"],
                 r["parallelism"])][r["seed"]] = tr
    return scale, seq, par, conf, secs


def flagged(path, budget):
    """Problems where parzen tpe is significantly worse than hyperopt tpe
    (two-sided p < ALPHA, higher median) or its median regret is more than
    10 % higher, after `budget` evaluations."""
    recs, _ = load(path)
    scale, seq, _, _, _ = analyse(recs, [budget])
    out = []
    for p in PROBLEMS:
        a, c = seq.get((p.name, "parzen-tpe")), seq.get((p.name,
                                                         "hyperopt-tpe"))
        if not a or not c:
            continue
        x, y = at(a, budget), at(c, budget)
        ra, rc = np.median(10 ** x), np.median(10 ** y)
        ratio = ra / rc if rc > 0 else (1.0 if ra == 0 else float("inf"))
        if (mwu(x, y) < ALPHA and np.median(x) > np.median(y)) or \
                ratio > 1.10:
            out.append(p.name)
    return out


def confirm_table(conf, budgets):
    probs = [p.name for p in PROBLEMS if (p.name, "parzen-tpe") in conf
             and (p.name, "hyperopt-tpe") in conf]
    if not probs:
        return [], {}
    n = min(len(conf[(p, m)]) for p in probs
            for m in ("parzen-tpe", "hyperopt-tpe"))
    lines = ["\n**Confirmation on fresh seeds** — every problem flagged "
             "at %d evaluations (p < %.2f worse or ratio > 1.10) re-run "
             "with %d new seeds (1000..) for parzen tpe and hyperopt tpe\n"
             % (budgets[-1], ALPHA, n)]
    lines.append("| problem | " + " | ".join(
        "pz / ho median @%d | ratio | p" % b for b in budgets) + " | verdict |")
    lines.append("|---|" + "---:|---:|---:|" * len(budgets) + "---|")
    res = {}
    for p in probs:
        cells = []
        verdict = "ok"
        for b in budgets:
            x = at(conf[(p, "parzen-tpe")], b)
            y = at(conf[(p, "hyperopt-tpe")], b)
            ra, rc = np.median(10 ** x), np.median(10 ** y)
            ratio = ra / rc if rc > 0 else 1.0
            pv = mwu(x, y)
            worse = pv < ALPHA and np.median(x) > np.median(y)
            if b == budgets[-1]:
                res[p] = (ratio, pv, worse)
                if worse:
                    verdict = "**significantly worse**"
                elif ratio > 1.10:
                    verdict = "**ratio > 1.10** (not significant)"
            cells.append("%.2f / %.2f | %.2f | %s" % (
                np.median(x), np.median(y), ratio, fmt_p(pv)))
        lines.append("| %s | %s | %s |" % (p, " | ".join(cells), verdict))
    return lines, res


def at(traces, b):
    return np.array([t[min(b, len(t)) - 1] for t in traces.values()])


# -------------------------------------------------------------- tables


def seq_tables(seq, budgets, methods, problems):
    lines = []
    med = {}
    for b in budgets:
        for p in problems:
            for m in methods:
                tr = seq.get((p, m))
                med[(p, m, b)] = float(np.median(at(tr, b))) if tr else \
                    float("nan")
    for b in budgets:
        lines.append("\n**Median log10 regret after %d evaluations** "
                     "(lower is better; best per row in bold)\n" % b)
        lines.append("| problem | n | " + " | ".join(SHORT.get(m, m)
                                                   for m in methods) + " |")
        lines.append("|---|---:|" + "---:|" * len(methods))
        for p in problems:
            vals = [med[(p, m, b)] for m in methods]
            finite = [v for v in vals if not math.isnan(v)]
            best = min(finite) if finite else None
            n = max((len(seq.get((p, m), {})) for m in methods), default=0)
            cells = []
            for v in vals:
                s = fmt(v)
                if best is not None and not math.isnan(v) and \
                        abs(v - best) < 5e-3:
                    s = "**%s**" % s
                cells.append(s)
            lines.append("| %s | %d | %s |" % (p, n, " | ".join(cells)))
    return lines, med


def pvalue_table(seq, budgets, problems, ref, rivals):
    lines = ["\n**Mann–Whitney U (two-sided) p-values, %s vs rival** — "
             "`+` parzen's median regret is lower (better), `−` higher "
             "(worse); bold when p < %.2f\n" % (SHORT.get(ref, ref), ALPHA)]
    hdr = []
    for rv in rivals:
        for b in budgets:
            hdr.append("%s @%d" % (SHORT.get(rv, rv), b))
    lines.append("| problem | " + " | ".join(hdr) + " |")
    lines.append("|---|" + "---:|" * len(hdr))
    res = {}
    for p in problems:
        cells = []
        for rv in rivals:
            for b in budgets:
                a, c = seq.get((p, ref)), seq.get((p, rv))
                if not a or not c:
                    cells.append("–")
                    continue
                x, y = at(a, b), at(c, b)
                pv = mwu(x, y)
                d = np.median(x) - np.median(y)
                sign = "+" if d < 0 else ("−" if d > 0 else "=")
                res[(p, rv, b)] = (pv, d)
                s = "%s %s" % (sign, fmt_p(pv))
                if pv < ALPHA:
                    s = "**%s**" % s
                cells.append(s)
        lines.append("| %s | %s |" % (p, " | ".join(cells)))
    return lines, res


def rank_table(med, budgets, methods, groups):
    lines = ["\n**Mean rank across problems** (rank of each method's median "
             "regret within a problem, 1 = best, ties averaged)\n"]
    hdr = ["%s @%d" % (g, b) for g in groups for b in budgets]
    lines.append("| method | " + " | ".join(hdr) + " |")
    lines.append("|---|" + "---:|" * len(hdr))
    ranks = {}
    for gname, probs in groups.items():
        for b in budgets:
            rs = defaultdict(list)
            for p in probs:
                vals = [med[(p, m, b)] for m in methods]
                if any(math.isnan(v) for v in vals):
                    continue
                for m, r in zip(methods, rankdata(np.round(vals, 6))):
                    rs[m].append(r)
            for m in methods:
                ranks[(gname, m, b)] = float(np.mean(rs[m])) if rs[m] else \
                    float("nan")
    for m in methods:
        lines.append("| %s | %s |" % (SHORT.get(m, m), " | ".join(
            fmt(ranks[(g, m, b)]) for g in groups for b in budgets)))
    return lines, ranks


def verdict_rows(seq, med, pres, problems, budget):
    """parzen tpe vs hyperopt tpe per problem at one budget."""
    lines = ["\n**Target: parzen tpe vs hyperopt tpe after %d evaluations** "
             "(median simple regret in the problem's units, ratio "
             "parzen / hyperopt; the target is ratio ≤ 1.10 and not "
             "significantly worse)\n" % budget,
             "| problem | pz tpe median regret | ho tpe median regret | ratio "
             "| p | verdict |", "|---|---:|---:|---:|---:|---|"]
    fails = []
    for p in problems:
        a, c = seq.get((p, "parzen-tpe")), seq.get((p, "hyperopt-tpe"))
        if not a or not c:
            continue
        ra = float(np.median(10 ** at(a, budget)))
        rc = float(np.median(10 ** at(c, budget)))
        ratio = ra / rc if rc > 0 else (1.0 if ra == 0 else float("inf"))
        pv, d = pres.get((p, "hyperopt-tpe", budget), (float("nan"), 0))
        worse = pv < ALPHA and d > 0
        ok = not worse and ratio <= 1.10
        if not ok:
            fails.append(p)
        v = "ok" if ok else ("**significantly worse**" if worse
                              else "**ratio > 1.10**")
        if ok and pv < ALPHA and d < 0:
            v = "ok (significantly better)"
        lines.append("| %s | %.3g | %.3g | %.2f | %s | %s |" % (
            p, ra, rc, ratio, fmt_p(pv), v))
    return lines, fails


def aa_table(seq, budgets, problems):
    """A/A control: parzen tpe vs parzen tpe on other seeds. Shows how
    often the target's criteria fail for two samples of one algorithm."""
    probs = [p for p in problems if (p, "parzen-tpe-aa") in seq and
             (p, "parzen-tpe") in seq]
    if not probs:
        return []
    lines = ["\n**A/A control** — parzen tpe (seeds 0..n-1) vs parzen tpe "
             "(seeds 100000..): the same algorithm, so every difference is "
             "sampling noise. Median-regret ratio (A / A') and two-sided "
             "Mann–Whitney p\n"]
    lines.append("| problem | " + " | ".join(
        "ratio @%d | p @%d" % (b, b) for b in budgets) + " |")
    lines.append("|---|" + "---:|---:|" * len(budgets))
    n_sig = {b: 0 for b in budgets}
    n_ratio = {b: 0 for b in budgets}
    for p in probs:
        cells = []
        for b in budgets:
            x = at(seq[(p, "parzen-tpe")], b)
            y = at(seq[(p, "parzen-tpe-aa")], b)
            mx, my = np.median(10 ** x), np.median(10 ** y)
            ratio = mx / my if my > 0 else 1.0
            pv = mwu(x, y)
            n_sig[b] += pv < ALPHA
            n_ratio[b] += ratio > 1.10
            cells.append("%.2f | %s" % (ratio, fmt_p(pv)))
        lines.append("| %s | %s |" % (p, " | ".join(cells)))
    lines.append("\nOut of %d problems, the A/A pair has p < %.2f on %s and "
                 "a ratio > 1.10 on %s (per budget %s)." % (
                     len(probs), ALPHA,
                     "/".join(str(n_sig[b]) for b in budgets),
                     "/".join(str(n_ratio[b]) for b in budgets),
                     "/".join(str(b) for b in budgets)))
    return lines


def par_tables(par, budget, strategies, seq=None):
    probs = sorted({k[0] for k in par}, key=lambda n: [
        p.name for p in PROBLEMS].index(n))
    if not probs:
        return [], {}
    rows = [("hyperopt-tpe", "worst", "ho tpe (worst liar)")]
    rows += [("parzen-tpe", s, "pz tpe / %s" % s) for s in strategies]
    rows += [("optuna-tpe", "liar", "optuna tpe (its constant liar)")]
    rows += [("parzen-tpe-g1", "worst", "pz tpe γ=1 / worst")]
    # P = 1 runs taken from the sequential suite (identical runs)
    for p in probs:
        for m, s, _ in rows:
            if (p, m, s, 1) not in par and s in ("worst", "liar") and \
                    seq and (p, m) in seq:
                nseeds = len(par.get((p, m, s, max(
                    k[3] for k in par if k[0] == p)), {})) or None
                tr = seq[(p, m)]
                par[(p, m, s, 1)] = {k: v for k, v in tr.items()
                                     if nseeds is None or k < nseeds}
    levels = sorted({k[3] for k in par})
    med = {}
    for (p, m, s, P), tr in par.items():
        med[(p, m, s, P)] = float(np.median(at(tr, budget)))
    # P = 1 is the same run for every strategy (nothing is pending)
    for p in probs:
        for m, s, _ in rows:
            if (p, m, s, 1) not in med and (p, m, "worst", 1) in med:
                med[(p, m, s, 1)] = med[(p, m, "worst", 1)]
                par[(p, m, s, 1)] = par[(p, m, "worst", 1)]
            if m == "optuna-tpe" and (p, m, s, 1) not in med and \
                    (p, m, "liar", 1) in med:
                med[(p, m, s, 1)] = med[(p, m, "liar", 1)]
    lines = ["\n**Median log10 regret after %d evaluations vs parallelism** "
             "(simulated asynchronous workers)\n" % budget]
    hdr = ["%s P=%d" % (p, P) for p in probs for P in levels]
    lines.append("| method / strategy | " + " | ".join(hdr) + " |")
    lines.append("|---|" + "---:|" * len(hdr))
    for m, s, label in rows:
        if not any((p, m, s, P) in med for p in probs for P in levels):
            continue
        lines.append("| %s | %s |" % (label, " | ".join(
            fmt(med.get((p, m, s, P), float("nan"))) for p in probs
            for P in levels)))
    # degradation: median over problems of (log regret at P) - (at P=1)
    lines.append("\n**Degradation vs sequential**: median log10 regret at P "
                 "minus at P=1, per problem, and its mean over the problems "
                 "(lower is better; 0 = no loss from parallelism)\n")
    big = [P for P in levels if P > 1]
    hdr = ["%s P=%d" % (p, P) for p in probs for P in big]
    lines.append("| method / strategy | " + " | ".join(hdr) + " | " +
                 " | ".join("mean P=%d" % P for P in big) + " |")
    lines.append("|---|" + "---:|" * (len(hdr) + len(big)))
    gap = {}
    for m, s, label in rows:
        cells = []
        means = []
        for P in big:
            g = []
            for p in probs:
                if (p, m, s, P) in med and (p, m, s, 1) in med:
                    g.append(med[(p, m, s, P)] - med[(p, m, s, 1)])
                    gap[(p, m, s, P)] = g[-1]
            means.append(float(np.mean(g)) if g else float("nan"))
            gap[("mean", m, s, P)] = means[-1]
        if all(math.isnan(x) for x in means):
            continue
        for p in probs:
            for P in big:
                cells.append(fmt(gap.get((p, m, s, P), float("nan"))))
        lines.append("| %s | %s | %s |" % (label, " | ".join(cells), " | ".join(
            fmt(x) for x in means)))
    # is the degradation itself significant? P = Pmax vs P = 1, per method
    Pmax = max(levels)
    lines.append("\n**Is the loss from parallelism significant?** P=%d vs "
                 "P=1, two-sided Mann–Whitney p (`−` = worse at P=%d)\n"
                 % (Pmax, Pmax))
    lines.append("| method / strategy | " + " | ".join(probs) + " |")
    lines.append("|---|" + "---:|" * len(probs))
    for m, s, label in rows:
        cells = []
        for p in probs:
            a, c = par.get((p, m, s, Pmax)), par.get((p, m, s, 1))
            if not a or not c:
                cells.append("–")
                continue
            x, y = at(a, budget), at(c, budget)
            pv = mwu(x, y)
            d = np.median(x) - np.median(y)
            cell = "%s %s" % ("−" if d > 0 else "+", fmt_p(pv))
            cells.append("**%s**" % cell if pv < ALPHA else cell)
        if any(c != "–" for c in cells):
            lines.append("| %s | %s |" % (label, " | ".join(cells)))
    # significance at the highest level vs hyperopt
    lines.append("\n**At P=%d: parzen strategy vs hyperopt tpe** (two-sided "
                 "Mann–Whitney p, `+` = parzen better)\n" % Pmax)
    lines.append("| strategy | " + " | ".join(probs) + " |")
    lines.append("|---|" + "---:|" * len(probs))
    for s in strategies:
        cells = []
        for p in probs:
            a = par.get((p, "parzen-tpe", s, Pmax))
            c = par.get((p, "hyperopt-tpe", "worst", Pmax))
            if not a or not c:
                cells.append("–")
                continue
            x, y = at(a, budget), at(c, budget)
            pv = mwu(x, y)
            d = np.median(x) - np.median(y)
            sg = "+" if d < 0 else ("−" if d > 0 else "=")
            cell = "%s %s" % (sg, fmt_p(pv))
            cells.append("**%s**" % cell if pv < ALPHA else cell)
        lines.append("| %s | %s |" % (s, " | ".join(cells)))
    return lines, {"med": med, "gap": gap, "probs": probs, "levels": levels,
                   "rows": rows}


# --------------------------------------------------------------- plots


def plot_anytime(seq, problems, methods, path, budget):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(problems)
    cols = 6 if n > 12 else min(n, 4)
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.1 * rows),
                             squeeze=False)
    colors = {"parzen-tpe": "C3", "parzen-rand": "C1",
              "parzen-anneal": "C5", "hyperopt-tpe": "C0",
              "hyperopt-rand": "C7", "hyperopt-anneal": "C9",
              "optuna-tpe": "C2", "optuna-tpe-indep": "C8"}
    styles = {"parzen": "-", "hyperopt": "--", "optuna": ":"}
    for ax, p in zip(axes.flat, problems):
        for m in methods:
            tr = seq.get((p, m))
            if not tr:
                continue
            a = np.array([t[:budget] for t in tr.values()])
            x = np.arange(1, a.shape[1] + 1)
            ax.plot(x, np.median(a, axis=0), styles[m.split("-")[0]],
                    color=colors.get(m), lw=1.2, label=SHORT.get(m, m))
        ax.set_title(p, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xscale("log")
    for ax in axes.flat[n:]:
        ax.axis("off")
    h, lab = axes.flat[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=len(methods), fontsize=7,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.supxlabel("evaluations (log scale)", fontsize=8, y=0.045)
    fig.supylabel("median log10 regret", fontsize=8)
    fig.tight_layout(rect=(0.01, 0.07, 1, 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)


def plot_parallel(info, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    probs, levels, med = info["probs"], info["levels"], info["med"]
    fig, axes = plt.subplots(1, len(probs), figsize=(2.4 * len(probs), 3.0),
                             squeeze=False)
    for ax, p in zip(axes.flat, probs):
        for i, (m, s, label) in enumerate(info["rows"]):
            ys = [med.get((p, m, s, P), float("nan")) for P in levels]
            if all(math.isnan(y) for y in ys):
                continue
            ls = "-" if m == "parzen-tpe" else "--"
            lw = 2.0 if (m != "parzen-tpe" or s == "worst") else 1.0
            ax.plot(levels, ys, ls, marker="o", ms=3, lw=lw, label=label,
                    color="C%d" % i)
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels)
        ax.set_xticklabels([str(P) for P in levels])
        ax.set_title(p, fontsize=8)
        ax.tick_params(labelsize=6)
    h, lab = axes.flat[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=5, fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.supxlabel("parallelism P (simulated asynchronous workers); "
                  "median log10 regret after the full budget", fontsize=7,
                  y=0.19)
    fig.supylabel("median log10 regret", fontsize=7)
    fig.tight_layout(rect=(0.01, 0.22, 1, 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)


# ---------------------------------------------------------------- main


def main(out, budgets=(50, 100, 200), docs_img=None):
    recs, errors = load(os.path.join(out, "runs.jsonl"))
    if not recs:
        print("no results in", out)
        return 1
    try:
        with open(os.path.join(out, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = {}
    budgets = sorted(budgets)
    scale, seq, par, conf, secs = analyse(recs, budgets)
    methods = [m for m in METHODS if any(k[1] == m for k in seq)]
    problems = [p.name for p in PROBLEMS if any(k[0] == p.name for k in seq)]
    groups = {"all": problems}
    for g, gl in (("synthetic", "synthetic"), ("hyperopt", "hyperopt-style"),
                  ("ml", "ML")):
        ps = [p for p in problems if BY_NAME[p].group == g]
        if ps and len(ps) < len(problems):
            groups[gl] = ps
    L = ["# Optimization-quality benchmark — results\n"]
    if meta:
        L.append("Versions: " + ", ".join("%s %s" % (k, meta.get(k)) for k in
                                          ("parzen", "git", "hyperopt",
                                           "optuna", "numpy", "scipy",
                                           "scikit-learn", "python")))
        L.append("\nMachine: %s. Command: `run.py %s`; run time %s s.\n" % (
            meta.get("machine"), " ".join(meta.get("argv", [])),
            meta.get("run_seconds", "?")))
    if errors:
        L.append("\n%d runs failed (see runs.jsonl 'error').\n" % len(errors))
    if scale.estimated:
        L.append("\nEstimated optima (best true loss of any run): " + ", ".join(
            "%s f*=%.6g, normaliser %.4g" % (p, scale.fopt[p], scale.norm[p])
            for p in sorted(scale.estimated)) + "\n")
    extras = [m for m in EXTRA_METHODS if any(k[1] == m for k in seq)]
    tl, med = seq_tables(seq, budgets, methods + extras, problems)
    L += tl
    if extras:
        L.append("\n(%s: not a default, reported apart — see 'Variants'.)"
                 % ", ".join(SHORT.get(m, m) for m in extras))
    rivals = [m for m in ("hyperopt-tpe", "optuna-tpe") if m in methods]
    pres = {}
    if "parzen-tpe" in methods and rivals:
        pl, pres = pvalue_table(seq, budgets, problems, "parzen-tpe", rivals)
        L += pl
        others = [m for m in methods if m not in rivals + ["parzen-tpe"]]
        if others:
            pl2, _ = pvalue_table(seq, budgets[-1:], problems, "parzen-tpe",
                                  others)
            L += pl2
        for a, b in (("parzen-rand", "hyperopt-rand"),
                     ("parzen-anneal", "hyperopt-anneal")):
            if a in methods and b in methods:
                pl3, _ = pvalue_table(seq, budgets[-1:], problems, a, [b])
                L += [pl3[0].replace("tpe vs rival", "")] + pl3[1:]
    L += aa_table(seq, budgets, problems)
    rl, ranks = rank_table(med, budgets, methods, groups)
    L += rl
    for x in extras:
        # -- the variant in place of parzen tpe
        alt = [x if m == "parzen-tpe" else m for m in methods]
        xl, xr = rank_table(med, budgets, alt, groups)
        L.append("\n**Variants: mean rank with %s in place of pz tpe**\n"
                 % SHORT.get(x, x))
        L += xl[1:]
        for k, v in xr.items():
            ranks[("variant",) + k] = v
        if "optuna-tpe" in methods:
            pl, _ = pvalue_table(seq, budgets, problems, x,
                                 [m for m in ("parzen-tpe", "hyperopt-tpe",
                                              "optuna-tpe") if m in methods])
            L += pl
    fails = []
    if "parzen-tpe" in methods and "hyperopt-tpe" in methods:
        for b in budgets:
            vl, f = verdict_rows(seq, med, pres, problems, b)
            L += vl
            fails.append((b, f))
    cl, confirmed = confirm_table(conf, budgets)
    L += cl
    L.append("\n**Median seconds per run** (wall, incl. objective): " +
             ", ".join("%s %.2f" % (SHORT.get(m, m), np.median(secs[m]))
                       for m in methods if secs[m]) + "\n")
    info = {}
    if par:
        pl, info = par_tables(par, budgets[-1], sorted(
            {k[2] for k in par if k[1] == "parzen-tpe"},
            key=lambda s: (s != "worst", s)), seq)
        L += pl
    img_dirs = [out] + ([docs_img] if docs_img else [])
    for d in img_dirs:
        os.makedirs(d, exist_ok=True)
        if methods:  # none for a run of option variants only (tune_mtpe.py)
            plot_anytime(seq, problems, methods,
                         os.path.join(d, "anytime.png"), budgets[-1])
        if info:
            plot_parallel(info, os.path.join(d, "parallelism.png"))
    L.append("\nPlots: `anytime.png` (median log10 regret vs evaluations), "
             "`parallelism.png`.\n")
    # -- summary of the targets
    L.append("\n## Targets\n")
    for b, f in fails:
        L.append("- parzen tpe vs hyperopt tpe @%d (main seeds): %s" % (
            b, "holds on every problem" if not f else "fails on " +
            ", ".join(f)))
    if confirmed:
        bad = [p for p, (r, pv, w) in confirmed.items() if w]
        hi = [p for p, (r, pv, w) in confirmed.items() if not w and r > 1.10]
        L.append("- on fresh seeds @%d: significantly worse on %s; ratio > "
                 "1.10 (not significant) on %s" % (
                     budgets[-1], ", ".join(bad) or "no problem",
                     ", ".join(hi) or "no problem"))
    if ("all", "parzen-tpe", budgets[-1]) in ranks and \
            ("all", "optuna-tpe", budgets[-1]) in ranks:
        for b in budgets:
            a = ranks[("all", "parzen-tpe", b)]
            c = ranks[("all", "optuna-tpe", b)]
            L.append("- mean rank @%d: parzen tpe %.2f vs optuna tpe (default) "
                     "%.2f → %s" % (b, a, c, "ahead" if a < c else "behind"))
    if info:
        Pmax = max(info["levels"])
        g = info["gap"]
        ho = g.get(("mean", "hyperopt-tpe", "worst", Pmax))
        for s in sorted({k[2] for k in par if k[1] == "parzen-tpe"}):
            pz = g.get(("mean", "parzen-tpe", s, Pmax))
            if pz is not None and ho is not None:
                L.append("- parallelism %d, parzen/%s: mean degradation %.2f "
                         "vs hyperopt %.2f (log10 regret) → %s" % (
                             Pmax, s, pz, ho,
                             "closer to sequential" if pz < ho else
                             "not closer"))
    text = "\n".join(L) + "\n"
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "bench", "results",
        "quality", "full"))
    ap.add_argument("--budgets", default="50,100,200")
    ap.add_argument("--docs-img", default=None)
    a = ap.parse_args()
    sys.exit(main(a.out, [int(b) for b in a.budgets.split(",")],
                  docs_img=a.docs_img))
