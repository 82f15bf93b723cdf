#!/bin/sh
# The objective of square.sh, except that the first time trial $KILL_AT
# runs it kills its runner (the parzen process) with SIGKILL, as a crash
# would. $MARKER (a directory) records that it happened.
if [ "$PARZEN_TRIAL_ID" = "$KILL_AT" ] && mkdir "$MARKER" 2>/dev/null; then
    kill -9 "$PPID"
    exit 0
fi
exec "$(dirname "$0")/square.sh" "$@"
