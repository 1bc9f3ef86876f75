#!/usr/bin/env bash
# Deployment end to end: tiny runs of every architecture (AttnCNN, ViT,
# TextTransformer, bag of embeddings, HAN, FusionNet cross and FiLM) are
# exported to TorchScript; focus-export checks each archive against the C++
# model, and PyTorch in Python loads it and gets the same logits and attention
# maps. focus-predict runs the archives on image files, texts and JSONL, and
# runs a torchvision model scripted by Python in the test.
source "$(dirname "$0")/lib.sh"
: "${FOCUS_EXPORT:?set by ctest}" "${FOCUS_PREDICT:?set by ctest}" "${FOCUS_DATA:?set by ctest}"
: "${FOCUS_SPAM:=$FOCUS_SOURCE_DIR/data/cache/spamassassin}"
PYTHON=${FOCUS_PYTHON:-/usr/bin/python3}
"$PYTHON" -c "import torch, torchvision" 2>/dev/null || fail "$PYTHON cannot import torch and torchvision (scripts/setup.sh installs python3-torch and python3-torchvision)"
[ -s "$FOCUS_SPAM/train.jsonl" ] || fail "SpamAssassin splits not found in $FOCUS_SPAM (scripts/setup.sh fetches them)"

ONE=(--set train.epochs=1 --threads 2 --no-progress)
IMAGES=(--set data.limit_train=600 --set data.limit_test=100 --set train.batch_size=64 "${ONE[@]}")
TEXT=(--set "data.root=$FOCUS_SPAM" --set data.limit_train=200 --set data.limit_test=50 --set data.max_length=48 "${ONE[@]}")
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/fashion-attncnn.json" --out "$WORK/attncnn" "${IMAGES[@]}" > /dev/null
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/fashion-vit.json" --out "$WORK/vit" "${IMAGES[@]}" \
  --set model.layers=2 > /dev/null
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-transformer.json" --out "$WORK/transformer" "${TEXT[@]}" \
  --set model.dim=32 --set model.layers=1 --set model.heads=2 --set model.ff_dim=64 --set data.tokenizer.vocab_size=600 > /dev/null
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-bow.json" --out "$WORK/bow" "${TEXT[@]}" \
  --set model.bigram_buckets=1000 > /dev/null
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-han.json" --out "$WORK/han" "${TEXT[@]}" \
  --set data.max_sentences=6 --set data.max_sentence_length=12 > /dev/null
"$FOCUS_DATA" sort-of-clevr --out "$WORK/clevr" --images 60 --test-images 10 --seed 5 > /dev/null
CLEVR=(--set "data.root=$WORK/clevr" --set train.batch_size=100 --set train.eval_batch_size=200 --set model.dim=32
       --set model.text.dim=32 --set model.hidden=32 "${ONE[@]}")
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/clevr-cross.json" --out "$WORK/cross" "${CLEVR[@]}" > /dev/null
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/clevr-film.json" --out "$WORK/film" "${CLEVR[@]}" > /dev/null
pass "trained tiny runs of seven architectures"

for run in attncnn vit transformer bow han cross film; do
  # One thread on both sides: the same reduction order, so the results are identical.
  "$FOCUS_EXPORT" --run "$WORK/$run" --out "$WORK/$run.pt" --reference "$WORK/$run.ref" --verify 16 --threads 1 \
    > "$WORK/export.out"
  grep -q "checked on 16 test examples" "$WORK/export.out" || { cat "$WORK/export.out"; fail "$run: no C++ parity check"; }
  [ ! -e "$WORK/$run.pt.partial" ] || fail "$run: the partial archive was left behind"
  OMP_NUM_THREADS=1 "$PYTHON" "$FOCUS_SOURCE_DIR/tests/e2e/check_export.py" "$WORK/$run.pt" "$WORK/$run.ref" \
    > "$WORK/python.out" || { cat "$WORK/python.out"; fail "$run: Python gets other outputs than C++"; }
  pass "$run exported; C++: $(sed -n 2p "$WORK/export.out"); Python: $(cat "$WORK/python.out")"
done

# int8: smaller Linear layers, close to float32, loadable from Python.
"$FOCUS_EXPORT" --run "$WORK/transformer" --out "$WORK/int8.pt" --quantize int8 --reference "$WORK/int8.ref" \
  --verify 16 --threads 1 > "$WORK/int8.out"
grep -q "int8: same top-1 class on" "$WORK/int8.out" || fail "int8 export did not report the top-1 agreement"
OMP_NUM_THREADS=1 "$PYTHON" "$FOCUS_SOURCE_DIR/tests/e2e/check_export.py" "$WORK/int8.pt" "$WORK/int8.ref" 0.5 \
  > "$WORK/python.out" || { cat "$WORK/python.out"; fail "int8 archive: Python is not within 0.5 of float32"; }
grep -q '"quantization": "int8"' <(unzip -p "$WORK/int8.pt" '*/extra/focus.json' 2> /dev/null || "$PYTHON" -c "
import torch; e = {'focus.json': ''}; torch.jit.load('$WORK/int8.pt', _extra_files=e); print(e['focus.json'].decode())") \
  || fail "focus.json does not say int8"
"$FOCUS_PREDICT" --model "$WORK/int8.pt" --text "WIN a FREE prize" --format jsonl | grep -q '"label":"\(ham\|spam\)"' \
  || fail "focus-predict on the int8 archive"
pass "int8 export: $(sed -n 2,3p "$WORK/int8.out" | tr '\n' ' '); Python: $(cat "$WORK/python.out")"

expect_failure "export of a masked LM is refused" "masked-LM pretraining run" \
  bash -c "\"$FOCUS_TRAIN\" --recipe \"$FOCUS_SOURCE_DIR/models/spam-mlm.json\" --out \"$WORK/mlm\" ${TEXT[*]} \
    --set model.dim=16 --set model.layers=1 --set model.heads=2 --set data.tokenizer.vocab_size=600 > /dev/null && \
    \"$FOCUS_EXPORT\" --run \"$WORK/mlm\" --out \"$WORK/mlm.pt\""
[ ! -e "$WORK/mlm.pt" ] || fail "a refused export left a file"
expect_failure "export of a missing run" "no-such-run" "$FOCUS_EXPORT" --run "$WORK/no-such-run"

# focus-predict on image files: the Fashion model reads the CLEVR PNGs as 28x28 grayscale.
"$FOCUS_PREDICT" --model "$WORK/attncnn.pt" "$WORK/clevr/images/test" --top-k 3 --format jsonl > "$WORK/predict.jsonl"
[ "$(wc -l < "$WORK/predict.jsonl")" -eq 10 ] || fail "expected one prediction line per test image"
"$PYTHON" - "$WORK/predict.jsonl" <<'PY' || fail "focus-predict JSON lines are wrong"
import json, sys
names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = [x["probability"] for x in r["predictions"]]
    assert len(p) == 3 and p == sorted(p, reverse=True) and 0 < sum(p) <= 1.0001, r
    assert all(x["label"] in names for x in r["predictions"]), r
    assert r["input"].endswith(".png"), r
PY
pass "focus-predict: top-3 Fashion labels for 10 image files, as JSON lines"

"$FOCUS_PREDICT" --model "$WORK/transformer.pt" --text "WIN a FREE prize, click now" --text "Meeting moved to 3pm" \
  --format table > "$WORK/predict.txt"
[ "$(grep -c -E " (ham|spam) " "$WORK/predict.txt")" -eq 2 ] || { cat "$WORK/predict.txt"; fail "expected two table rows of ham/spam"; }
head -n 3 "$FOCUS_SPAM/test.jsonl" > "$WORK/three.jsonl"
"$FOCUS_PREDICT" --model "$WORK/han.pt" --jsonl "$WORK/three.jsonl" --top-k 1 > "$WORK/han.jsonl"
[ "$(grep -c '"predictions"' "$WORK/han.jsonl")" -eq 3 ] || fail "HAN: expected 3 JSON lines"
printf '{"image": "images/test/000000.png", "text": "What is the shape of the red object?"}\n' > "$WORK/clevr/q.jsonl"
"$FOCUS_PREDICT" --model "$WORK/cross.pt" --jsonl "$WORK/clevr/q.jsonl" --top-k 2 > "$WORK/cross.jsonl"
grep -q '"label":"\(yes\|no\|square\|circle\|[1-6]\)"' "$WORK/cross.jsonl" || fail "FusionNet: no answer label"
pass "focus-predict: texts (table), HAN on JSONL, image + text question"

expect_failure "predict: text for an image model" "reads images, not text" \
  "$FOCUS_PREDICT" --model "$WORK/attncnn.pt" --text "hello"
expect_failure "predict: undecodable image" "not a decodable image" \
  "$FOCUS_PREDICT" --model "$WORK/attncnn.pt" "$WORK/three.jsonl"
expect_failure "predict: not an archive" "not a TorchScript archive" \
  "$FOCUS_PREDICT" --model "$WORK/three.jsonl" --text "x"

# A torchvision model scripted in Python, without Focus metadata: preprocessing and labels from flags.
"$PYTHON" - "$WORK" <<'PY' > "$WORK/expected.txt"
import sys, torch, torchvision
from PIL import Image
torch.manual_seed(0)
work = sys.argv[1]
model = torchvision.models.resnet18(num_classes=4).eval()
torch.jit.script(model).save(f"{work}/resnet.pt")
pixels = torch.randint(0, 256, (32, 32, 3), dtype=torch.uint8)
Image.fromarray(pixels.numpy()).save(f"{work}/photo.png")
x = pixels.permute(2, 0, 1).float() / 255
x = (x - torch.tensor([0.5, 0.4, 0.3]).view(3, 1, 1)) / torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)
with torch.no_grad():
    p = torch.softmax(model(x[None]), 1)[0]
top = int(p.argmax())
print(["cat", "dog", "fox", "owl"][top], f"{p[top].item():.6f}")
PY
printf 'cat\ndog\nfox\nowl\n' > "$WORK/labels.txt"
"$FOCUS_PREDICT" --model "$WORK/resnet.pt" --labels "$WORK/labels.txt" --height 32 --width 32 \
  --mean 0.5 0.4 0.3 --std 0.2 0.25 0.3 --top-k 1 --format jsonl "$WORK/photo.png" > "$WORK/resnet.jsonl"
read -r want_label want_p < "$WORK/expected.txt"
"$PYTHON" -c "
import json, sys
r = json.loads(open('$WORK/resnet.jsonl').readline())['predictions'][0]
assert r['label'] == '$want_label' and abs(r['probability'] - $want_p) < 1e-4, (r, '$want_label', $want_p)
" || fail "focus-predict on the Python-scripted resnet18 disagrees with Python ($want_label $want_p)"
pass "focus-predict on a torchvision resnet18 scripted by Python: $want_label $want_p, as in Python"

# focus-heatmap on TorchScript archives: a Focus export (attention + occlusion) and the Python resnet (occlusion).
: "${FOCUS_HEATMAP:?set by ctest}"
expect_failure "heatmap --model: an image the model does not read" \
  "000000.png.*: the image is 75x75 with 3 channels; the model reads 28x28 with 1 channel" \
  "$FOCUS_HEATMAP" --model "$WORK/attncnn.pt" "$WORK/clevr/images/test/000000.png" --out "$WORK/x"
[ ! -e "$WORK/x" ] || fail "a refused image left output behind"
"$FOCUS_HEATMAP" --model "$WORK/attncnn.pt" "$WORK/clevr/images/test" --convert-images --out "$WORK/hm" > "$WORK/hm.out"
[ "$(ls "$WORK/hm"/*-attention.png | wc -l)" -eq 10 ] || fail "expected an attention overlay per image"
[ "$(ls "$WORK/hm"/*-occlusion.npy | wc -l)" -eq 10 ] || fail "expected an occlusion map per image"
grep -q '"source": "head.attention_pool"' "$WORK/hm/heatmaps.json" || fail "the attention map is not the pooling map"
grep -q "index.html" "$WORK/hm.out" || fail "focus-heatmap --model did not print the index page"
"$PYTHON" - "$WORK/hm" <<'PY' || fail "overlays are not 28x28 PNGs"
import glob, struct, sys
for f in glob.glob(sys.argv[1] + "/*-occlusion.png"):
    b = open(f, "rb").read(24)
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", b[16:24]) == (28, 28), f
PY
"$FOCUS_HEATMAP" --model "$WORK/resnet.pt" --labels "$WORK/labels.txt" --height 32 --width 32 --mean 0.5 0.4 0.3 \
  --std 0.2 0.25 0.3 --patch 8 --stride 8 "$WORK/photo.png" --out "$WORK/hm-resnet" > /dev/null
grep -q "\"predicted\": \"$want_label\"" "$WORK/hm-resnet/heatmaps.json" || fail "resnet heatmap: predicted class is not Python's"
[ -s "$WORK/hm-resnet/000-photo-occlusion.npy" ] || fail "resnet heatmap: no occlusion map"
"$FOCUS_HEATMAP" --model "$WORK/attncnn.pt" "$WORK/clevr/images/test" --convert-images --limit 3 --method occlusion \
  --out "$WORK/hm3" > /dev/null
[ "$(ls "$WORK/hm3"/*-grid.png | wc -l)" -eq 3 ] || fail "--limit 3 did not explain 3 images"
pass "focus-heatmap --model: attention + occlusion on a Focus export, occlusion on a Python-scripted resnet18"
expect_failure "heatmap --model: attention on a foreign model" "attention needs a Focus export" \
  "$FOCUS_HEATMAP" --model "$WORK/resnet.pt" --height 32 --width 32 --method attention "$WORK/photo.png" --out "$WORK/x"
expect_failure "heatmap --model: a text archive" "explains image classifiers" \
  "$FOCUS_HEATMAP" --model "$WORK/transformer.pt" "$WORK/photo.png" --out "$WORK/x"
expect_failure "heatmap: both --run and --model" "excludes|give --run" \
  "$FOCUS_HEATMAP" --run "$WORK/attncnn" --model "$WORK/attncnn.pt" "$WORK/photo.png"
