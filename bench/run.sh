#!/usr/bin/env bash
# Focus benchmarks. Measures, on this machine:
#   1. build times: a clean build (ccache off) and an incremental one (one .cpp touched);
#   2. Fashion-MNIST training: the default recipe and its no-attention ablation, with
#      test accuracy, training wall time and images/s.
# Prints a Markdown table for docs/BENCHMARKS.md and keeps the raw outputs in
# bench/results/ (ignored by git). Usage:
#   bash bench/run.sh [build|train|all]        (default: all)
# Environment: BENCH_THREADS (default: all cores), BENCH_SET (extra --set overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
out=bench/results
mkdir -p "$out"
threads=${BENCH_THREADS:-0}
stamp=$(date -u +%Y-%m-%dT%H:%MZ)
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "# $stamp on $(nproc) cores ($cpu)" | tee "$out/summary.md"

if [ "$what" = build ] || [ "$what" = all ]; then
  dir=build-bench
  rm -rf "$dir"
  start=$(date +%s)
  CCACHE_DISABLE=1 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release > "$out/build-configure.log"
  CCACHE_DISABLE=1 cmake --build "$dir" -j "$(nproc)" > "$out/build-clean.log"
  clean=$(( $(date +%s) - start ))
  touch lib/src/nn/cbam.cpp
  start=$(date +%s)
  CCACHE_DISABLE=1 cmake --build "$dir" -j "$(nproc)" > "$out/build-incremental.log"
  incremental=$(( $(date +%s) - start ))
  rm -rf "$dir"
  printf '| clean build (configure + build, all targets incl. tests, ccache off) | %.0f s |\n' "$clean" | tee -a "$out/summary.md"
  printf '| incremental build (touch lib/src/nn/cbam.cpp, relink dependents) | %.0f s |\n' "$incremental" | tee -a "$out/summary.md"
fi

if [ "$what" = train ] || [ "$what" = all ]; then
  cmake --build build > /dev/null
  echo "| recipe | test accuracy | macro-F1 | ECE | epochs | training wall time | img/s (train) | parameters |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  for recipe in fashion-attncnn fashion-cnn; do
    run=runs/bench-$recipe
    rm -rf "$run"
    # shellcheck disable=SC2086
    build/apps/focus-train --recipe "models/$recipe.json" --out "$run" --threads "$threads" --no-progress \
      ${BENCH_SET:-} > "$out/$recipe-train.log" 2>&1
    build/apps/focus-eval --run "$run" --threads "$threads" > "$out/$recipe-eval.log" 2>&1
    cp "$run/summary.json" "$out/$recipe-summary.json"
    cp "$run/eval.json" "$out/$recipe-eval.json"
    field() { grep -o "^  \"$2\": *[0-9.eE+-]*" "$1" | head -n1 | sed 's/.*: *//'; }
    acc=$(field "$run/eval.json" accuracy); f1=$(field "$run/eval.json" macro_f1); ece=$(field "$run/eval.json" ece)
    secs=$(field "$run/summary.json" train_seconds); ips=$(field "$run/summary.json" examples_per_second)
    epochs=$(field "$run/summary.json" epochs_completed); params=$(field "$run/summary.json" parameters)
    awk -v r="$recipe" -v a="$acc" -v f="$f1" -v e="$ece" -v n="$epochs" -v s="$secs" -v i="$ips" -v p="$params" \
      'BEGIN { printf "| %s | %.2f%% | %.4f | %.4f | %s | %.1f min | %.0f | %s |\n", r, a * 100, f, e, n, s / 60, i, p }' \
      | tee -a "$out/summary.md"
  done
fi
echo "raw outputs: $out/"
