#!/usr/bin/env bash
# focus-heatmap end to end on a small Fashion-MNIST run: every method that
# applies writes an overlay PNG of the input's size and a .npy map per example,
# a grid and an index page; inapplicable methods and unknown classes are clear
# errors.
source "$(dirname "$0")/lib.sh"
: "${FOCUS_HEATMAP:?set by ctest}"

# png_size FILE: "WIDTH HEIGHT" from the PNG header.
png_size() {
  od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%d %d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'
}

"$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/run" "${QUICK[@]}" --set train.epochs=1 > /dev/null
"$FOCUS_HEATMAP" --run "$WORK/run" --limit 3 --out "$WORK/maps" --threads 2 > "$WORK/heatmap.out"
for i in 00000 00001 00002; do
  for m in attention gradcam occlusion; do
    [ -s "$WORK/maps/$i-$m.png" ] || fail "missing $i-$m.png"
    [ "$(png_size "$WORK/maps/$i-$m.png")" = "28 28" ] || fail "$i-$m.png is $(png_size "$WORK/maps/$i-$m.png"), expected 28 28"
    head -c 6 "$WORK/maps/$i-$m.npy" | grep -q NUMPY || fail "$i-$m.npy is not a NumPy file"
  done
  [ -s "$WORK/maps/$i-grid.png" ] || fail "missing $i-grid.png"
done
grep -q '00002-gradcam.png' "$WORK/maps/index.html" || fail "index.html does not link the maps"
grep -q '"source": "stage2"' "$WORK/maps/heatmaps.json" || fail "heatmaps.json does not name the Grad-CAM stage"
grep -q "index: $WORK/maps/index.html" "$WORK/heatmap.out" || fail "focus-heatmap did not print the index path"
pass "heatmaps: attention, gradcam and occlusion for 3 test images, 28x28 overlays, .npy maps, grid, index"
browser_check "$WORK/maps/index.html" "image heatmap page" 3000 '<img class="map" src="00002-occlusion.png"' \
  '<a href="00000-grid.png">grid</a>'

"$FOCUS_HEATMAP" --run "$WORK/run" --first 5 --limit 1 --method gradcam --layer stage1 --class Sneaker \
  --out "$WORK/one" --threads 2 > /dev/null
grep -q '"target": "Sneaker"' "$WORK/one/heatmaps.json" || fail "--class Sneaker was not the explained class"
grep -q '"index": 5' "$WORK/one/heatmaps.json" || fail "--first 5 did not start at example 5"
pass "--class, --first, --layer"

# --evaluate: deletion and insertion AUC per method and for a random order.
"$FOCUS_HEATMAP" --run "$WORK/run" --evaluate --limit 12 --steps 28 --out "$WORK/eval" --threads 2 > "$WORK/eval.out"
"$FOCUS_PYTHON" - "$WORK/eval/faithfulness.json" <<'PY' || fail "faithfulness.json is not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "deletion_insertion" and d["steps"] == 28, d["kind"]
scores = {s["method"]: s for s in d["scores"]}
assert list(scores) == ["attention", "gradcam", "occlusion", "random"], list(scores)
for s in scores.values():
    assert s["examples"] == 12, s
    assert 0 <= s["deletion_auc"] <= 1 and 0 <= s["insertion_auc"] <= 1, s
assert len(d["examples"]) == 12 and all("random" in e for e in d["examples"])
# Per predicted class: the examples of each class add up to all of them.
by_class = d["by_predicted_class"]
assert sum(rows[0]["examples"] for rows in by_class.values()) == 12, by_class
assert set(by_class) == {e["predicted"] for e in d["examples"]}
# Each example's areas are the mean's terms.
mean = sum(e["attention"]["deletion_auc"] for e in d["examples"]) / 12
assert abs(mean - scores["attention"]["deletion_auc"]) < 1e-9
PY
grep -q "deletion vs random" "$WORK/eval.out" || fail "--evaluate printed no table"
pass "--evaluate: deletion/insertion AUC for 12 images, 3 methods and the random baseline"
expect_failure "--steps without --evaluate" "--steps applies to --evaluate" \
  "$FOCUS_HEATMAP" --run "$WORK/run" --steps 5 --out "$WORK/bad" --threads 2
expect_failure "--class with --evaluate" "predicted class" \
  "$FOCUS_HEATMAP" --run "$WORK/run" --evaluate --class Sneaker --out "$WORK/bad" --threads 2

expect_failure "method that does not apply" "does not apply.*attention, gradcam, occlusion" \
  "$FOCUS_HEATMAP" --run "$WORK/run" --method rollout --out "$WORK/bad" --threads 2
expect_failure "unknown class" "not a class name or index" \
  "$FOCUS_HEATMAP" --run "$WORK/run" --class Giraffe --out "$WORK/bad" --threads 2
expect_failure "unknown stage" "no such convolution stage.*stage1, stage2\\)" \
  "$FOCUS_HEATMAP" --run "$WORK/run" --method gradcam --layer stage7 --out "$WORK/bad" --threads 2
[ ! -e "$WORK/bad" ] || fail "a failed run left output behind"
echo "all heatmap end-to-end checks passed"
