#!/usr/bin/env bash
# Focus benchmarks. Measures, on this machine:
#   1. build times: a clean build (ccache off) and an incremental one (one .cpp touched);
#   2. Fashion-MNIST training: the default recipe, its no-attention ablation and the ViT;
#   3. SpamAssassin: the text Transformer, HAN, bag of embeddings, and the few-label
#      experiment (5% of the labels, with and without masked-LM pretraining);
#   4. Sort-of-CLEVR visual question answering: FusionNet with each fusion
#      (cross, film, concat, late), accuracy per question type.
# Prints a Markdown table for docs/BENCHMARKS.md and keeps the raw outputs in
# bench/results/ (ignored by git). Usage:
#   bash bench/run.sh [build|fashion|text|clevr|all]        (default: all)
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

field() { grep -o "^  \"$2\": *[0-9.eE+-]*" "$1" | head -n1 | sed 's/.*: *//'; }

# bench_run NAME RECIPE [--set ...]: train RECIPE into runs/bench-NAME, evaluate on the
# test split, keep the logs and print one table row.
bench_run() {
  local name=$1 recipe=$2; shift 2
  local run=runs/bench-$name
  rm -rf "$run"
  # shellcheck disable=SC2086
  build/apps/focus-train --recipe "models/$recipe.json" --out "$run" --threads "$threads" --no-progress \
    "$@" ${BENCH_SET:-} > "$out/$name-train.log" 2>&1
  build/apps/focus-eval --run "$run" --threads "$threads" > "$out/$name-eval.log" 2>&1
  cp "$run/summary.json" "$out/$name-summary.json"
  cp "$run/eval.json" "$out/$name-eval.json"
  local acc f1 ece secs ips epochs params extra=""
  acc=$(field "$run/eval.json" accuracy); f1=$(field "$run/eval.json" macro_f1); ece=$(field "$run/eval.json" ece)
  secs=$(field "$run/summary.json" train_seconds); ips=$(field "$run/summary.json" examples_per_second)
  epochs=$(field "$run/summary.json" epochs_completed); params=$(field "$run/summary.json" parameters)
  if grep -q '"groups"' "$run/eval.json"; then  # text runs: spam F1 and per-group accuracy
    extra=$(node -e '
      const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const spam = e.per_class.find(c => c.name === "spam");
      const g = Object.entries(e.groups).map(([k, v]) => `${k} ${(100 * v.accuracy).toFixed(2)}%`).join(", ");
      process.stdout.write(`${spam ? " " + spam.f1.toFixed(4) + " |" : ""} ${g} |`);' "$run/eval.json")
  fi
  awk -v r="$name" -v a="$acc" -v f="$f1" -v e="$ece" -v n="$epochs" -v s="$secs" -v i="$ips" -v p="$params" -v x="$extra" \
    'BEGIN { printf "| %s | %.2f%% | %.4f | %.4f | %s | %.1f min | %.0f | %s |%s\n", r, a * 100, f, e, n, s / 60, i, p, x }' \
    | tee -a "$out/summary.md"
}

header() {
  echo "| run | test accuracy | macro-F1 | ECE | epochs | training wall time | examples/s (train) | parameters |$1" \
    | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |$2" | tee -a "$out/summary.md"
}

if [ "$what" = train ] || [ "$what" = fashion ] || [ "$what" = all ]; then
  cmake --build build > /dev/null
  header "" ""
  for recipe in fashion-attncnn fashion-cnn fashion-vit; do bench_run "$recipe" "$recipe"; done
fi

if [ "$what" = text ] || [ "$what" = all ]; then
  cmake --build build > /dev/null
  bash data/fetch-spamassassin.sh > /dev/null
  header " spam F1 | accuracy by group |" " --- | --- |"
  for recipe in spam-transformer spam-han spam-bow; do bench_run "$recipe" "$recipe"; done
  # Few labels: 5% of the training labels, with and without masked-LM pretraining
  # (pretraining reads every training text, without labels).
  rm -rf runs/bench-spam-mlm
  # shellcheck disable=SC2086
  build/apps/focus-train --recipe models/spam-mlm.json --out runs/bench-spam-mlm --threads "$threads" --no-progress \
    ${BENCH_SET:-} > "$out/spam-mlm-train.log" 2>&1
  cp runs/bench-spam-mlm/summary.json "$out/spam-mlm-summary.json"
  echo "masked-LM pretraining: $(field runs/bench-spam-mlm/summary.json epochs_completed) epochs in" \
    "$(awk -v s="$(field runs/bench-spam-mlm/summary.json train_seconds)" 'BEGIN { printf "%.1f min", s / 60 }')," \
    "best val_loss $(field runs/bench-spam-mlm/summary.json best_metric)" | tee -a "$out/summary.md"
  bench_run few-labels-scratch spam-transformer --set data.train_fraction=0.05 --set train.epochs=20
  bench_run few-labels-pretrained spam-finetune --set data.train_fraction=0.05 --set train.epochs=20 \
    --set model.init_from=runs/bench-spam-mlm
fi
if [ "$what" = clevr ] || [ "$what" = all ]; then
  cmake --build build > /dev/null
  [ -s data/sort-of-clevr/dataset.json ] ||
    build/apps/focus-data sort-of-clevr --out data/sort-of-clevr --images 10000 --seed 1 > /dev/null
  header " accuracy by question type |" " --- |"
  for fusion in cross film concat late; do bench_run "clevr-$fusion" "clevr-$fusion"; done
fi
echo "raw outputs: $out/"
