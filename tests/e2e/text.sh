#!/usr/bin/env bash
# Text end to end on a small subset of the SpamAssassin corpus: a Transformer
# with a SentencePiece tokenizer, the word-level baseline, masked-LM
# pretraining then fine-tuning from it, evaluation with per-group accuracy,
# and bad text input.
FOCUS_E2E_TEXT=1
source "$(dirname "$0")/lib.sh"
: "${FOCUS_SPAM:=$FOCUS_SOURCE_DIR/data/cache/spamassassin}"
if [ ! -s "$FOCUS_SPAM/train.jsonl" ]; then
  echo "SKIP: SpamAssassin splits not found in $FOCUS_SPAM (scripts/setup.sh runs data/fetch-spamassassin.sh)"
  exit 77
fi
# A small, quick setting: 400 training texts, 200 test texts, a small encoder.
SMALL=(--set "data.root=$FOCUS_SPAM" --set data.limit_train=400 --set data.limit_test=200 --set data.max_length=64
       --set train.epochs=2 --threads 2 --no-progress)
TINY_MODEL=(--set model.dim=32 --set model.layers=1 --set model.heads=2 --set model.ff_dim=64)

"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-transformer.json" --out "$WORK/tr" "${SMALL[@]}" "${TINY_MODEL[@]}" \
  --set data.tokenizer.vocab_size=1000 > "$WORK/train.out"
for f in recipe.json labels.json input.json tokenizer.json tokenizer.model metrics.jsonl best.pt summary.json; do
  [ -s "$WORK/tr/$f" ] || fail "text run directory lacks $f"
done
grep -q '"vocab_size": 1000' "$WORK/tr/input.json" || fail "input.json does not record the 1000-token vocabulary"
pass "text transformer trained with a SentencePiece tokenizer"

"$FOCUS_EVAL" --run "$WORK/tr" --threads 2 > "$WORK/eval.out"
count=$(json_get "$WORK/tr/eval.json" count)
acc=$(json_get "$WORK/tr/eval.json" accuracy)
[ "$count" = "200" ] || fail "evaluated $count texts, expected 200"
awk -v a="$acc" 'BEGIN { exit !(a > 0.7) }' || fail "spam test accuracy $acc is not above 0.7"
grep -q '"hard_ham"' "$WORK/tr/eval.json" || fail "eval.json lacks the per-group accuracy (hard_ham)"
grep -q "spam" "$WORK/tr/report.html" || fail "report.html lacks the class names"
[ "$(wc -l < "$WORK/tr/predictions.jsonl")" -eq 200 ] || fail "predictions.jsonl should have one line per test text"
grep -q '"group":"hard_ham"' "$WORK/tr/predictions.jsonl" || fail "predictions.jsonl lacks the groups"
pass "text evaluation: accuracy $acc on $count texts, per-group accuracy reported"

"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-bow.json" --out "$WORK/bow" "${SMALL[@]}" \
  --set model.bigram_buckets=1000 > /dev/null
grep -q '"kind": "word"' "$WORK/bow/tokenizer.json" || fail "the bag-of-embeddings run has no word tokenizer"
pass "bag-of-embeddings baseline trained with the word tokenizer"

# Interrupt after one epoch and resume: the tokenizer and input come from the run.
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-bow.json" --out "$WORK/bow-r" "${SMALL[@]}" \
  --set model.bigram_buckets=1000 --stop-after 1 > /dev/null
"$FOCUS_TRAIN" --resume --out "$WORK/bow-r" --threads 2 --no-progress > /dev/null
[ "$(wc -l < "$WORK/bow-r/metrics.jsonl")" -eq 2 ] || fail "resumed text run should have 2 epochs in metrics.jsonl"
a=$(grep -o '"val_loss": *[0-9.e-]*' "$WORK/bow/metrics.jsonl" | tail -n1)
b=$(grep -o '"val_loss": *[0-9.e-]*' "$WORK/bow-r/metrics.jsonl" | tail -n1)
[ "$a" = "$b" ] || fail "2 epochs ($a) differ from 1 epoch + resume + 1 epoch ($b)"
pass "text run resumed: same validation loss as an uninterrupted run ($a)"

"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-han.json" --out "$WORK/han" "${SMALL[@]}" \
  --set train.epochs=1 --set data.max_sentences=8 --set data.max_sentence_length=16 > /dev/null
"$FOCUS_EVAL" --run "$WORK/han" --threads 2 > /dev/null
[ -s "$WORK/han/eval.json" ] || fail "HAN run was not evaluated"
pass "hierarchical attention network trained and evaluated"
expect_failure "focus-eval --tta flip on a text run" "needs an image classification run" \
  "$FOCUS_EVAL" --run "$WORK/han" --tta flip --threads 2

# Masked-LM pretraining, then a classifier that starts from its encoder.
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-mlm.json" --out "$WORK/mlm" "${SMALL[@]}" "${TINY_MODEL[@]}" \
  --set train.epochs=1 --set data.tokenizer.vocab_size=1000 > "$WORK/mlm.out" 2> "$WORK/mlm.err"
grep -q '"val_loss"' "$WORK/mlm/metrics.jsonl" || fail "masked-LM run logged no validation loss"
expect_failure "focus-eval on a masked-LM run" "masked-LM pretraining run" "$FOCUS_EVAL" --run "$WORK/mlm" --threads 2
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-finetune.json" --out "$WORK/ft" "${SMALL[@]}" \
  --set train.epochs=1 --set "model.init_from=$WORK/mlm" > /dev/null 2> "$WORK/ft.err"
grep -q "initialised .* encoder tensors from" "$WORK/ft.err" || fail "fine-tuning did not load the pretrained encoder"
cmp -s "$WORK/mlm/tokenizer.model" "$WORK/ft/tokenizer.model" || fail "fine-tuning did not reuse the pretrained tokenizer"
grep -q '"dim": 32' "$WORK/ft/recipe.json" || fail "fine-tuning did not inherit the encoder shape"
expect_failure "init_from with a conflicting width" "pretrained encoder" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-finetune.json" --out "$WORK/ft2" "${SMALL[@]}" \
  --set model.dim=64 --set "model.init_from=$WORK/mlm"
pass "masked-LM pretraining and fine-tuning from it"

# Bad text input: an unknown label in the validation file, a missing column.
mkdir -p "$WORK/bad"
head -n 50 "$FOCUS_SPAM/train.jsonl" > "$WORK/bad/train.jsonl"
{ head -n 3 "$FOCUS_SPAM/val.jsonl"; echo '{"text": "hello", "label": "phishing", "group": "spam"}'; } > "$WORK/bad/val.jsonl"
expect_failure "label outside the training labels" "val.jsonl:4: label 'phishing' is not one of the training labels" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-bow.json" --out "$WORK/bad-run" "${SMALL[@]}" \
  --set "data.root=$WORK/bad"
[ ! -e "$WORK/bad-run" ] || fail "a failed run left $WORK/bad-run behind"
printf 'body,label\n"hi, there",ham\n' > "$WORK/bad/train.csv"
expect_failure "missing text column" "train.csv.*text" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-bow.json" --out "$WORK/bad-run" "${SMALL[@]}" \
  --set "data.root=$WORK/bad" --set data.train=train.csv
expect_failure "tail longer than the text window" "data.tail_length: expected a value in \\[0, max_length 64\\), found 64" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-bow.json" --out "$WORK/bad-run" "${SMALL[@]}" --set data.tail_length=64
expect_failure "token dropout of 1" "data.token_dropout: expected a value in \\[0, 1\\), found 1" \
  "$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-bow.json" --out "$WORK/bad-run" "${SMALL[@]}" --set data.token_dropout=1

# Heatmaps over text: a weight per token with byte offsets, a page, errors.
: "${FOCUS_HEATMAP:?set by ctest}"
"$FOCUS_HEATMAP" --run "$WORK/tr" --limit 3 --out "$WORK/maps" --threads 2 > "$WORK/heatmap.out"
[ -s "$WORK/maps/index.html" ] || fail "the text heatmap page is missing"
grep -q '"begin":' "$WORK/maps/heatmaps.json" || fail "heatmaps.json lacks token offsets"
grep -q '"name": "rollout"' "$WORK/maps/heatmaps.json" || fail "heatmaps.json lacks the rollout map"
grep -q 'class="tok"' "$WORK/maps/index.html" || fail "index.html highlights no token"
pass "text heatmaps: per-token weights with offsets for 3 texts, HTML page"
# The page's script paints every token of the selected map (rollout) when it loads.
browser_check "$WORK/maps/index.html" "text heatmap page" 200 '<select class="map" data-ex="2">' \
  'class="tok" data-i="0" style="background: rgba\(220, 30, 30, [0-9.]+\);" title="[0-9.e-]+"'
"$FOCUS_HEATMAP" --run "$WORK/tr" --evaluate --limit 4 --out "$WORK/eval" --threads 2 > "$WORK/eval.out"
"$FOCUS_PYTHON" - "$WORK/eval/faithfulness.json" <<'PY' || fail "text faithfulness.json is not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["units"] == "tokens", d["units"]
scores = {s["method"]: s for s in d["scores"]}
assert list(scores) == ["attention", "rollout", "grad_rollout", "occlusion", "random"], list(scores)
assert all(s["examples"] + d["skipped_without_tokens"] == 4 for s in scores.values()), scores
assert all(0 <= s["deletion_auc"] <= 1 for s in scores.values())
PY
pass "text --evaluate: deletion/insertion over tokens for 4 methods and the random order"
expect_failure "image method on a text run" "does not apply.*attention, rollout, grad_rollout" \
  "$FOCUS_HEATMAP" --run "$WORK/tr" --method gradcam --out "$WORK/bad-maps" --threads 2
# A model without attention still gets the forward-only method.
"$FOCUS_HEATMAP" --run "$WORK/bow" --limit 2 --out "$WORK/bow-maps" --threads 2 > "$WORK/bow-maps.out"
grep -q '"name": "leave one token out"' "$WORK/bow-maps/heatmaps.json" || fail "bag-of-embeddings heatmaps lack occlusion"
pass "text heatmaps of a model without attention: occlusion"
expect_failure "attention on a model without it" "does not apply.*methods that do: occlusion" \
  "$FOCUS_HEATMAP" --run "$WORK/bow" --method attention --out "$WORK/bad-maps" --threads 2
