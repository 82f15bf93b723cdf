#!/bin/sh
# loss = (x - 1)^2, plus 0.5 when opt is "b"; x and opt come from the
# {x} and {opt} placeholders. Deterministic, no sleeping.
awk -v x="$1" -v opt="$2" \
    'BEGIN { printf "%.10g\n", (x - 1) * (x - 1) + (opt == "b" ? 0.5 : 0) }'
