#!/usr/bin/env bash
# Crash-safe training: focus-train is killed with SIGKILL at 10 random moments
# (during epochs, validation or checkpoint writes); after each kill --resume
# continues and loses at most the epoch in progress; no checkpoint is ever
# half-written; the finished run has every epoch once, and equals an
# uninterrupted run of the same recipe.
source "$(dirname "$0")/lib.sh"
args=(--recipe "$RECIPE" --set train.epochs=6 --set data.limit_train=1200 --set data.limit_test=200 "${QUICK[@]:4}")
"$FOCUS_TRAIN" "${args[@]}" --out "$WORK/whole" > /dev/null
RANDOM=${FOCUS_CRASH_SEED:-7}
kills=0 started=0 points=""
while [ "$kills" -lt 10 ]; do
  if [ -s "$WORK/run/checkpoint.pt" ]; then
    before=$("$FOCUS_PYTHON" -c "import sys; print(sum(1 for _ in open(sys.argv[1])))" "$WORK/run/metrics.jsonl")
    "$FOCUS_TRAIN" --resume --out "$WORK/run" --threads 2 --no-progress > /dev/null 2> "$WORK/err" &
  else
    before=0
    "$FOCUS_TRAIN" "${args[@]}" --out "$WORK/run" > /dev/null 2> "$WORK/err" &
  fi
  pid=$!
  started=$((started + 1))
  sleep "0.$(( RANDOM % 10 ))$(( RANDOM % 10 ))"; sleep $(( RANDOM % 3 ))
  if ! kill -0 "$pid" 2>/dev/null; then  # finished (or failed) before the kill
    wait "$pid" || { cat "$WORK/err" >&2; fail "focus-train failed without being killed"; }
    break
  fi
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  kills=$((kills + 1))
  if [ -s "$WORK/run/checkpoint.pt" ]; then
    "$FOCUS_PYTHON" - "$WORK/run/checkpoint.pt" <<'PY' || fail "kill $kills left a corrupt checkpoint.pt"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"FOCUSCK1", "bad magic"
size, _ = struct.unpack("<QQ", data[8:24])
assert len(data) - 24 == size, "truncated"
PY
    epochs=$(wc -l < "$WORK/run/metrics.jsonl")
    [ "$epochs" -ge "$before" ] || fail "kill $kills lost finished epochs ($before before, $epochs after)"
    points="$points $epochs"
  else
    points="$points -"
  fi
done
# Finish the run.
while ! grep -q '"epoch":6' "$WORK/run/metrics.jsonl" 2>/dev/null; do
  if [ -s "$WORK/run/checkpoint.pt" ]; then
    "$FOCUS_TRAIN" --resume --out "$WORK/run" --threads 2 --no-progress > /dev/null
  else
    "$FOCUS_TRAIN" "${args[@]}" --out "$WORK/run" > /dev/null
  fi
done
[ "$(wc -l < "$WORK/run/metrics.jsonl")" -eq 6 ] || fail "metrics.jsonl does not list each of the 6 epochs once"
"$FOCUS_PYTHON" - "$WORK/whole/metrics.jsonl" "$WORK/run/metrics.jsonl" <<'PY' || fail "the killed and resumed run differs from the uninterrupted one"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [e["epoch"] for e in b] == list(range(1, 7)), [e["epoch"] for e in b]
for x, y in zip(a, b):
    assert x["train_loss"] == y["train_loss"] and x["val_loss"] == y["val_loss"], (x, y)
PY
pass "killed $kills times with SIGKILL ($started starts; epochs logged at each kill:$points): every checkpoint whole, no finished epoch lost, the run equals an uninterrupted one"
