#!/bin/sh
# Never finishes on its own: stopped by a timeout or by Ctrl-C.
exec sleep 1000
