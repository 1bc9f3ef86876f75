#!/usr/bin/env bash
# focus-train then focus-eval on a Fashion-MNIST subset: files, metrics, report, ensemble.
source "$(dirname "$0")/lib.sh"

"$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/run" --set train.epochs=3 "${QUICK[@]}" > "$WORK/train.out"
for f in recipe.json labels.json normalization.json metrics.jsonl checkpoint.pt best.pt summary.json; do
  [ -s "$WORK/run/$f" ] || fail "run directory lacks $f"
done
[ "$(wc -l < "$WORK/run/metrics.jsonl")" -eq 3 ] || fail "metrics.jsonl should have 3 lines"
grep -q '"val_accuracy"' "$WORK/run/metrics.jsonl" || fail "metrics.jsonl lacks val_accuracy"
grep -q "Ankle boot" "$WORK/run/labels.json" || fail "labels.json lacks the class names"
grep -q '"limit_train": 3000' "$WORK/run/recipe.json" || fail "recipe.json does not hold the resolved overrides"
pass "training wrote the run directory"

"$FOCUS_EVAL" --run "$WORK/run" --threads 2 > "$WORK/eval.out"
acc=$(json_get "$WORK/run/eval.json" accuracy)
count=$(json_get "$WORK/run/eval.json" count)
[ "$count" = "1000" ] || fail "evaluated $count images, expected 1000"
awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }' || fail "test accuracy $acc is not above 0.6 (chance is 0.1)"
grep -q "macro_f1" "$WORK/run/eval.json" || fail "eval.json lacks macro_f1"
grep -q '"ece"' "$WORK/run/eval.json" || fail "eval.json lacks ece"
head -c 8 "$WORK/run/confusion.png" | od -An -c | grep -q "P   N   G" || fail "confusion.png is not a PNG"
grep -q "Ankle boot" "$WORK/run/report.html" || fail "report.html lacks class names"
grep -q "data:image/png;base64," "$WORK/run/report.html" || fail "report.html does not embed the confusion matrix"
! grep -q -E "(src|href)=\"http" "$WORK/run/report.html" || fail "report.html loads external resources"
grep -q "report.html" "$WORK/eval.out" || fail "focus-eval did not print where the report is"
browser_check "$WORK/run/report.html" "evaluation report" 2000 '<img[^>]*src="data:image/png;base64,' \
  '<td class="diag">' '<div class="card">'
pass "evaluation: accuracy $acc on $count test images"

"$FOCUS_EVAL" --run "$WORK/run" --split val --threads 2 > /dev/null
[ -s "$WORK/run/val-eval.json" ] || fail "--split val did not write val-eval.json"
vcount=$(json_get "$WORK/run/val-eval.json" count)
[ "$vcount" = "300" ] || fail "validation split has $vcount images, expected 300 (10% of 3000)"
pass "validation split evaluated ($vcount images)"

# Flip test-time augmentation: its own output directory, recorded in eval.json, a different NLL.
"$FOCUS_EVAL" --run "$WORK/run" --tta flip --out "$WORK/tta" --threads 2 > /dev/null
grep -q '"tta": "flip"' "$WORK/tta/eval.json" || fail "--tta flip is not recorded in eval.json"
grep -q '"tta": "none"' "$WORK/run/eval.json" || fail "eval.json without --tta does not say tta none"
tacc=$(json_get "$WORK/tta/eval.json" accuracy)
[ "$(json_get "$WORK/tta/eval.json" nll)" != "$(json_get "$WORK/run/eval.json" nll)" ] ||
  fail "--tta flip gave the same NLL as plain evaluation: the mirror images were not used"
awk -v a="$tacc" 'BEGIN { exit !(a > 0.6) }' || fail "accuracy with --tta flip $tacc is not above 0.6"
pass "flip test-time augmentation: accuracy $tacc (plain $acc)"

# A second run with another seed, then an ensemble of both.
"$FOCUS_TRAIN" --recipe "$RECIPE" --out "$WORK/run2" --seed 7 --set train.epochs=1 "${QUICK[@]}" > /dev/null
"$FOCUS_EVAL" --run "$WORK/run" --ensemble "$WORK/run2" --threads 2 > /dev/null
[ -s "$WORK/run/ensemble/eval.json" ] || fail "ensemble did not write run/ensemble/eval.json"
grep -q "run2" "$WORK/run/ensemble/eval.json" || fail "ensemble eval.json does not list its runs"
pass "ensemble of two runs evaluated"
