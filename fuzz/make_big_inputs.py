#!/usr/bin/env python3
"""Write the full-size space inputs of the hardening issue into DIR.

    fuzz/make_big_inputs.py DIR

They are too big for a seed corpus (libFuzzer would mutate megabytes per
execution), so scripts/hardening.sh runs each once through the space
fuzz target and through 'parzen validate'; tests/test_hardening.c builds
the same inputs in memory. Scaled-down copies live in
fuzz/corpus/space_json/.

  params_100000.json    10^5 parameters (valid: must parse)
  choice_1000000.json   a choice with 10^6 options (valid: must parse)
  depth_10000.json      objects nested 10^4 deep (rejected: too deep)
  big_100mb.json        a 100 MB file (rejected: over the 64 MiB limit)
"""
import json
import os
import sys


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "params_100000.json"), "w") as f:
        json.dump({"p%d" % i: {"hp": "uniform", "low": 0, "high": 1}
                   for i in range(100000)}, f)
    with open(os.path.join(out, "choice_1000000.json"), "w") as f:
        json.dump({"c": {"hp": "choice", "options": list(range(10 ** 6))}}, f)
    with open(os.path.join(out, "depth_10000.json"), "w") as f:
        f.write('{"a": ' * 10000 + "1" + "}" * 10000)
    with open(os.path.join(out, "big_100mb.json"), "w") as f:
        f.write('{"x": {"hp": "uniform", "low": 0, "high": 1}, "pad": "')
        chunk = "a" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write('"}')


if __name__ == "__main__":
    main()
