"""Drives a running focus-serve with the Python standard library only: every
endpoint, auth, each class of bad input, classification with heatmaps, and
dynamic batching under 32 concurrent clients. Exits non-zero on the first
failed check; prints one "ok: ..." line per check."""
import base64
import http.client
import io
import json
import struct
import sys
import threading
import zlib

HOST, PORT, TOKEN, IMAGE_PNG = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
AUTH = {"Authorization": "Bearer " + TOKEN}


def request(method, path, body=None, headers=None, content_type="application/json"):
    conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
    h = dict(headers or {})
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = content_type
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type", ""), data


def check(cond, message):
    if not cond:
        print("FAIL: " + message, file=sys.stderr)
        sys.exit(1)


def expect_error(status, method, path, body=None, headers=AUTH, what=""):
    got, ctype, data = request(method, path, body, headers)
    check(got == status, f"{what}: status {got}, expected {status} ({data[:200]!r})")
    check("application/json" in ctype, f"{what}: error is not JSON ({ctype})")
    check("error" in json.loads(data), f"{what}: no 'error' field")
    print(f"ok: {what} -> {status} {json.loads(data)['error'][:90]}")


def png_size(data):
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    return struct.unpack(">II", data[16:24])


# Health needs no token; everything else does.
for path in ("/v2/health/live", "/v2/health/ready"):
    status, _, data = request("GET", path)
    check(status == 200, f"{path}: {status}")
print("ok: health endpoints answer without a token")
expect_error(401, "GET", "/v2", headers={}, what="no token")
expect_error(401, "GET", "/v2/models/fashion", headers={"Authorization": "Bearer wrong"}, what="wrong token")
expect_error(401, "GET", "/metrics", headers={}, what="metrics without a token")
status, _, data = request("GET", "/v2", headers=AUTH)
check(status == 200 and json.loads(data)["name"] == "focus-serve", "GET /v2")

meta = json.loads(request("GET", "/v2/models/fashion", headers=AUTH)[2])
check(meta["inputs"][0] == {"name": "images", "datatype": "FP32", "shape": [-1, 1, 28, 28]}, f"metadata {meta}")
check(len(meta["parameters"]["labels"]) == 10, "metadata labels")
check(json.loads(request("GET", "/v2/models/spam/ready", headers=AUTH)[2])["ready"] is True, "model ready")
print("ok: server and model metadata, model ready")

# Inference with tensors.
pixels = [((i * 37) % 255) / 255.0 for i in range(2 * 28 * 28)]
body = {"id": "req-1", "inputs": [{"name": "images", "shape": [2, 1, 28, 28], "datatype": "FP32", "data": pixels}]}
status, _, data = request("POST", "/v2/models/fashion/infer", body, AUTH)
check(status == 200, f"infer: {status} {data[:200]!r}")
r = json.loads(data)
check(r["id"] == "req-1" and r["model_name"] == "fashion", "infer id/model")
out = {o["name"]: o for o in r["outputs"]}
check(out["logits"]["shape"] == [2, 10] and len(out["logits"]["data"]) == 20, "logits shape")
check(abs(sum(out["probabilities"]["data"][:10]) - 1) < 1e-4, "probabilities sum to 1")
print("ok: infer on images [2, 1, 28, 28] -> logits and probabilities [2, 10]")

texts = ["WIN a FREE prize now, click here", "see you at the meeting tomorrow"]
body = {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": texts}], "outputs": [{"name": "probabilities"}]}
status, _, data = request("POST", "/v2/models/spam/infer", body, AUTH)
check(status == 200, f"text infer: {status} {data[:300]!r}")
r = json.loads(data)
check([o["name"] for o in r["outputs"]] == ["probabilities"] and r["outputs"][0]["shape"] == [2, 2], "text outputs")
body = {"inputs": [{"name": "ids", "shape": [1, 3], "datatype": "INT64", "data": [2, 7, 9]},
                   {"name": "mask", "shape": [1, 3], "datatype": "BOOL", "data": [True, True, True]}]}
status, _, data = request("POST", "/v2/models/spam/infer", body, AUTH)
check(status == 200, f"ids infer: {status} {data[:300]!r}")
print("ok: infer on texts (BYTES, tokenized by the server) and on token ids + mask")

# Classification with heatmaps.
status, _, data = request("POST", "/v2/models/spam/classify", {"text": texts[0], "top_k": 2, "heatmap": "weights"}, AUTH)
check(status == 200, f"classify text: {status} {data[:300]!r}")
r = json.loads(data)
check(len(r["predictions"]) == 2 and r["predictions"][0]["label"] in ("ham", "spam"), "text predictions")
tokens = r["heatmap"]["tokens"]
check(tokens and all(texts[0].encode()[t["begin"]:t["end"]].decode() == t["text"] for t in tokens), "token offsets")
print(f"ok: classify text: {r['predictions'][0]['label']} with {len(tokens)} token weights ({r['heatmap']['map']})")

image = open(IMAGE_PNG, "rb").read()
status, _, data = request("POST", "/v2/models/fashion/classify",
                          {"image": base64.b64encode(image).decode(), "heatmap": "png"}, AUTH)
check(status == 200, f"classify image: {status} {data[:300]!r}")
r = json.loads(data)
check(png_size(base64.b64decode(r["heatmap"]["png_base64"])) == (28, 28), "heatmap PNG is 28x28")
check(len(r["predictions"]) == 5, "default top_k 5")
print(f"ok: classify image: {r['predictions'][0]['label']}, heatmap PNG 28x28 from {r['heatmap']['map']}")

boundary = "focusboundary"
parts = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n"
         f"Content-Type: image/png\r\n\r\n").encode() + image + \
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"top_k\"\r\n\r\n3\r\n--{boundary}--\r\n".encode()
status, _, data = request("POST", "/v2/models/fashion/classify", parts,
                          dict(AUTH, **{"Content-Type": f"multipart/form-data; boundary={boundary}"}))
check(status == 200 and len(json.loads(data)["predictions"]) == 3, f"multipart upload: {status} {data[:200]!r}")
print("ok: classify a multipart image upload")

# Bad input: a clear 4xx each time, and the server keeps serving.
expect_error(400, "POST", "/v2/models/fashion/infer", "{not json", what="invalid JSON")
expect_error(400, "POST", "/v2/models/fashion/infer",
             {"inputs": [{"name": "images", "shape": [1, 1, 27, 28], "datatype": "FP32", "data": [0] * 756}]},
             what="wrong shape")
expect_error(400, "POST", "/v2/models/fashion/infer",
             {"inputs": [{"name": "images", "shape": [1, 1, 28, 28], "datatype": "BYTES", "data": ["x"] * 784}]},
             what="wrong datatype")
expect_error(400, "POST", "/v2/models/fashion/infer",
             {"inputs": [{"name": "images", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [0] * 10}]},
             what="data length not the shape's")
expect_error(400, "POST", "/v2/models/spam/infer",
             {"inputs": [{"name": "ids", "shape": [1, 2], "datatype": "INT64", "data": [2, 999999]},
                         {"name": "mask", "shape": [1, 2], "datatype": "BOOL", "data": [True, True]}]},
             what="token id out of the vocabulary")
expect_error(404, "POST", "/v2/models/nope/infer", {"inputs": []}, what="unknown model")
expect_error(404, "GET", "/v3/whatever", what="unknown endpoint")
expect_error(400, "POST", "/v2/models/fashion/classify", {"text": "hello"}, what="classify: text for an image model")
expect_error(400, "POST", "/v2/models/fashion/classify", {"image": "%%%"}, what="classify: bad base64")
expect_error(400, "POST", "/v2/models/fashion/classify", {"image": base64.b64encode(b"not a png").decode()},
             what="classify: undecodable image")
expect_error(413, "POST", "/v2/models/fashion/infer", "x" * (3 << 20), what="body over the limit")
check(request("GET", "/v2/health/live")[0] == 200, "server died after bad input")
print("ok: still serving after every bad input")

# Dynamic batching under 32 concurrent clients.
errors = []
one = {"inputs": [{"name": "images", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": pixels[:784]}]}


def client():
    for _ in range(8):
        s, _, d = request("POST", "/v2/models/fashion/infer", one, AUTH)
        if s != 200:
            errors.append((s, d[:100]))


threads = [threading.Thread(target=client) for _ in range(32)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(not errors, f"concurrent requests failed: {errors[:3]}")
metrics = request("GET", "/metrics", headers=AUTH)[2].decode()
def value(prefix):
    for line in metrics.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    check(False, f"/metrics lacks {prefix}")
batches = value('focus_batch_size_count{model="fashion"}')
singles = value('focus_batch_size_bucket{model="fashion",le="1"}')
examples = value('focus_batch_size_sum{model="fashion"}')
check(examples >= 256 and batches < examples and singles < batches, f"no batching: {batches} batches, {singles} of 1")
check(value('focus_requests_total{model="fashion",code="200"}') >= 256, "requests_total")
check(value('focus_requests_total{model="fashion",code="400"}') >= 4, "4xx counted")
check("focus_request_duration_seconds_bucket" in metrics and 'focus_queue_depth{model="fashion"}' in metrics, "histograms")
print(f"ok: 256 concurrent requests in {batches:.0f} forward calls ({examples / batches:.1f} examples per call)")
