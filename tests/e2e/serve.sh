#!/usr/bin/env bash
# focus-serve end to end on an ephemeral port: a Fashion AttnCNN and a spam
# Transformer, exported, served with a token; the Python standard-library
# client checks every endpoint, auth, bad input and batching; curl checks
# health and an upload; SIGTERM with a request in flight answers it and exits 0.
source "$(dirname "$0")/lib.sh"
: "${FOCUS_EXPORT:?set by ctest}" "${FOCUS_SERVE:?set by ctest}" "${FOCUS_DATA:?set by ctest}"
: "${FOCUS_SPAM:=$FOCUS_SOURCE_DIR/data/cache/spamassassin}"
PYTHON=${FOCUS_PYTHON:-/usr/bin/python3}
[ -s "$FOCUS_SPAM/train.jsonl" ] || fail "SpamAssassin splits not found in $FOCUS_SPAM (scripts/setup.sh fetches them)"
command -v curl > /dev/null || fail "curl is missing (scripts/setup.sh installs it)"

"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/fashion-attncnn.json" --out "$WORK/fashion" --set train.epochs=1 \
  --set data.limit_train=600 --set data.limit_test=100 --threads 2 --no-progress > /dev/null
"$FOCUS_TRAIN" --recipe "$FOCUS_SOURCE_DIR/models/spam-transformer.json" --out "$WORK/spam" --set train.epochs=1 \
  --set "data.root=$FOCUS_SPAM" --set data.limit_train=200 --set data.limit_test=50 --set data.max_length=48 \
  --set model.dim=32 --set model.layers=1 --set model.heads=2 --set model.ff_dim=64 --set data.tokenizer.vocab_size=600 \
  --threads 2 --no-progress > /dev/null
"$FOCUS_EXPORT" --run "$WORK/fashion" --out "$WORK/fashion.pt" --verify 8 > /dev/null
"$FOCUS_EXPORT" --run "$WORK/spam" --out "$WORK/spam.pt" --verify 8 > /dev/null
"$FOCUS_DATA" sort-of-clevr --out "$WORK/clevr" --images 2 --test-images 1 > /dev/null
IMAGE="$WORK/clevr/images/test/000000.png"
pass "two models trained and exported"

# start_server LOG ARGS... : runs focus-serve on a free port; sets PID and PORT.
start_server() {
  local log=$1; shift
  "$FOCUS_SERVE" --port 0 --threads 2 "$@" > "$log" 2> "$log.err" &
  PID=$!
  for _ in $(seq 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2> /dev/null || { cat "$log.err"; fail "focus-serve exited at start"; }
    sleep 0.1
  done
  fail "focus-serve did not start listening"
}

start_server "$WORK/serve.log" --model fashion="$WORK/fashion.pt" --model spam="$WORK/spam.pt" --token s3cret \
  --max-body-mib 2 --max-delay-us 5000
"$PYTHON" "$FOCUS_SOURCE_DIR/tests/e2e/serve_client.py" 127.0.0.1 "$PORT" s3cret "$IMAGE" || { cat "$WORK/serve.log.err"; fail "client checks"; }
# Abuse: malformed requests of ten kinds, each a 4xx or a closed connection, valid answers unchanged in between.
"$PYTHON" "$FOCUS_SOURCE_DIR/tests/e2e/serve_abuse.py" 127.0.0.1 "$PORT" s3cret fashion 600 5 > "$WORK/abuse.json" \
  || { cat "$WORK/serve.log.err"; fail "malformed requests"; }
kill -0 "$PID" || fail "focus-serve died under malformed requests"
pass "600 malformed requests: $(cut -c1-60 "$WORK/abuse.json")..."

[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/health/ready")" = 200 ] || fail "curl: ready"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/models/fashion")" = 401 ] || fail "curl: 401 without token"
curl -s -f -H "Authorization: Bearer s3cret" -F "image=@$IMAGE" -F heatmap=png -F top_k=2 \
  "http://127.0.0.1:$PORT/v2/models/fashion/classify" > "$WORK/curl.json" || fail "curl: multipart classify"
grep -q '"png_base64"' "$WORK/curl.json" || fail "curl: no heatmap PNG"
curl -s -f -H "Authorization: Bearer s3cret" "http://127.0.0.1:$PORT/metrics" | grep -q '^focus_queue_depth{model="spam"} 0$' \
  || fail "curl: metrics"
pass "curl: health, 401, multipart classify with a heatmap, metrics"

kill -TERM "$PID"
wait "$PID" || fail "focus-serve exited with $? after SIGTERM"
pass "SIGTERM: exit status 0"

# Graceful stop with a request in flight: it waits 1.5 s in the batcher for company; SIGTERM comes meanwhile.
start_server "$WORK/slow.log" --model fashion="$WORK/fashion.pt" --max-batch-size 64 --max-delay-us 1500000
"$PYTHON" - "$PORT" > "$WORK/inflight.out" <<'PY' &
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
body = {"inputs": [{"name": "images", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [0.5] * 784}]}
c.request("POST", "/v2/models/fashion/infer", json.dumps(body), {"Content-Type": "application/json"})
r = c.getresponse()
print(r.status, len(json.loads(r.read())["outputs"]))
PY
CLIENT=$!
sleep 0.5
kill -TERM "$PID"
wait "$CLIENT" || fail "the in-flight client failed"
wait "$PID" || fail "focus-serve exited with $? after SIGTERM with a request in flight"
[ "$(cat "$WORK/inflight.out")" = "200 2" ] || fail "in-flight request got: $(cat "$WORK/inflight.out")"
! curl -s -m 2 "http://127.0.0.1:$PORT/v2/health/live" > /dev/null || fail "still accepting after SIGTERM"
pass "SIGTERM with a request in flight: answered 200, then exit 0, no longer accepting"

expect_failure "serve: bad --model" "expected NAME=PATH" "$FOCUS_SERVE" --model "$WORK/fashion.pt"
expect_failure "serve: missing file" "no such model file" "$FOCUS_SERVE" --model x="$WORK/none.pt"
expect_failure "serve: duplicate name" "given twice" "$FOCUS_SERVE" --model a="$WORK/fashion.pt" --model a="$WORK/spam.pt" --port 0
