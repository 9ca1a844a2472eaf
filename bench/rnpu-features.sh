#!/bin/bash
# Benchmark: how informative are the simulated RNPU's features?  (project issue #3)
#
# FSDD, official split (2,250 train / 250 test), paper trim, 1 s at 12.5 kS/s.  Three front-ends
# (rnpu with RNPU_PARAMS, a linear low-pass RC bank 4-13 Hz, a gammatone + tanh bank) at 16 and
# 64 channels, each classified by the SAME classifiers with the SAME protocol:
#   16 ch: cnn1-k8-c16 (the paper's 1-layer CNN: BN, conv k8, BN, tanh, maxpool 8, mean, FC)
#   64 ch: cnn1-k8, cnn3 (the paper's AIMC model, ED Fig. 6) and cnn3-bn (cnn3 + input BN)
# Prints a markdown table of test accuracies (%).  Goals from the issue: rnpu >= gammatone-tanh
# under both classifiers; rnpu-64 + cnn3 >= 98 %.
#
#   bench/rnpu-features.sh [BUILD_DIR]          (after `make`; run from anywhere)
#   environment: EPOCHS=100 SEEDS="0" RNPU_PARAMS='{}' FE_SEED=1 THREADS=2 MT_SHARED=../shared
#                WORK=<temp dir> (kept when given; features are reused if present)
#                QUICK=1: 16 channels and cnn1-k8-c16 only (a few minutes)
#
# Full run on 2 cores: 6 feature extractions of 5-20 s and 3 x 4 trainings; 17 min with
# EPOCHS=30 (measured 2026-12-04, table in docs/rnpu-model.md §4e), about 50 min with
# EPOCHS=100.  Every accuracy is the test accuracy of the checkpoint chosen on a validation
# carve (never on test), averaged over SEEDS.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
EPOCHS=${EPOCHS:-100}
SEEDS=${SEEDS:-0}
RNPU_PARAMS=${RNPU_PARAMS:-'{}'}
FE_SEED=${FE_SEED:-1}
THREADS=${THREADS:-2}
QUICK=${QUICK:-0}
SHARED=${MT_SHARED:-$PWD/../shared}
DATA="$SHARED/datasets/fsdd"
prog="$build/materia"
if [ ! -x "$prog" ]; then
  echo "rnpu-features: $prog not found; run 'make' first" >&2
  exit 1
fi
if [ ! -d "$DATA" ]; then
  echo "rnpu-features: FSDD not found at $DATA (set MT_SHARED); skipping" >&2
  exit 0
fi
if [ -n "${WORK:-}" ]; then
  mkdir -p "$WORK"
  keep=1
else
  WORK=$(mktemp -d /tmp/rnpu-features.XXXXXX)
  keep=0
fi
cleanup() { [ "$keep" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

feat() { # name frontend channels [params]
  local f="$WORK/$1.npy"
  [ -f "$f" ] && return 0
  local p=()
  [ -n "${4:-}" ] && p=(--params "$4")
  "$prog" features --data "$DATA" --layout fsdd --frontend "$2" --channels "$3" --seed "$FE_SEED" \
    "${p[@]}" --out "$f" >"$WORK/$1.log" 2>&1 || { echo "features $1 failed: $(tail -1 "$WORK/$1.log")" >&2; return 1; }
}

acc() { # name model -> mean test accuracy (%) over SEEDS
  local sum=0 n=0 s a
  for s in $SEEDS; do
    "$prog" train --features "$WORK/$1.npy" --model "$2" --epochs "$EPOCHS" --seed "$s" \
      --threads "$THREADS" --json --quiet --no-resume --out "$WORK/$1-$2-$s.safetensors" \
      >"$WORK/$1-$2-$s.json" 2>"$WORK/$1-$2-$s.err" || { echo "n/a"; return; }
    a=$(python3 -c "import json,sys;print(100*json.load(open(sys.argv[1]))['accuracy'])" "$WORK/$1-$2-$s.json")
    sum=$(python3 -c "print($sum+$a)")
    n=$((n + 1))
  done
  python3 -c "print('%.1f' % ($sum/$n))"
}

fes="rnpu lowpass gammatone-tanh"
chans="16 64"
[ "$QUICK" = 1 ] && chans="16"
for fe in $fes; do
  for c in $chans; do
    if [ "$fe" = rnpu ]; then feat "$fe-$c" "$fe" "$c" "$RNPU_PARAMS" || exit 1
    else feat "$fe-$c" "$fe" "$c" || exit 1; fi
  done
done

echo "FSDD official split, $EPOCHS epochs, training seeds: $SEEDS, rnpu params: $RNPU_PARAMS (device seed $FE_SEED)"
echo
if [ "$QUICK" = 1 ]; then
  echo "| front-end | 16 ch, cnn1-k8-c16 |"
  echo "|---|---|"
  for fe in $fes; do echo "| $fe | $(acc "$fe-16" cnn1-k8-c16) |"; done
else
  echo "| front-end | 16 ch, cnn1-k8-c16 | 64 ch, cnn1-k8 | 64 ch, cnn3 | 64 ch, cnn3-bn |"
  echo "|---|---|---|---|---|"
  for fe in $fes; do
    echo "| $fe | $(acc "$fe-16" cnn1-k8-c16) | $(acc "$fe-64" cnn1-k8) | $(acc "$fe-64" cnn3) | $(acc "$fe-64" cnn3-bn) |"
  done
fi
