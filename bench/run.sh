#!/usr/bin/env bash
# Focus benchmarks. Measures, on this machine:
#   1. build times: a clean build (ccache off) and an incremental one (one .cpp touched);
#   2. Fashion-MNIST training: the default recipe, its no-attention ablation and the ViT;
#   3. SpamAssassin: the text Transformer, HAN, bag of embeddings, and the few-label
#      experiment (5% of the labels, with and without masked-LM pretraining);
#   4. Sort-of-CLEVR visual question answering: FusionNet with each fusion
#      (cross, film, concat, late), accuracy per question type;
#   5. deployment: focus-predict's batch-1 latency against a bare forward call, and
#      focus-serve's throughput at 32 connections with and without dynamic batching;
#   6. int8: dynamic int8 Linear layers against float32 (size, speed, accuracy);
#   7. faithfulness of focus-heatmap's maps: deletion/insertion AUC against a random
#      order (Fashion-MNIST, SpamAssassin) and the pointing game (Sort-of-CLEVR);
#   8. data-parallel scaling: 1 process against 2 (1 LibTorch thread each) over Gloo;
#   9. channels-last against NCHW memory order for the Fashion CNN's training steps;
#  10. Focus against PyTorch in Python (bench/python/): the same architectures on the
#      same synthetic inputs, training and eval throughput, batch-1 latency, peak RSS;
#  11. a single input's operators: batch-1 convolutions (ATen's choice of kernel against
#      focus::nn::conv2d's oneDNN), small layer norms and softmaxes (split over the threads
#      against on the calling thread).
# Prints a Markdown table for docs/BENCHMARKS.md and keeps the raw outputs in
# bench/results/ (ignored by git). Usage:
#   bash bench/run.sh [build|fashion|text|clevr|deploy|int8|faithfulness|distributed|memformat|python|ops|all]  (default: all)
# Environment: BENCH_THREADS (default: all cores), BENCH_SET (extra --set overrides),
# BENCH_MODELS (python: only these of fashion-attncnn fashion-vit spam-transformer clevr-cross).
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
  # The same CNN runs evaluated four ways: the best validation epoch's weights
  # (the table above) or the last epoch's, each without and with flip
  # test-time augmentation.
  echo | tee -a "$out/summary.md"
  echo "| run | best.pt | best.pt + flip TTA | checkpoint.pt (last epoch) | last + flip TTA |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  for recipe in fashion-attncnn fashion-cnn; do
    row="| $recipe |"
    for variant in "best.pt none" "best.pt flip" "checkpoint.pt none" "checkpoint.pt flip"; do
      read -r checkpoint tta <<< "$variant"
      dir=runs/bench-$recipe/eval-${checkpoint%.pt}-$tta
      build/apps/focus-eval --run "runs/bench-$recipe" --checkpoint "$checkpoint" --tta "$tta" --out "$dir" \
        --threads "$threads" > "$out/$recipe-eval-${checkpoint%.pt}-$tta.log" 2>&1
      row="$row $(awk -v a="$(field "$dir/eval.json" accuracy)" 'BEGIN { printf "%.2f%%", a * 100 }') |"
    done
    echo "$row" | tee -a "$out/summary.md"
  done
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
if [ "$what" = deploy ] || [ "$what" = all ]; then
  # Needs the Fashion runs of the `fashion` target (runs/bench-fashion-attncnn, -vit).
  cmake --build build > /dev/null
  command -v wrk > /dev/null || { echo "wrk is missing: scripts/setup.sh installs it" >&2; exit 1; }
  for run in fashion-attncnn fashion-vit; do
    [ -s "runs/bench-$run/best.pt" ] || { echo "runs/bench-$run is missing: run 'bash bench/run.sh fashion' first" >&2; exit 1; }
    build/apps/focus-export --run "runs/bench-$run" --out "$out/$run.pt" --threads "$threads" > "$out/$run-export.log"
  done
  # The first Fashion-MNIST test image as a 28x28 PNG (NumPy and PIL come with python3-torchvision).
  image="$out/fashion-test-0.png"
  /usr/bin/python3 -c "
import gzip, numpy, PIL.Image
raw = gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()
PIL.Image.fromarray(numpy.frombuffer(raw, numpy.uint8, offset=16)[:784].reshape(28, 28)).save('$image')"
  echo "| model | bare forward p50 / p99 | focus-predict path p50 / p99 | ratio p50 / p99 |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- |" | tee -a "$out/summary.md"
  for run in fashion-attncnn fashion-vit; do
    build/bench/focus-bench-predict "$out/$run.pt" "$image" 10000 "$threads" > "$out/$run-latency.log"
    b=$(awk '/^bare/ {print $4 " / " $7 " ms"}' "$out/$run-latency.log")
    p=$(awk '/^predict/ {print $4 " / " $7 " ms"}' "$out/$run-latency.log")
    r=$(awk '/^ratio/ {print $3 " / " $5}' "$out/$run-latency.log")
    echo "| $run batch-1 | $b | $p | $r |" | tee -a "$out/summary.md"
  done
  # focus-serve at 32 concurrent connections (wrk, keep-alive), one 28x28 image per request.
  python3 -c "import json, random; random.seed(1); print(json.dumps({'inputs': [{'name': 'images', 'shape': [1, 1, 28, 28], 'datatype': 'FP32', 'data': [round(random.uniform(-1, 2), 4) for _ in range(784)]}]}))" > "$out/infer-body.json"
  echo "| server | requests/s | p50 | p99 | examples per forward call |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  for t in "$threads" 1; do
    for batch in 32 1; do
      build/apps/focus-serve --model fashion="$out/fashion-attncnn.pt" --port 18123 --threads "$t" \
        --max-batch-size "$batch" --log-level warn > "$out/serve.log" 2>&1 &
      server=$!
      for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18123/v2/health/ready && break; sleep 0.2; done
      BODY="$out/infer-body.json" URL_PATH=/v2/models/fashion/infer \
        wrk -t1 -c32 -d15s -s bench/serve_post.lua http://127.0.0.1:18123 | tail -n1 > "$out/serve-$t-$batch.json"
      per_call=$(curl -s http://127.0.0.1:18123/metrics | awk '/^focus_batch_size_sum/ {s=$2} /^focus_batch_size_count/ {c=$2} END {printf "%.1f", s / c}')
      kill -TERM "$server"; wait "$server"
      python3 - "$out/serve-$t-$batch.json" "$t" "$batch" "$per_call" <<'PY' | tee -a "$out/summary.md"
import json, sys
r = json.load(open(sys.argv[1]))
threads = "all cores" if sys.argv[2] == "0" else sys.argv[2]
mode = "dynamic batching (max 32)" if sys.argv[3] != "1" else "no batching (max 1)"
print(f"| focus-serve, {mode}, {threads} LibTorch threads | {r['throughput']:.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {sys.argv[4]} |")
PY
    done
  done
fi
if [ "$what" = int8 ] || [ "$what" = all ]; then
  # Needs runs/bench-spam-transformer (`text`) and runs/bench-clevr-cross (`clevr`).
  cmake --build build > /dev/null
  echo "| archive | size | focus-predict over the test split (wall, incl. start-up) | test accuracy | top-1 agreement on 64 test examples |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  for pair in "spam-transformer data/cache/spamassassin/test.jsonl" "clevr-cross data/sort-of-clevr/test.jsonl"; do
    set -- $pair
    for q in none int8; do
      build/apps/focus-export --run "runs/bench-$1" --out "$out/$1-$q.pt" --quantize "$q" --threads "$threads" > "$out/$1-$q-export.log"
      agreement=$(sed -n 's/.*same top-1 class on \([0-9.]*%\).*/\1/p' "$out/$1-$q-export.log")
      start=$(date +%s%N)
      build/apps/focus-predict --model "$out/$1-$q.pt" --jsonl "$2" --top-k 1 --format jsonl --batch-size 64 \
        --threads "$threads" > "$out/$1-$q-predictions.jsonl"
      seconds=$(awk -v ns="$(( $(date +%s%N) - start ))" 'BEGIN { print ns / 1e9 }')
      accuracy=$(python3 bench/archive_accuracy.py "$out/$1-$q-predictions.jsonl" "$2" | cut -d' ' -f1)
      size=$(du -k "$out/$1-$q.pt" | cut -f1)
      printf '| %s %s | %s KiB | %.2f s | %s | %s |\n' "$1" "$q" "$size" "$seconds" "$accuracy" "${agreement:-(float32: identical)}" \
        | tee -a "$out/summary.md"
    done
  done
fi
if [ "$what" = faithfulness ] || [ "$what" = all ]; then
  # Needs the bench runs of `fashion`, `text` and `clevr`. Each row: the mean over the
  # first N test examples; deletion removes pixels to black / tokens from the input.
  cmake --build build > /dev/null
  faith() {  # NAME RUN ARGS...: one focus-heatmap --evaluate, its rows
    local name=$1 run=$2; shift 2
    local start; start=$(date +%s)
    build/apps/focus-heatmap --run "$run" --evaluate --out "$out/faith-$name" --threads "$threads" "$@" \
      > "$out/faith-$name.log" 2>&1
    python3 - "$out/faith-$name/faithfulness.json" "$name" "$(( $(date +%s) - start ))" <<'PY' | tee -a "$out/summary.md"
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["method"]: x for x in d["scores"]}
if d["kind"] == "pointing_game":
    for m, x in s.items():
        print(f"| {sys.argv[2]} | {m} ({x['map']}) | {x['examples']} | {100 * x['hit_rate']:.1f}% | "
              f"box area {100 * d['mean_box_area_fraction']:.1f}% of the image | {sys.argv[3]} s |")
else:
    r = s["random"]["deletion_auc"]
    for m, x in s.items():
        print(f"| {sys.argv[2]} | {m} ({x['map']}) | {x['examples']} | {x['deletion_auc']:.3f} | "
              f"{x['insertion_auc']:.3f} | {100 * (x['deletion_auc'] / r - 1):+.1f}% | {sys.argv[3]} s |")
    if d["units"] == "tokens":  # text: removing tokens drives a text towards the empty text's class
        for cls, rows in d["by_predicted_class"].items():
            rr = [x for x in rows if x["method"] == "random"][0]["deletion_auc"]
            for x in rows:
                print(f"| {sys.argv[2]}, predicted {cls} | {x['method']} | {x['examples']} | {x['deletion_auc']:.3f} | "
                      f"{x['insertion_auc']:.3f} | {100 * (x['deletion_auc'] / rr - 1):+.1f}% | |")
PY
  }
  echo "| run | method (map) | examples | deletion AUC | insertion AUC | deletion vs random | time |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  faith fashion-attncnn runs/bench-fashion-attncnn --limit 500
  faith fashion-vit runs/bench-fashion-vit --limit 500
  faith spam-transformer runs/bench-spam-transformer --limit 200
  faith spam-han runs/bench-spam-han --limit 200
  faith spam-bow runs/bench-spam-bow --limit 200
  echo "| run | method (map) | single-object questions | pointing-game hits | chance | time |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  faith clevr-cross runs/bench-clevr-cross --limit 4000 --method attention,grad_rollout,gradcam
  # The first cross layer's [CLS] row (the default map is the last layer's).
  faith clevr-cross-layer0 runs/bench-clevr-cross --limit 4000 --method attention --layer cross.layer0
  faith clevr-film runs/bench-clevr-film --limit 1000 --patch 8 --stride 4
fi
if [ "$what" = distributed ] || [ "$what" = all ]; then
  cmake --build build > /dev/null
  echo "| recipe | processes x threads | batch per process | examples/s (training, epoch 1) | scaling efficiency |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  for recipe in fashion-vit fashion-attncnn; do
    common=(--recipe "models/$recipe.json" --set train.epochs=1 --set data.limit_train=20000 --threads 1 --no-progress)
    rm -rf runs/bench-dist-1 runs/bench-dist-2
    build/apps/focus-train "${common[@]}" --set train.batch_size=128 --out runs/bench-dist-1 > "$out/dist-$recipe-1.log" 2>&1
    one=$(field runs/bench-dist-1/summary.json examples_per_second)
    WORLD_SIZE=2 RANK=1 MASTER_PORT=29517 build/apps/focus-train "${common[@]}" --set train.batch_size=64 \
      --out runs/bench-dist-2 > "$out/dist-$recipe-2r1.log" 2>&1 &
    WORLD_SIZE=2 RANK=0 MASTER_PORT=29517 build/apps/focus-train "${common[@]}" --set train.batch_size=64 \
      --out runs/bench-dist-2 > "$out/dist-$recipe-2.log" 2>&1
    wait
    two=$(field runs/bench-dist-2/summary.json examples_per_second)
    printf '| %s | 1 x 1 | 128 | %.0f | - |\n' "$recipe" "$one" | tee -a "$out/summary.md"
    printf '| %s | 2 x 1 | 64 | %.0f | %.0f%% |\n' "$recipe" "$two" "$(awk -v a="$one" -v b="$two" 'BEGIN { print 100 * b / (2 * a) }')" \
      | tee -a "$out/summary.md"
  done
  rm -rf runs/bench-dist-1 runs/bench-dist-2
fi
if [ "$what" = memformat ] || [ "$what" = all ]; then
  # Channels-last against the default (NCHW) memory order: focus-bench-model's training
  # steps (synthetic batches of 128) for the default Fashion recipe and the network it
  # had before the change (stem 32, one 128-channel block), alternating, 3 rounds.
  cmake --build build > /dev/null
  mthreads=${BENCH_THREADS:-0}; [ "$mthreads" = 0 ] && mthreads=$(nproc)
  input='{"channels":1,"height":28,"width":28,"num_classes":10,"vocab_size":0,"max_length":0}'
  tmp=$(mktemp -d)
  node -e '
    const fs = require("fs"); const r = JSON.parse(fs.readFileSync("models/fashion-attncnn.json", "utf8"));
    const variants = {
      "default": r.model,
      "stem32-one-block": Object.assign({}, r.model, { stem_channels: 32,
        stages: [r.model.stages[0], Object.assign({}, r.model.stages[1], { blocks: 1 })] }) };
    for (const [name, model] of Object.entries(variants))
      for (const cl of [false, true])
        fs.writeFileSync(`${process.argv[1]}/${name}-${cl ? "cl" : "nchw"}.json`,
          JSON.stringify(Object.assign({}, r, { model, train: Object.assign({}, r.train, { channels_last: cl }) })));' "$tmp"
  : > "$out/memformat.jsonl"
  for round in 1 2 3; do
    for v in default-nchw default-cl stem32-one-block-nchw stem32-one-block-cl; do
      build/bench/focus-bench-model "$tmp/$v.json" "$input" threads="$mthreads" batch=128 steps=40 eval_steps=5 repeats=50 \
        | sed "s/^{/{\"variant\": \"$v\", /" >> "$out/memformat.jsonl"
    done
  done
  rm -rf "$tmp"
  echo "| network | threads | train samples/s NCHW | channels-last | ratio | eval samples/s NCHW | channels-last |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  node -e '
    const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const best = (v, k) => Math.max(...rows.filter(r => r.variant === v).map(r => r[k]));
    for (const n of ["default", "stem32-one-block"]) {
      const a = best(`${n}-nchw`, "train_samples_per_s"), b = best(`${n}-cl`, "train_samples_per_s");
      console.log(`| ${n} | ${process.argv[2]} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(2)}x | ` +
        `${best(`${n}-nchw`, "eval_samples_per_s").toFixed(0)} | ${best(`${n}-cl`, "eval_samples_per_s").toFixed(0)} |`);
    }' "$out/memformat.jsonl" "$mthreads" | tee -a "$out/summary.md"
fi

if [ "$what" = ops ] || [ "$what" = all ]; then
  cmake --build build > /dev/null
  {
    echo "| convolution (batch 1) | memory format | threads | ATen's choice us | focus::nn::conv2d us | oneDNN |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for t in 1 2; do build/bench/focus-bench-ops threads="$t" table=conv; done
    echo
    echo "| operator | input | values | threads | ATen us | Focus us | calling thread only us |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for t in 1 2; do build/bench/focus-bench-ops threads="$t" table=small; done
    echo
    echo "| product [M, K] x [K, N] | threads | ATen mm us (GFLOP/s) | Focus us (GFLOP/s) | Focus's engine |"
    echo "| --- | --- | --- | --- | --- |"
    for t in 1 2; do
      build/bench/focus-bench-ops threads="$t" table=gemm
      FOCUS_GEMM=blas build/bench/focus-bench-ops threads="$t" table=gemm
    done
    echo
    echo "| 3x3 convolution, batch 128, channels-last | threads | ATen forward ms | Winograd forward ms | ATen forward + backward ms | Winograd forward + backward ms |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for t in 1 2; do build/bench/focus-bench-ops threads="$t" table=winograd; done
  } | tee -a "$out/summary.md"
fi

if [ "$what" = python ] || [ "$what" = all ]; then
  cmake --build build > /dev/null
  py=/usr/bin/python3  # Debian's python3-torch: the same LibTorch version as Focus
  pthreads=${BENCH_THREADS:-1}; [ "$pthreads" = 0 ] && pthreads=$(nproc)
  echo "| model | threads | train samples/s Focus / Python (ratio) | eval samples/s Focus / Python (ratio) | batch-1 p50 ms Focus / Python (ratio) | p99 ms Focus / Python | peak RSS MiB Focus / Python |" | tee -a "$out/summary.md"
  echo "| --- | --- | --- | --- | --- | --- | --- |" | tee -a "$out/summary.md"
  side_by_side() {  # NAME RECIPE INPUT ARGS...: two alternating rounds per side, the better of each kept
    local name=$1 recipe=$2 input=$3; shift 3
    case " ${BENCH_MODELS:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    : > "$out/py-$name.jsonl"
    for round in 1 2; do
      build/bench/focus-bench-model "models/$recipe.json" "$input" threads="$pthreads" "$@" >> "$out/py-$name.jsonl"
      (cd bench/python && "$py" model_speed.py "../../models/$recipe.json" "$input" threads="$pthreads" "$@") >> "$out/py-$name.jsonl"
      # The same runtime settings as Focus's apps, through environment variables: glibc's malloc
      # policy (util::configure_allocator) and a single-threaded OpenBLAS beside LibTorch's own
      # threads (util::configure_threads).
      (cd bench/python && MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_MMAP_MAX_=0 \
        OPENBLAS_NUM_THREADS=1 \
        "$py" model_speed.py "../../models/$recipe.json" "$input" threads="$pthreads" "$@" | sed 's/"side": "python"/"side": "python-malloc"/') \
        >> "$out/py-$name.jsonl"
    done
    "$py" - "$out/py-$name.jsonl" "$name" "$pthreads" <<'PY' | tee -a "$out/summary.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def best(side, key, low=False):
    v = [r[key] for r in rows if r["side"] == side]
    return min(v) if low else max(v)
f = "focus"
for p in ("python", "python-malloc"):
    assert {r["parameters"] for r in rows if r["side"] == f} == {r["parameters"] for r in rows if r["side"] == p}, "parameter counts differ"
    cells = []
    for key in ("train_samples_per_s", "eval_samples_per_s"):
        a, b = best(f, key), best(p, key)
        cells.append(f"{a:.0f} / {b:.0f} ({a / b:.2f}x)")
    a, b = best(f, "latency_p50_ms", True), best(p, "latency_p50_ms", True)
    cells.append(f"{a:.3f} / {b:.3f} ({b / a:.2f}x faster)")
    a, b = best(f, "latency_p99_ms", True), best(p, "latency_p99_ms", True)
    cells.append(f"{a:.3f} / {b:.3f}")
    a, b = best(f, "peak_rss_kib", True) / 1024, best(p, "peak_rss_kib", True) / 1024
    cells.append(f"{a:.0f} / {b:.0f}")
    label = "Python" if p == "python" else "Python + Focus's malloc and OpenBLAS thread settings"
    print(f"| {sys.argv[2]} vs {label} | {sys.argv[3]} | " + " | ".join(cells) + " |")
gemm = [r for r in rows if r["side"] == f and r.get("gemm_gflops", 0) > 0]
if gemm:
    g, e = max(r["gemm_gflops"] for r in gemm), max(r["encoder_gflops"] for r in gemm)
    print(f"| {sys.argv[2]}: encoder {e:.1f} GFLOP/s in evaluation = {100 * e / g:.0f}% of this machine's GEMM rate ({g:.1f} GFLOP/s, 1024^2 float32, same threads, split over them) | | | | | | |")
PY
  }
  side_by_side fashion-attncnn fashion-attncnn '{"channels":1,"height":28,"width":28,"num_classes":10,"vocab_size":0,"max_length":0}' batch=128
  side_by_side fashion-vit fashion-vit '{"channels":1,"height":28,"width":28,"num_classes":10,"vocab_size":0,"max_length":0}' batch=128
  side_by_side spam-transformer spam-transformer '{"channels":0,"height":0,"width":0,"num_classes":2,"vocab_size":8000,"max_length":256}' \
    batch=32 eval_batch=64 steps=10 eval_steps=5 repeats=100
  side_by_side clevr-cross clevr-cross '{"channels":3,"height":75,"width":75,"num_classes":10,"vocab_size":32,"max_length":24}' \
    batch=200 eval_batch=400 steps=10 eval_steps=5 length=12 questions_per_image=20
fi
echo "raw outputs: $out/"
