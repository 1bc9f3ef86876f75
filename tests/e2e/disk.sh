#!/usr/bin/env bash
# Full disks and read-only output directories: every app that writes fails
# with a clear error naming the file and the reason (exit 1, no crash), leaves
# no temporary files behind and loses nothing already written; after the disk
# is given room again, --resume finishes the run as if nothing had happened.
# Uses a small tmpfs and a read-only bind mount, so it needs root (mount);
# without it the test is skipped.
source "$(dirname "$0")/lib.sh"
: "${FOCUS_HEATMAP:?set by ctest}" "${FOCUS_EXPORT:?set by ctest}" "${FOCUS_DATA:?set by ctest}"
full="$WORK/full" ro="$WORK/ro" ro_source="$WORK/ro-source"
mkdir -p "$full" "$ro" "$ro_source"
if ! mount -t tmpfs -o size=1m focus-e2e "$full" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root); the disk-full and read-only checks did not run"
  exit 77
fi
trap 'umount "$full" 2>/dev/null || umount -l "$full" 2>/dev/null; umount "$ro" 2>/dev/null || umount -l "$ro" 2>/dev/null; rm -rf "$WORK"' EXIT
mount --bind "$ro_source" "$ro"
mount -o remount,ro,bind "$ro"
touch "$ro/probe" 2>/dev/null && fail "the read-only bind mount is writable"

args=(--recipe "$RECIPE" --set train.epochs=2 --set data.limit_train=600 --set data.limit_test=200 "${QUICK[@]:4}")
no_temporaries() {  # no .<name>.tmp<random> file of an atomic write is left behind
  local left
  left=$(find "$1" -name '.*.tmp*' | head -3)
  [ -z "$left" ] || fail "$2: temporary files left behind: $left"
}

# A reference run on the normal disk (also the run the read-only checks use).
umount "$ro"
"$FOCUS_TRAIN" "${args[@]}" --out "$ro_source/run" > /dev/null
mount --bind "$ro_source" "$ro"
mount -o remount,ro,bind "$ro"

# --- Read-only output: each app that writes says so and exits 1.
ro_regex="Read-only file system"
expect_failure "train into a read-only directory" "$ro_regex" "$FOCUS_TRAIN" "${args[@]}" --out "$ro/new-run"
expect_failure "resume in a read-only run" "$ro_regex" "$FOCUS_TRAIN" --resume --out "$ro/run" --threads 2 --no-progress
expect_failure "evaluate a read-only run (the report)" "$ro_regex" "$FOCUS_EVAL" --run "$ro/run" --threads 2
expect_failure "heatmaps into a read-only run" "$ro_regex" "$FOCUS_HEATMAP" --run "$ro/run" --limit 2 --threads 2
expect_failure "export into a read-only directory" "$ro_regex" "$FOCUS_EXPORT" --run "$ro/run" --out "$ro/model.pt" --threads 2
cmp -s "$ro_source/run/checkpoint.pt" "$ro/run/checkpoint.pt" || fail "the read-only run changed"

# --- Disk full during training: the tmpfs holds epoch 1's files but not
# epoch 2's new checkpoint next to the previous one.
checkpoint=$(stat -c %s "$ro_source/run/checkpoint.pt")
total=$(du -sb --apparent-size "$ro_source/run" | cut -f1)
size=$(( (total - checkpoint / 2) / 4096 * 4096 ))
mount -o remount,size=$size "$full"
expect_failure "disk full while training" "No space left on device" "$FOCUS_TRAIN" "${args[@]}" --out "$full/run"
grep -E -q "checkpoint|best|\.pt|metrics" "$WORK/stderr.txt" || fail "the disk-full error does not name the file"
no_temporaries "$full" "disk full while training"
[ -s "$full/run/checkpoint.pt" ] || fail "epoch 1's checkpoint is gone after the disk filled"
epochs=$(wc -l < "$full/run/metrics.jsonl")
[ "$epochs" -ge 1 ] || fail "metrics.jsonl lost epoch 1"
# Room again: --resume finishes, each epoch once, equal to the reference run.
mount -o remount,size=64m "$full"
"$FOCUS_TRAIN" --resume --out "$full/run" --threads 2 --no-progress > /dev/null
"$FOCUS_PYTHON" - "$ro_source/run/metrics.jsonl" "$full/run/metrics.jsonl" <<'PY' || fail "the resumed run differs from the reference"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [e["epoch"] for e in b] == [1, 2], [e["epoch"] for e in b]
for x, y in zip(a, b):
    assert x["train_loss"] == y["train_loss"] and x["val_loss"] == y["val_loss"], (x, y)
PY
pass "disk full while training: checkpoint.pt of epoch 1 intact ($epochs epochs logged); after --resume both epochs equal the reference run"

# --- Disk full for the other writers: a nearly full disk, then each app.
rm -rf "$full/run"
mount -o remount,size=64k "$full"
head -c 40000 /dev/zero > "$full/filler"
expect_failure "export onto a full disk" "No space left on device" "$FOCUS_EXPORT" --run "$ro_source/run" --out "$full/model.pt" --threads 2
[ ! -e "$full/model.pt" ] || fail "a half-written model.pt was left on the full disk"
expect_failure "heatmaps onto a full disk" "No space left on device" "$FOCUS_HEATMAP" --run "$ro_source/run" --out "$full/heatmaps" --limit 4 --threads 2
expect_failure "evaluation report onto a full disk" "No space left on device" "$FOCUS_EVAL" --run "$ro_source/run" --out "$full/eval" --threads 2
expect_failure "dataset onto a full disk" "No space left on device" "$FOCUS_DATA" sort-of-clevr --out "$full/clevr" --images 200 --seed 1
expect_failure "training onto a full disk" "No space left on device" "$FOCUS_TRAIN" "${args[@]}" --out "$full/run2"
no_temporaries "$full" "full disk"
pass "full and read-only disks give clear errors and lose nothing"
