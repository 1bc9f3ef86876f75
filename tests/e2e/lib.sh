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

# free_port : a TCP port free on 127.0.0.1 right now, below Linux's ephemeral
# range (32768+), so that no client socket of this or another test can hold it
# (a client retrying a connect to an ephemeral port can even connect to itself).
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 12000 ))
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || continue   # something listens there
    ! ss -Htan "( sport = :$port )" 2>/dev/null | grep -q . || continue  # any socket on it, any state
    echo "$port"; return 0
  done
  fail "no free TCP port found between 20000 and 32000"
}

# json_get FILE KEY : a top-level numeric value from a 2-space-indented JSON file (no jq needed).
json_get() { grep -o "^  \"$2\": *[0-9.eE+-]*" "$1" | head -n1 | sed 's/.*: *//'; }

# browser_check PAGE NAME MIN_COLOURED REGEX... : renders PAGE in headless
# Chromium (Debian's chromium, installed by scripts/setup.sh) with a fresh
# profile. The 1200x900 screenshot must not be blank (some non-white pixels,
# many distinct colours) and must hold at least MIN_COLOURED saturated pixels
# (heatmap overlays, highlighted tokens); the DOM after the page's scripts ran
# must match every REGEX (the elements the page promises).
browser_check() {
  local page=$1 name=$2 min_coloured=$3; shift 3
  local chromium=${FOCUS_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
  [ -n "$chromium" ] || fail "$name: chromium is not installed (scripts/setup.sh installs it)"
  local dir="$WORK/browser-$name"
  mkdir -p "$dir"
  local flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
               --disable-component-update --disable-sync --hide-scrollbars --window-size=1200,900)
  timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$dir/profile-shot" --screenshot="$dir/shot.png" \
    "file://$page" > "$dir/chromium.log" 2>&1 || { tail -5 "$dir/chromium.log" >&2; fail "$name: chromium could not render $page"; }
  timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$dir/profile-dom" --dump-dom "file://$page" \
    > "$dir/dom.html" 2>> "$dir/chromium.log" || fail "$name: chromium could not load $page"
  "$FOCUS_PYTHON" - "$dir/shot.png" "$min_coloured" <<'PY' || fail "$name: the screenshot ($dir/shot.png) looks wrong"
import sys
import torchvision.io as io
x = io.read_image(sys.argv[1], io.ImageReadMode.RGB).long()  # [3, H, W]
assert tuple(x.shape[1:]) == (900, 1200), x.shape
non_white = (x < 245).any(0).float().mean().item()
colours = len(set((x[0] * 65536 + x[1] * 256 + x[2]).flatten().tolist()))
saturated = ((x.max(0).values - x.min(0).values) > 120).sum().item()
print(f"screenshot: {non_white:.1%} non-white, {colours} colours, {saturated} saturated pixels")
assert non_white > 0.01, "blank page"
assert colours > 50, "too few colours"
assert saturated >= int(sys.argv[2]), "too few coloured pixels"
PY
  local regex
  for regex in "$@"; do
    grep -E -q -- "$regex" "$dir/dom.html" || fail "$name: the rendered page lacks /$regex/"
  done
  pass "$name: rendered by headless Chromium, not blank, $# expected elements present"
}
