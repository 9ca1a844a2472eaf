#!/bin/bash
# Run every benchmark binary (build/bench/*) and every bench/*.sh script from the repo root.
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
export MATERIA="$PWD/$build/materia"
export MT_SHARED="${MT_SHARED:-$PWD/../shared}"
rc=0
for b in "$build"/bench/*; do [ -x "$b" ] && { echo "== $(basename "$b")"; "$b" || rc=1; }; done
for s in bench/*.sh; do [ -f "$s" ] && { echo "== $s"; bash "$s" "$build" || rc=1; }; done
exit $rc
