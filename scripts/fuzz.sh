#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz) for a while each and summarises.
#
#   bash scripts/fuzz.sh                 every target, 600 s each (the figure in docs/RELIABILITY.md)
#   bash scripts/fuzz.sh 60 idx text     the named targets, 60 s each
#   JOBS=2 bash scripts/fuzz.sh          two targets at a time
#
# Builds the targets in build-sanitize/ first (scripts/sanitize.sh --build-only). Each target
# starts from its seed corpus (tests/fuzz/corpus/<target>) and keeps what it
# finds in build-sanitize/fuzz/corpus/<target>; a crashing, leaking, slow
# (over 10 s) or memory-hungry (over 2 GiB) input is saved under
# build-sanitize/fuzz/artifacts/<target>/ and the script exits non-zero.
# Summary: build-sanitize/fuzz/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-sanitize}
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(idx image text manifest recipe word_tokenizer sentencepiece infer metadata)
JOBS=${JOBS:-1}

SANITIZE_TARGETS=fuzz-targets bash scripts/sanitize.sh --build-only

out="$BUILD_DIR/fuzz"
mkdir -p "$out"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=1

run_one() {
  local t=$1 corpus="$out/corpus/$1" artifacts="$out/artifacts/$1/"
  rm -rf "$artifacts" "$out/$t.row"  # findings of an earlier run are in its log
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  local status=0
  "$BUILD_DIR/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >"$out/$t.log" 2>&1 || status=$?
  local runs cov
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -1 || true)
  cov=$(grep -oE "cov: [0-9]+" "$out/$t.log" | tail -1 | cut -d' ' -f2 || true)
  local found
  found=$(find "$artifacts" -type f | wc -l || true)
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$SECONDS_EACH" "${runs:-?}" "${cov:-?}" "$found" \
    "$([ "$status" -eq 0 ] && echo ok || echo "exit $status: see $out/$t.log")" >"$out/$t.row"
  return 0
}

running=0
for t in "${TARGETS[@]}"; do
  [ -x "$BUILD_DIR/tests/fuzz/fuzz_$t" ] || { echo "fuzz.sh: no target fuzz_$t"; exit 2; }
  echo "fuzz.sh: fuzz_$t for ${SECONDS_EACH}s"
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

{
  echo "Fuzzing on $(date -u +%Y-%m-%d), $(clang++ --version | head -1), ${SECONDS_EACH} s per target"
  echo
  echo "| target | seconds | inputs run | coverage (edges) | crashes/leaks/timeouts/OOMs saved | result |"
  echo "|---|---|---|---|---|---|"
  for t in "${TARGETS[@]}"; do
    if [ -s "$out/$t.row" ]; then cat "$out/$t.row"; else echo "| $t | $SECONDS_EACH | ? | ? | ? | exit ?: no result, see $out/$t.log |"; fi
  done
} >"$out/summary.md"
cat "$out/summary.md"
! grep -q "exit " "$out/summary.md"
