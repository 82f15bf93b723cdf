#!/usr/bin/env python
"""Merge runs of several bench/quality directories into one, relabelling
mtpe option variants ("parzen-mtpe@forget=25") as "parzen-mtpe", so that
report_mtpe.py compares them as mtpe (docs/benchmarks.md, "mtpe": variants
measured while they were options, before they became the defaults).

    python bench/quality/relabel_runs.py OUT 'RUNS.jsonl|METHOD|PROBLEMS' ...

Each source is a runs.jsonl path, the method label to take from it, and
the problems to take (comma-separated, or * for all). Runs that ended in
an error are left out. OUT/runs.jsonl is overwritten.
"""

import json
import os
import sys


def main():
    out, srcs = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    n = 0
    with open(os.path.join(out, "runs.jsonl"), "w") as f:
        for s in srcs:
            path, label, probs = s.split("|")
            for line in open(path):
                r = json.loads(line)
                if r["method"] != label or "error" in r or (
                        probs != "*" and r["problem"] not in probs.split(",")):
                    continue
                if r["method"].startswith("parzen-mtpe@"):
                    r["method"] = "parzen-mtpe"
                f.write(json.dumps(r) + "\n")
                n += 1
    print(out, n, "runs")


if __name__ == "__main__":
    main()
