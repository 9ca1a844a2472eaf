#!/bin/bash
# Benchmark: the same CNN trained for the same steps in materia and in PyTorch (Debian's
# python3-torch), both on THREADS threads, in one run.  Prints samples/s of both and their
# ratio (goal: materia >= 1.5x), single-utterance inference latency and peak RSS.
#
#   bench/train_vs_torch.sh [BUILD_DIR]          (after `make`; run from anywhere)
#   environment: MODEL=cnn3 INPUT=64x1250 BATCH=32 STEPS=20 THREADS=2 ROUNDS=2
#
# Each implementation runs ROUNDS times, alternating, and the best round of each is reported
# (the machine may be shared).  Builds nothing itself; needs build/bench/train_step and
# build/materia.  Installs python3-torch with apt-get when it is missing and we are root.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
MODEL=${MODEL:-cnn3}
INPUT=${INPUT:-64x1250}
BATCH=${BATCH:-32}
STEPS=${STEPS:-20}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
PY=/usr/bin/python3

bin="$build/bench/train_step"
prog="$build/materia"
for f in "$bin" "$prog"; do
  if [ ! -x "$f" ]; then
    echo "train_vs_torch: $f not found; run 'make all $build/bench/train_step' first" >&2
    exit 1
  fi
done

info=$("$prog" model info --model "$MODEL" --input "$INPUT" --json) || exit 1
arch=$(printf '%s' "$info" | $PY -c 'import json,sys; print(json.load(sys.stdin)["arch"])')
classes=$(printf '%s' "$info" | $PY -c 'import json,sys; print(json.load(sys.stdin)["classes"])')

have_torch=1
if ! $PY -c 'import torch' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "train_vs_torch: installing python3-torch (Debian)" >&2
    apt-get install -y python3-torch >/dev/null 2>&1 || true
  fi
  $PY -c 'import torch' 2>/dev/null || have_torch=0
fi

best() { # best JSON line (max samples_per_s) from stdin
  $PY -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
print(json.dumps(max(rows, key=lambda r: r["samples_per_s"])) if rows else "")'
}

m_all=""; t_all=""
for r in $(seq 1 "$ROUNDS"); do
  m=$(OMP_NUM_THREADS=$THREADS "$bin" --model "$MODEL" --input "$INPUT" --batch "$BATCH" \
        --steps "$STEPS" --classes "$classes" --json) || exit 1
  m_all="$m_all$m"$'\n'
  if [ $have_torch = 1 ]; then
    t=$(OMP_NUM_THREADS=$THREADS $PY bench/train_vs_torch.py --arch "$arch" --input "$INPUT" \
          --classes "$classes" --batch "$BATCH" --steps "$STEPS" --threads "$THREADS" 2>/dev/null) || exit 1
    t_all="$t_all$t"$'\n'
  fi
done
m=$(printf '%s' "$m_all" | best)
t=""
[ $have_torch = 1 ] && t=$(printf '%s' "$t_all" | best)

M="$m" T="$t" MODEL="$MODEL" INPUT="$INPUT" BATCH="$BATCH" STEPS="$STEPS" THREADS="$THREADS" ROUNDS="$ROUNDS" $PY -c '
import json, os
m = json.loads(os.environ["M"])
t = json.loads(os.environ["T"]) if os.environ["T"] else None
print("train_vs_torch: %s on %s, batch %s, %s steps, %s threads, best of %s rounds" % (
    os.environ["MODEL"], os.environ["INPUT"], os.environ["BATCH"], os.environ["STEPS"],
    os.environ["THREADS"], os.environ["ROUNDS"]))
fmt = "  %-8s %9.1f samples/s  %8.2f ms/step  CPU %8.1f ms/step  latency %7.3f ms  peak RSS %7.1f MB"
print(fmt % ("materia", m["samples_per_s"], m["step_ms"], m["cpu_ms_per_step"], m["latency_ms"], m["peak_rss_mb"]))
if t:
    print(fmt % ("pytorch", t["samples_per_s"], t["step_ms"], t["cpu_ms_per_step"], t["latency_ms"], t["peak_rss_mb"]))
    ratio = m["samples_per_s"] / t["samples_per_s"]
    print("  ratio materia/pytorch: %.2fx training throughput (goal >= 1.5x), %.2fx inference latency" % (
        ratio, t["latency_ms"] / m["latency_ms"]))
    print(json.dumps({"materia": m, "pytorch": t, "ratio": round(ratio, 3)}))
else:
    print("  pytorch: python3-torch not available; no ratio")
'
