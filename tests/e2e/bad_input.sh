#!/usr/bin/env bash
# Bad input gives a clear message naming the file, a non-zero exit and no partial output.
source "$(dirname "$0")/lib.sh"
T=(--threads 2 --no-progress)

# IDX fixtures built byte by byte: 10 images of 28x28, 10 labels.
idx_images() { printf '\x00\x00\x08\x03\x00\x00\x00\x0a\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 7840 /dev/zero; }
idx_labels() { printf '\x00\x00\x08\x01\x00\x00\x00\x0a'; printf "$1"; }
mkdir -p "$WORK/idx"
idx_images > "$WORK/idx/train-images"
idx_labels '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0c' > "$WORK/idx/bad-labels"
(set +o pipefail; idx_images | head -c 5000 > "$WORK/idx/short-images")
idx_labels '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09' > "$WORK/idx/train-labels"
IDX=(--set "data.root=$WORK/idx" --set data.val_fraction=0.2 --set train.epochs=1)

expect_failure "missing IDX file" "no-such-dir/train-images-idx3-ubyte.gz: IDX image file not found" \
  "$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/out1" --set data.root=$WORK/no-such-dir "${T[@]}"
expect_failure "truncated IDX file" "short-images: truncated IDX data: expected 7840 bytes" \
  "$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/out2" "${IDX[@]}" --set data.train_images=short-images \
  --set data.train_labels=train-labels "${T[@]}"
expect_failure "label out of range" "bad-labels: label 12 at index 9 is out of range: expected 0..9" \
  "$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/out3" "${IDX[@]}" --set data.train_images=train-images \
  --set data.train_labels=bad-labels "${T[@]}"
(set +o pipefail; zcat "$FOCUS_FASHION/t10k-images-idx3-ubyte.gz" | head -c 300000 | gzip > "$WORK/idx/cut-real.gz")
expect_failure "truncated real Fashion-MNIST file" "cut-real.gz: truncated IDX data" \
  "$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/out4" "${IDX[@]}" --set data.train_images=cut-real.gz \
  --set data.train_labels=train-labels "${T[@]}"

# Image folders: a non-image file, an empty class folder.
cp -r "$FOCUS_SOURCE_DIR/data/fixtures/shapes" "$WORK/shapes"
FOLDER_RECIPE="$FOCUS_SOURCE_DIR/models/shapes-folder.json"
echo "not a picture" > "$WORK/shapes/train/circle/readme.png"
expect_failure "non-image file in a class folder" "circle/readme.png: not a decodable image" \
  "$FOCUS_TRAIN" --recipe "$FOLDER_RECIPE" --out "$WORK/out5" --set "data.root=$WORK/shapes" "${T[@]}"
rm "$WORK/shapes/train/circle/readme.png"
mkdir "$WORK/shapes/train/triangle"
expect_failure "empty class folder" "train/triangle: class folder is empty" \
  "$FOCUS_TRAIN" --recipe "$FOLDER_RECIPE" --out "$WORK/out6" --set "data.root=$WORK/shapes" "${T[@]}"

# Recipes: unknown key, wrong type, invalid JSON, bad override.
sed 's/"label_smoothing"/"label_smothing"/' "$RECIPE" > "$WORK/typo.json"
expect_failure "unknown recipe key" "typo.json: train: unknown key 'label_smothing'" \
  "$FOCUS_TRAIN" --recipe "$WORK/typo.json" --out "$WORK/out7" "${T[@]}"
sed -E 's/"epochs": [0-9]+/"epochs": "twelve"/' "$RECIPE" > "$WORK/type.json"
grep -q twelve "$WORK/type.json" || fail "could not make the wrong-type recipe"
expect_failure "wrong type in recipe" "type.json: train.epochs: expected an integer, found string \"twelve\"" \
  "$FOCUS_TRAIN" --recipe "$WORK/type.json" --out "$WORK/out8" "${T[@]}"
head -c 300 "$RECIPE" > "$WORK/broken.json"
expect_failure "invalid JSON" "broken.json:[0-9]+:[0-9]+: invalid JSON" \
  "$FOCUS_TRAIN" --recipe "$WORK/broken.json" --out "$WORK/out9" "${T[@]}"
expect_failure "wrong type in override" "train.batch_size: expected an integer" \
  "$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/out10" --set train.batch_size=big "${T[@]}"
expect_failure "unknown model attention" "model.stages\[0\].attention: expected one of" \
  "$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/out11" --set 'model.stages=[{"channels":8,"attention":"glance"}]' "${T[@]}"
expect_failure "weight-average decay out of range" "train.ema_decay: expected 0 \\(off\\) or a decay in \\(0, 1\\)" \
  "$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/out14" --set train.ema_decay=1.5 "${T[@]}"
expect_failure "missing recipe file" "nope.json" "$FOCUS_TRAIN" --recipe "$WORK/nope.json" --out "$WORK/out12"

# focus-eval: not a run, a missing run, a bad flag value.
expect_failure "eval of a non-run directory" "has no recipe.json" "$FOCUS_EVAL" --run "$WORK/idx"
expect_failure "eval of a missing directory" "does not exist" "$FOCUS_EVAL" --run "$WORK/none"
expect_failure "eval with an unknown split" "--split: holdout not in" "$FOCUS_EVAL" --run "$WORK/idx" --split holdout
expect_failure "unavailable device" "device 'cuda:99' requested" \
  "$FOCUS_TRAIN" --recipe "$FOLDER_RECIPE" --out "$WORK/out13" --set "data.root=$WORK/shapes" --device cuda:99 "${T[@]}"

# No partial output: none of the failed runs left a directory behind.
for i in $(seq 1 14); do [ ! -e "$WORK/out$i" ] || fail "failed run out$i left a directory"; done
pass "no partial output"
