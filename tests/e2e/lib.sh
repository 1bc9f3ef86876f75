# Shared helpers for the end-to-end tests. Each test runs in its own
# temporary directory, removed on exit.
set -euo pipefail
: "${FOCUS_TRAIN:?set by ctest}" "${FOCUS_EVAL:?set by ctest}" "${FOCUS_SOURCE_DIR:?set by ctest}"
: "${FOCUS_FASHION:=/usr/share/datasets/fashion-mnist}"
if [ -z "${FOCUS_E2E_TEXT:-}${FOCUS_E2E_NO_FASHION:-}" ] && [ ! -s "$FOCUS_FASHION/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: Fashion-MNIST not found in $FOCUS_FASHION (scripts/setup.sh installs dataset-fashion-mnist)"
  exit 77
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/focus-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RECIPE="$FOCUS_SOURCE_DIR/models/fashion-attncnn.json"
# Small and quick: a 3000-image subset, 1000 test images.
QUICK=(--set data.limit_train=3000 --set data.limit_test=1000 --set train.batch_size=64 --set train.schedule.warmup_epochs=0.3
       --threads 2 --no-progress)

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# expect_failure NAME REGEX CMD... : CMD must exit non-zero and print REGEX on stderr.
expect_failure() {
  local name=$1 regex=$2; shift 2
  local err="$WORK/stderr.txt" rc=0
  timeout 300 "$@" >"$WORK/stdout.txt" 2>"$err" || rc=$?
  [ "$rc" -ne 124 ] || fail "$name: timed out (the command did not fail fast)"
  [ "$rc" -ne 0 ] || fail "$name: exit status 0, expected failure"
  grep -E -q -- "$regex" "$err" || { cat "$err" >&2; fail "$name: stderr does not match /$regex/"; }
  ! grep -q -E "terminate called|Segmentation|core dumped|Aborted" "$err" || fail "$name: crashed"
  pass "$name (exit $rc): $(grep -m1 error "$err" || true)"
}

# json_get FILE KEY : a top-level numeric value from a 2-space-indented JSON file (no jq needed).
json_get() { grep -o "^  \"$2\": *[0-9.eE+-]*" "$1" | head -n1 | sed 's/.*: *//'; }
