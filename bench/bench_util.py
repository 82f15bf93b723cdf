"""What every Python benchmark prints the same way: the machine it ran on
and a timing's median with its spread. (bench_util.h is the C side's.)"""

import os
import platform
import statistics
import subprocess


def cpu_model():
    """lscpu's model name: benchmark numbers mean little without it."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def load():
    """The load average, printed beside every table: the machines are
    shared, and a ratio taken under load says so."""
    return "%.1f %.1f %.1f" % os.getloadavg()


def fmt(sec):
    if sec < 1e-3:
        return "%.1f us" % (sec * 1e6)
    if sec < 1.0:
        return "%.3f ms" % (sec * 1e3)
    return "%.2f s" % sec


def spread(values, f=fmt):
    """median (min-max)"""
    return "%s (%s-%s)" % (f(statistics.median(values)), f(min(values)),
                           f(max(values)))
