#!/bin/bash
# Run every test binary in BUILD/tests from the repository root and sum cmocka's counts.
# Prints one closing line "tests: N passed, M failed, K skipped"; exits non-zero on any failure.
# Environment seen by the tests: MATERIA (the program under test), MT_SHARED (the shared data
# folder, default ../shared; tests that need real data skip when it is absent).
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
export MATERIA="$PWD/$build/materia"
export MT_SHARED="${MT_SHARED:-$PWD/../shared}"
pass=0; fail=0; skip=0; bad_bins=""
log_dir="$build/test-logs"; mkdir -p "$log_dir"
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  n=$(basename "$t")
  start=$(date +%s)
  "$t" > "$log_dir/$n.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  # a binary may run several cmocka groups: sum their summary lines
  sum() { sed -n "s/^\[  $1 *\] \([0-9]*\) test.*/\1/p" "$log_dir/$n.log" | awk '{s += $1} END {print s + 0}'; }
  p=$(sum PASSED); f=$(sum FAILED); s=$(sum SKIPPED)
  p=${p:-0}; f=${f:-0}; s=${s:-0}
  if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi   # crashed or sanitizer abort
  printf '%-28s %3d passed %3d failed %3d skipped  (%ds)\n' "$n" "$p" "$f" "$s" "$secs"
  if [ "$f" != 0 ]; then
    bad_bins="$bad_bins $n"
    grep -E "FAIL|ERROR|error|Sanitizer|runtime error" "$log_dir/$n.log" | head -20 | sed 's/^/    /'
  fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
done
[ -n "$bad_bins" ] && echo "failing:$bad_bins (logs in $log_dir/)"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
