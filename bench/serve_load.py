"""A small closed-loop load generator for focus-serve (Python standard library):
CONCURRENCY clients each send Open Inference Protocol requests back to back
for DURATION seconds, one Fashion-MNIST-sized image [1, 1, 28, 28] per request.
Prints one JSON line: requests, errors, throughput (requests/s), and latency
p50/p99 in milliseconds.

  python3 bench/serve_load.py HOST PORT MODEL [CONCURRENCY=32] [DURATION=20]
"""
import http.client
import json
import random
import sys
import threading
import time

host, port, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 32
duration = float(sys.argv[5]) if len(sys.argv) > 5 else 20.0
random.seed(1)
bodies = [json.dumps({"inputs": [{"name": "images", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                  "data": [random.uniform(-1, 2) for _ in range(784)]}]}) for _ in range(16)]
path = f"/v2/models/{model}/infer"
latencies, errors = [], []
lock = threading.Lock()
stop_at = time.monotonic() + duration


def client(k):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    mine, bad = [], 0
    i = k
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        try:
            conn.request("POST", path, bodies[i % len(bodies)], {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
        if ok:
            mine.append(time.monotonic() - t0)
        else:
            bad += 1
        i += 1
    with lock:
        latencies.extend(mine)
        errors.append(bad)


start = time.monotonic()
threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
latencies.sort()
pick = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] if latencies else float("nan")
print(json.dumps({"concurrency": concurrency, "seconds": round(elapsed, 2), "requests": len(latencies),
                  "errors": sum(errors), "throughput": round(len(latencies) / elapsed, 1),
                  "p50_ms": round(pick(0.5), 2), "p99_ms": round(pick(0.99), 2)}))
