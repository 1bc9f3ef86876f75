#!/usr/bin/env bash
# Interrupt after epoch 1, resume to epoch 2; refuse to overwrite a run; a
# corrupt checkpoint is reported when resuming.
source "$(dirname "$0")/lib.sh"
args=(--recipe "$RECIPE" --set train.epochs=2 --set data.limit_train=1500 "${QUICK[@]:2}")

"$FOCUS_TRAIN" "${args[@]}" --out "$WORK/full" > /dev/null
"$FOCUS_TRAIN" "${args[@]}" --out "$WORK/split" --stop-after 1 > /dev/null
[ "$(wc -l < "$WORK/split/metrics.jsonl")" -eq 1 ] || fail "--stop-after 1 should leave one epoch"
"$FOCUS_TRAIN" --resume --out "$WORK/split" --threads 2 --no-progress > /dev/null
[ "$(wc -l < "$WORK/split/metrics.jsonl")" -eq 2 ] || fail "resume should add the second epoch"
# Same seed, same data order, restored RNG: the resumed run's epoch-2 loss equals the uninterrupted one's.
l_full=$(tail -n1 "$WORK/full/metrics.jsonl" | grep -o '"train_loss":[0-9.eE+-]*')
l_split=$(tail -n1 "$WORK/split/metrics.jsonl" | grep -o '"train_loss":[0-9.eE+-]*')
[ "$l_full" = "$l_split" ] || fail "resumed epoch 2 differs: $l_full vs $l_split"
pass "resumed run matches the uninterrupted one ($l_full)"

expect_failure "existing run is not overwritten" "already holds a run" \
  "$FOCUS_TRAIN" "${args[@]}" --out "$WORK/full"

cp "$WORK/split/recipe.json" "$WORK/recipe-before.json"
expect_failure "model change on resume" "model.stem_channels cannot change on --resume" \
  "$FOCUS_TRAIN" --resume --out "$WORK/split" --set model.stem_channels=64 --threads 2 --no-progress
expect_failure "seed change on resume" "--seed cannot change on --resume" \
  "$FOCUS_TRAIN" --resume --out "$WORK/split" --seed 5 --threads 2 --no-progress
cmp -s "$WORK/recipe-before.json" "$WORK/split/recipe.json" || fail "a refused resume changed recipe.json"

printf 'garbage' | dd of="$WORK/split/checkpoint.pt" bs=1 seek=200 conv=notrunc status=none
expect_failure "corrupt checkpoint" "checkpoint.pt.*corrupt" \
  "$FOCUS_TRAIN" --resume --out "$WORK/split" --threads 2 --no-progress
grep -q "older valid checkpoint exists: .*checkpoint.prev.pt (after epoch 1)" "$WORK/stderr.txt" \
  || fail "the corrupt checkpoint's error does not offer the previous epoch's"
"$FOCUS_TRAIN" --resume --from checkpoint.prev.pt --out "$WORK/split" --threads 2 --no-progress > /dev/null
[ "$(wc -l < "$WORK/split/metrics.jsonl")" -eq 2 ] || fail "resuming from checkpoint.prev.pt should redo epoch 2 only"
l_again=$(tail -n1 "$WORK/split/metrics.jsonl" | grep -o '"train_loss":[0-9.eE+-]*')
[ "$l_full" = "$l_again" ] || fail "epoch 2 redone from the previous checkpoint differs: $l_full vs $l_again"
pass "corrupt checkpoint.pt: the previous epoch's is offered, and resuming from it redoes epoch 2 exactly"
head -c 1000 "$WORK/full/checkpoint.pt" > "$WORK/cut.pt" && mv "$WORK/cut.pt" "$WORK/full/checkpoint.pt"
expect_failure "truncated checkpoint" "checkpoint.pt.*(truncated|corrupt)" \
  "$FOCUS_TRAIN" --resume --out "$WORK/full" --threads 2 --no-progress
