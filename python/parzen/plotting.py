"""Plots of a Trials object (hyperopt.plotting); needs matplotlib, which is
imported only when a function is called."""

import math

import numpy as np

from . import base

default_status_colors = {
    base.STATUS_NEW: "k",
    base.STATUS_RUNNING: "g",
    base.STATUS_OK: "b",
    base.STATUS_FAIL: "r",
    base.STATUS_SUSPENDED: "y",
}


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the env
        raise ImportError(
            "parzen.plotting needs matplotlib: pip install matplotlib") from e
    return plt


def _finite(y):
    try:
        y = float(y)
    except (TypeError, ValueError):
        return False
    return not math.isnan(y)


def main_plot_history(trials, do_show=True, status_colors=None,
                      title="Loss History"):
    """Scatter of every trial's loss in order, coloured by status, with a
    line at the average best error."""
    plt = _plt()
    if status_colors is None:
        status_colors = default_status_colors
    pts = [(i, float(y), status_colors.get(s, "k")) for i, (y, s) in
           enumerate(zip(trials.losses(), trials.statuses())) if _finite(y)]
    if pts:
        xs, ys, cs = zip(*pts)
        plt.scatter(xs, ys, c=list(cs))
    plt.xlabel("time")
    plt.ylabel("loss")
    try:
        best_err = trials.average_best_error()
    except ValueError:
        best_err = None
    if best_err is not None:
        print("avg best error:", best_err)
        plt.axhline(best_err, c="g")
    plt.title(title)
    if do_show:
        plt.show()


def main_plot_histogram(trials, do_show=True, title="Loss Histogram"):
    """Histogram of the losses of the trials that have one."""
    plt = _plt()
    ys = [float(y) for y in trials.losses() if _finite(y)]
    print("Showing Histogram of %i jobs" % len(ys))
    plt.hist(ys)
    plt.xlabel("loss")
    plt.ylabel("frequency")
    plt.title(title)
    if do_show:
        plt.show()


def main_plot_vars(trials, do_show=True, fontsize=10, colorize_best=None,
                   columns=5, arrange_by_loss=False):
    """One scatter per hyperparameter: value (by trial, or by loss rank)
    against loss; the best ``colorize_best`` trials are highlighted."""
    plt = _plt()
    idxs, vals = trials.idxs_vals
    losses = trials.losses()
    finite_losses = [y for y in losses if _finite(y)]
    if not finite_losses:
        return
    loss_min = min(finite_losses)
    loss_max = max(finite_losses)
    loss_by_tid = dict(zip(trials.tids, losses))
    order = sorted(finite_losses)

    def color_fn(lossval):
        if lossval is None or not _finite(lossval):
            return (1, 1, 1)
        t = (float(lossval) - loss_min) / (loss_max - loss_min + 1e-9)
        return (t, 0.0, 1.0 - t)

    def color_fn_bw(lossval):
        if lossval is None or not _finite(lossval):
            return (0, 0, 0)
        t = (float(lossval) - loss_min) / (loss_max - loss_min + 1e-9)
        return (t, t, t)

    labels = sorted(vals)
    n = len(labels)
    if n == 0:
        return
    cols = min(columns, n)
    rows = int(np.ceil(n / float(cols)))
    fig = plt.figure(figsize=(4 * cols, 3 * rows))
    best_cut = None
    if colorize_best is not None and order:
        best_cut = order[min(colorize_best, len(order)) - 1]
    for i, label in enumerate(labels):
        ax = fig.add_subplot(rows, cols, i + 1)
        tids = idxs[label]
        ys = vals[label]
        ls = [loss_by_tid.get(t) for t in tids]
        if arrange_by_loss:
            xs = [order.index(float(y)) if _finite(y) else len(order)
                  for y in ls]
        else:
            xs = list(range(len(tids)))
        if best_cut is not None:
            colors = [color_fn(y) if _finite(y) and float(y) <= best_cut
                      else color_fn_bw(y) for y in ls]
        else:
            colors = [color_fn(y) for y in ls]
        ax.scatter(xs, ys, c=colors, s=12)
        ax.set_title(str(label), fontsize=fontsize)
    if do_show:
        plt.show()


def main_plot_1D_attachment(trials, attachment_name, do_show=True,
                            colorize_by_loss=True, max_darkness=0.5,
                            num_trials=None, preprocessing_fn=None):
    """Plot a 1-D array stored as a per-trial attachment, one line per
    trial, darker for lower losses."""
    plt = _plt()
    ok = [t for t in trials.trials
          if t["result"].get("status") == base.STATUS_OK]
    if num_trials is not None:
        ok = sorted(ok, key=lambda t: t["result"]["loss"])[:num_trials]
    losses = [float(t["result"]["loss"]) for t in ok]
    if not losses:
        return
    lo, hi = min(losses), max(losses)
    for t, loss in zip(ok, losses):
        att = trials.trial_attachments(t)
        if attachment_name not in att:
            continue
        data = att[attachment_name]
        if preprocessing_fn is not None:
            data = preprocessing_fn(data)
        data = np.asarray(data, dtype=float).ravel()
        if colorize_by_loss:
            shade = max_darkness * (loss - lo) / (hi - lo + 1e-12)
            color = (shade, shade, shade)
        else:
            color = None
        plt.plot(data, color=color)
    plt.title(attachment_name)
    if do_show:
        plt.show()
