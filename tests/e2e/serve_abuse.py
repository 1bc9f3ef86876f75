#!/usr/bin/env python3
"""Malformed requests against a running focus-serve (standard library only).

    serve_abuse.py HOST PORT TOKEN MODEL COUNT [SEED]

MODEL is an image model (1 x 28 x 28 inputs) served as that name. Sends COUNT
malformed requests drawn from ten classes (random bytes, truncated JSON, wrong
types and shapes, huge dimensions, size bombs, deep nesting, unknown routes and
methods, slow or abandoned bodies, bad tokens, oversized headers); each must be
answered with a 4xx or a closed connection, never a 5xx, and never a hang. After
every 25 of them a valid request must get exactly the first answer again.
Prints one JSON line with the counts; exits 1 on any failure.
"""
import http.client
import json
import random
import socket
import sys
import time

HOST, PORT, TOKEN, MODEL, COUNT = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
rng = random.Random(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
AUTH = "Bearer " + TOKEN
INFER = f"/v2/models/{MODEL}/infer"


def valid_body():
    return {"inputs": [{"name": "images", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [0.25] * 784}]}


def raw(payload, pause=0.0, split=None, half_close=False):
    """Sends bytes on a fresh connection; returns the status code, or None for a closed connection.
    half_close: the request is incomplete, so say that nothing more comes (else the server waits for its read timeout)."""
    s = socket.create_connection((HOST, PORT), timeout=30)
    try:
        if split is None:
            s.sendall(payload)
        else:
            s.sendall(payload[:split])
            time.sleep(pause)
            s.sendall(payload[split:])
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while True:  # until the server closes, or one whole response has arrived (it may keep the connection)
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")[1:] if l.lower().startswith(b"content-length:")]
                if len(body) >= (length[0] if length else 0):
                    break
    except (ConnectionResetError, BrokenPipeError):
        return None
    finally:
        s.close()
    if not data:
        return None
    line = data.split(b"\r\n", 1)[0].split()
    if len(line) < 2 or not line[1].isdigit():
        raise AssertionError(f"not an HTTP response: {data[:80]!r}")
    return int(line[1])


def http_request(method, path, body, headers):
    return b"%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
        method.encode(), path.encode(), b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items()),
        len(body), body)


def auth_json():
    return {"Authorization": AUTH, "Content-Type": "application/json"}


def mutate(body):
    x = body["inputs"][0]
    choice = rng.randrange(10)
    if choice == 0:
        x["datatype"] = rng.choice(["INT8", "BYTES", "", "fp32", 7, None])
    elif choice == 1:
        x["shape"] = rng.choice([[1, 1, 28], [1, 1, 28, 27], [-1, 1, 28, 28], [0, 1, 28, 28], [1, 3, 28, 28], "1x28", [1.5, 1, 28, 28]])
    elif choice == 2:
        x["data"] = rng.choice(["zeros", {"a": 1}, [None] * 784, [[0.1] * 27] * 28, [0.1] * 783, ["x"] * 784])
    elif choice == 3:
        del x[rng.choice(["name", "shape", "datatype", "data"])]
    elif choice == 4:
        body["inputs"] = rng.choice([{}, "images", [], [1, 2], None])
    elif choice == 5:
        x["name"] = rng.choice(["", "ids", "image", "x" * 10000])
    elif choice == 6:
        body["outputs"] = rng.choice([[{"name": "nope"}], "logits", [{}], [{"name": 5}]])
    elif choice == 7:
        x["shape"] = [rng.choice([10**9, 2**31, 2**40, 10**18]), 1, 28, 28]
    elif choice == 8:
        body = rng.choice([[], 5, "text", None, {"inputs": [x, x, x]}])
    else:
        x["data"] = [rng.choice(["NaN", "1e999", True])] * 784
    return body


def dumps(body):
    return json.dumps(body, allow_nan=True).encode()


def one_malformed(kind):
    if kind == "random_bytes":
        return raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2048))), half_close=True)
    if kind == "truncated_json":
        body = dumps(valid_body())
        cut = body[: rng.randrange(1, len(body) - 1)]
        return raw(http_request("POST", INFER, cut, auth_json()))
    if kind == "wrong_types":
        body = dumps(mutate(valid_body()))
        status = raw(http_request("POST", INFER, body, auth_json()))
        if status == 200:
            print(f"accepted: {body[:300]!r}", file=sys.stderr)
        return status
    if kind == "size_bomb":
        headers = auth_json()
        if rng.random() < 0.5:  # claims a huge body, sends little
            return raw(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n{\"inputs\": [" % (INFER.encode(), AUTH.encode(), rng.choice([10**9, 10**12, 2**63 - 1])),
                       half_close=True)
        body = b'{"inputs": [{"name": "images", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [' + b"0," * 1_500_000 + b"0]}]}"
        return raw(http_request("POST", INFER, body, headers))
    if kind == "deep_nesting":
        depth = rng.choice([33, 100, 1000, 100000])
        return raw(http_request("POST", INFER, b'{"inputs": ' + b"[" * depth + b"]" * depth + b"}", auth_json()))
    if kind == "unknown_route":
        path = rng.choice(["/", "/v3", "/v2/models/nope/infer", "/v2/models/%s/../../etc/passwd" % MODEL, "/v2/models//infer",
                           "/v2/models/" + "a" * 5000, "/metrics/x", "/v2/models/%s/infer/extra" % MODEL, "/%00", "/v2/models/../" + MODEL])
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"])
        return raw(http_request(method, path, b"{}", auth_json()))
    if kind == "slow_body":
        payload = http_request("POST", INFER, dumps(mutate(valid_body())), auth_json())
        return raw(payload, pause=rng.choice([0.01, 0.05, 0.2]), split=rng.randrange(10, len(payload) - 1))
    if kind == "abandoned":
        s = socket.create_connection((HOST, PORT), timeout=5)
        payload = http_request("POST", INFER, dumps(valid_body()), auth_json())
        s.sendall(payload[: rng.randrange(1, len(payload) - 1)])
        s.close()  # the client goes away mid-request
        return None
    if kind == "bad_token":
        headers = {"Content-Type": "application/json"}
        if rng.random() < 0.7:
            headers["Authorization"] = rng.choice(["Bearer " + TOKEN[:-1], "Bearer", "Basic " + TOKEN, AUTH + "x", "bearer " + TOKEN])
        return raw(http_request("POST", INFER, dumps(valid_body()), headers))
    if kind == "huge_header":
        headers = auth_json()
        headers["X-Junk"] = "a" * rng.choice([10_000, 100_000, 1_000_000])
        return raw(http_request("POST", INFER, dumps(valid_body()), headers))
    raise ValueError(kind)


KINDS = ["random_bytes", "truncated_json", "wrong_types", "size_bomb", "deep_nesting", "unknown_route", "slow_body",
         "abandoned", "bad_token", "huge_header"]


def good():
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("POST", INFER, json.dumps(valid_body()), {"Authorization": AUTH, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise AssertionError(f"valid request got {r.status}: {data[:200]!r}")
    return json.loads(data)["outputs"]


def main():
    reference = good()
    counts = {k: {"sent": 0, "4xx": 0, "closed": 0} for k in KINDS}
    valid = 0
    start = time.time()
    for i in range(COUNT):
        kind = rng.choice(KINDS)
        status = one_malformed(kind)
        counts[kind]["sent"] += 1
        if status is None:
            counts[kind]["closed"] += 1
        elif 400 <= status < 500:
            counts[kind]["4xx"] += 1
        else:
            print(f"FAIL: {kind} request {i} got HTTP {status}", file=sys.stderr)
            return 1
        if i % 25 == 24:
            if good() != reference:
                print(f"FAIL: a valid request after {i + 1} malformed ones got a different answer", file=sys.stderr)
                return 1
            valid += 1
    print(json.dumps({"malformed": COUNT, "valid_checked": valid, "seconds": round(time.time() - start, 1),
                      "by_kind": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
