#!/bin/sh
# Fails in a different way for each trial id; later trials succeed.
case "$PARZEN_TRIAL_ID" in
0) echo "boom: bad config" >&2; exit 1 ;;
1) echo "not a number" ;;
2) echo nan ;;
3) kill -9 $$ ;;
4) exec sleep 1000 ;; # past --trial-timeout
5) echo '{"loss": 0.25, "acc": 0.75}' >"$PARZEN_RESULT_FILE"; echo 99 ;;
6) echo '{"status": "fail", "why": "diverged"}' ;;
7) i=0; while [ $i -lt 20000 ]; do
       echo "................................................................."
       i=$((i + 1))
   done
   echo 0.5 ;; # 1.3 MB of output, then the loss
*) echo 1 ;;
esac
