#!/usr/bin/env bash
# Multimodal end to end: focus-data generates a small Sort-of-CLEVR set
# (twice, to check it is reproducible), focus-train fits the cross-attention
# FusionNet on it, focus-eval reports accuracy per question type and per
# --group-by field, and bad manifests are clear errors naming the line.
FOCUS_E2E_NO_FASHION=1
source "$(dirname "$0")/lib.sh"
: "${FOCUS_DATA:?set by ctest}"

"$FOCUS_DATA" sort-of-clevr --out "$WORK/clevr" --images 200 --test-images 40 --seed 3 > "$WORK/data.out"
"$FOCUS_DATA" sort-of-clevr --out "$WORK/clevr2" --images 200 --test-images 40 --seed 3 > /dev/null
diff -r -q "$WORK/clevr" "$WORK/clevr2" > /dev/null || fail "the same seed gave different files"
[ "$(wc -l < "$WORK/clevr/train.jsonl")" -eq 3200 ] || fail "expected 160 training images x 20 questions"
[ "$(ls "$WORK/clevr/images/test" | wc -l)" -eq 40 ] || fail "expected 40 test images"
pass "focus-data sort-of-clevr: 200 images, reproducible byte for byte"

QUICK=(--set "data.root=$WORK/clevr" --set train.epochs=3 --set train.batch_size=100 --set train.eval_batch_size=400
       --set model.dim=32 --set model.text.dim=32 --set model.hidden=64 --threads 2 --no-progress
       --set 'data.curriculum=[{"epochs": 1, "groups": ["non_relational"]}]')
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/clevr-cross.json" --out "$WORK/cross" "${QUICK[@]}" > "$WORK/train.out"
for f in recipe.json labels.json input.json normalization.json tokenizer.json best.pt metrics.jsonl; do
  [ -s "$WORK/cross/$f" ] || fail "multimodal run directory lacks $f"
done
pass "cross-attention FusionNet trained"

"$FOCUS_EVAL" --run "$WORK/cross" --threads 2 > "$WORK/eval.out"
count=$(json_get "$WORK/cross/eval.json" count)
acc=$(json_get "$WORK/cross/eval.json" accuracy)
[ "$count" = "800" ] || fail "evaluated $count questions, expected 800"
# The most frequent answer of the set is right for about a quarter of the questions.
awk -v a="$acc" 'BEGIN { exit !(a > 0.4) }' || fail "test accuracy $acc is not above 0.4"
grep -q '"relational"' "$WORK/cross/eval.json" || fail "eval.json lacks the accuracy of relational questions"
grep -q '"non_relational"' "$WORK/cross/eval.json" || fail "eval.json lacks the accuracy of non-relational questions"
pass "evaluation: accuracy $acc on $count questions, per question type"

"$FOCUS_EVAL" --run "$WORK/cross" --group-by subtype --out "$WORK/by-subtype" --threads 2 > /dev/null
for g in shape horizontal vertical closest furthest count; do
  grep -q "\"$g\"" "$WORK/by-subtype/eval.json" || fail "--group-by subtype: eval.json lacks group $g"
done
pass "--group-by subtype gives the six question subtypes"

# Heatmaps: per question the methods' maps, and for cross-attention a map per question word.
: "${FOCUS_HEATMAP:?set by ctest}"
"$FOCUS_HEATMAP" --run "$WORK/cross" --limit 2 --out "$WORK/maps" --threads 2 > "$WORK/heatmap.out"
for m in attention grad_rollout gradcam occlusion; do
  [ -s "$WORK/maps/00001-$m.png" ] || fail "missing 00001-$m.png"
done
words=$(ls "$WORK/maps" | grep -c '^00000-attention-w[0-9]*\.png$')
[ "$words" -ge 5 ] || fail "expected an attention overlay per question word, found $words"
[ -s "$WORK/maps/00000-grad_rollout-words.png" ] || fail "missing the per-word strip"
grep -q 'class="w" data-k="0"' "$WORK/maps/index.html" || fail "index.html does not mark the question words"
pass "image + text heatmaps: 4 methods, $words per-word overlays and a strip per cross-attention map"
browser_check "$WORK/maps/index.html" "image + text heatmap page" 3000 '<span class="w" data-k="0">' \
  'data-base="00001-grad_rollout"'
"$FOCUS_HEATMAP" --run "$WORK/cross" --evaluate --limit 60 --method attention,gradcam --out "$WORK/eval" --threads 2 > "$WORK/eval.out"
"$FOCUS_PYTHON" - "$WORK/eval/faithfulness.json" <<'PY' || fail "pointing-game faithfulness.json is not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "pointing_game", d["kind"]
scores = {s["method"]: s for s in d["scores"]}
assert list(scores) == ["attention", "gradcam", "center", "random"], list(scores)
n = scores["center"]["examples"]
assert 0 < n and n + d["skipped_not_single_object"] == 60, (n, d["skipped_not_single_object"])
assert all(0 <= s["hits"] <= n and s["examples"] == n for s in scores.values())
# Each hit is a point inside the question's box.
for e in d["examples"]:
    x, y = e["attention"]["point"]
    x0, y0, x1, y1 = e["box"]
    assert e["attention"]["hit"] == (x0 <= x <= x1 and y0 <= y <= y1), e
assert 0 < d["mean_box_area_fraction"] < 0.1
PY
pass "--evaluate: the pointing game on the single-object questions, with centre and random baselines"
expect_failure "image-only method on an image + text run" "does not apply.*attention, grad_rollout, gradcam, occlusion" \
  "$FOCUS_HEATMAP" --run "$WORK/cross" --method rollout --out "$WORK/bad-maps" --threads 2

# Bad input: the errors name the manifest line.
mkdir -p "$WORK/bad"
cp -r "$WORK/clevr/images" "$WORK/bad/"
head -n 40 "$WORK/clevr/train.jsonl" > "$WORK/bad/train.jsonl"
sed -n '41p' "$WORK/clevr/train.jsonl" | sed 's#"image":"images/train/[0-9]*.png"#"image":"images/train/nope.png"#' >> "$WORK/bad/train.jsonl"
cp "$WORK/clevr/test.jsonl" "$WORK/bad/test.jsonl"
expect_failure "missing image" "train.jsonl:41: image 'images/train/nope.png' does not exist" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/clevr-cross.json" --out "$WORK/bad-run" --set "data.root=$WORK/bad" --set data.val_fraction=0.5 --threads 2
head -n 40 "$WORK/clevr/train.jsonl" > "$WORK/bad/train.jsonl"
echo '{"image": "images/train/000002.png", "label": "yes"}' >> "$WORK/bad/train.jsonl"
expect_failure "missing field" "train.jsonl:41: missing field 'text'" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/clevr-cross.json" --out "$WORK/bad-run" --set "data.root=$WORK/bad" --set data.val_fraction=0.5 --threads 2
head -n 40 "$WORK/clevr/train.jsonl" > "$WORK/bad/train.jsonl"
echo "not an image" > "$WORK/bad/images/train/000001.png"
expect_failure "unreadable image" "train.jsonl:21: image 'images/train/000001.png'.*not a decodable image" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/clevr-cross.json" --out "$WORK/bad-run" --set "data.root=$WORK/bad" --set data.val_fraction=0.5 --threads 2
expect_failure "curriculum group that no example has" \
  'data.curriculum\[0\].groups: no training example has the group "relation" \(found: "non_relational", "relational"\)' \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/clevr-cross.json" --out "$WORK/bad-run" --set "data.root=$WORK/clevr" \
  --set 'data.curriculum=[{"epochs": 1, "groups": ["relation"]}]' --threads 2
expect_failure "group-by on an unknown field" "missing field 'colour'" \
  "$FOCUS_EVAL" --run "$WORK/cross" --group-by colour --out "$WORK/by-colour" --threads 2
expect_failure "bad generator options" "test images" "$FOCUS_DATA" sort-of-clevr --out "$WORK/x" --images 10 --test-images 20
echo "all multimodal end-to-end checks passed"
