#!/usr/bin/env bash
# Data-parallel training end to end: two focus-train processes joined through
# the torchrun environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) on
# loopback, with batch B each, give the model one process gives with batch 2B
# (SGD, no augmentation or dropout); only rank 0 writes; the group resumes
# together; a missing or killed rank is a clear error within the timeout.
source "$(dirname "$0")/lib.sh"
SMALL=(--recipe "$FOCUS_SOURCE_DIR/models/fashion-vit.json" --set data.limit_train=2560 --set data.limit_test=300
       --set data.augment.enabled=false --set model.dropout=0 --set model.layers=1 --set train.epochs=2
       --set train.optimizer.name=sgd --set train.optimizer.momentum=0.9 --set train.optimizer.lr=0.05
       --set train.optimizer.weight_decay=0 --threads 1 --no-progress)

# group NAME ARGS...: two ranks run focus-train ARGS --out $WORK/NAME.
group() {
  local name=$1 port; shift
  port=$(free_port)
  WORLD_SIZE=2 RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$FOCUS_TRAIN" "$@" \
    --out "$WORK/$name" > "$WORK/$name-rank1.out" 2> "$WORK/$name-rank1.err" &
  local other=$!
  WORLD_SIZE=2 RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$FOCUS_TRAIN" "$@" \
    --out "$WORK/$name" > "$WORK/$name-rank0.out" 2> "$WORK/$name-rank0.err" || { cat "$WORK/$name-rank0.err" >&2; fail "rank 0 of $name failed"; }
  wait "$other" || { cat "$WORK/$name-rank1.err" >&2; fail "rank 1 of $name failed"; }
}

"$FOCUS_TRAIN" "${SMALL[@]}" --set train.batch_size=64 --out "$WORK/single" > /dev/null
group pair "${SMALL[@]}" --set train.batch_size=32
[ ! -s "$WORK/pair-rank1.out" ] || fail "rank 1 printed a summary (only rank 0 reports)"
grep -q '"processes": 2' "$WORK/pair/summary.json" || fail "summary.json does not record 2 processes"
[ "$(wc -l < "$WORK/pair/metrics.jsonl")" -eq 2 ] || fail "metrics.jsonl should have one line per epoch, written once"
grep -q "rank 0 of 2" "$WORK/pair-rank0.err" || fail "rank 0 did not report the group"

# compare A B: focus-eval both; the test-set probabilities must agree.
compare() {
  "$FOCUS_EVAL" --run "$WORK/$1" --threads 1 > /dev/null
  "$FOCUS_EVAL" --run "$WORK/$2" --threads 1 > /dev/null
  "$FOCUS_PYTHON" - "$WORK/$1/predictions.jsonl" "$WORK/$2/predictions.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 300, (len(a), len(b))
assert all(ra["predicted"] == rb["predicted"] for ra, rb in zip(a, b)), "different predictions"
worst = max(abs(ra["probability"] - rb["probability"]) for ra, rb in zip(a, b))
print(f"largest probability difference: {worst:.2e}")
assert worst < 1e-4, worst
PY
}
compare single pair || fail "2 processes x batch 32 do not match 1 process x batch 64"
pass "2 ranks x batch 32 over Gloo give the same model as 1 process x batch 64"

# Resume: the group stops after epoch 1 and continues together.
group halves "${SMALL[@]}" --set train.batch_size=32 --stop-after 1
[ "$(wc -l < "$WORK/halves/metrics.jsonl")" -eq 1 ] || fail "--stop-after 1 did not stop after epoch 1"
group halves --resume --threads 1 --no-progress
compare single halves || fail "the resumed group does not match the uninterrupted single process"
pass "the group resumes from rank 0's checkpoint and ends where one process ends"

# A rank that never comes: the rendezvous fails within --dist-timeout and leaves no run behind.
start=$(date +%s)
expect_failure "missing rank" "(rendezvous at|cannot connect the Gloo process group through) 127.0.0.1:[0-9]+.* within 3 s" \
  env WORLD_SIZE=2 RANK=0 MASTER_PORT=$(free_port) "$FOCUS_TRAIN" "${SMALL[@]}" --dist-timeout 3 --out "$WORK/alone"
[ $(( $(date +%s) - start )) -lt 60 ] || fail "the missing rank was noticed too late"
[ ! -e "$WORK/alone" ] || fail "a failed rendezvous left a run directory"

# A rank killed during training: the other fails with a clear error, not a hang.
port=$(free_port)
LONG=(--set train.epochs=50 --set train.batch_size=32)
WORLD_SIZE=2 RANK=1 MASTER_PORT=$port "$FOCUS_TRAIN" "${SMALL[@]}" "${LONG[@]}" --out "$WORK/killed" > /dev/null 2>&1 &
victim=$!
WORLD_SIZE=2 RANK=0 MASTER_PORT=$port timeout 120 "$FOCUS_TRAIN" "${SMALL[@]}" "${LONG[@]}" --dist-timeout 20 \
  --out "$WORK/killed" > /dev/null 2> "$WORK/killed.err" &
survivor=$!
for _ in $(seq 1 600); do [ -s "$WORK/killed/metrics.jsonl" ] && break; sleep 0.1; done
[ -s "$WORK/killed/metrics.jsonl" ] || fail "the group did not finish an epoch"
kill -9 "$victim"
rc=0
wait "$survivor" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { cat "$WORK/killed.err" >&2; fail "rank 0 exited with $rc after rank 1 was killed (124 = hung)"; }
grep -q "another rank died or stopped answering" "$WORK/killed.err" || { cat "$WORK/killed.err" >&2; fail "rank 0's error does not say what happened"; }
pass "rank 1 killed: rank 0 fails with: $(grep -m1 -o 'rank 0: .*answering' "$WORK/killed.err")"
echo "all distributed end-to-end checks passed"
