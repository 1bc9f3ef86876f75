#!/usr/bin/env python3
"""Mixed concurrent load on a running focus-serve, for docs/RELIABILITY.md.

    serve_soak.py HOST PORT TOKEN MODEL SERVER_PID SECONDS [THREADS=8]

Threads send, for SECONDS: valid OIP infer requests (70%; an answer counts as
correct within 1e-4 of the first one, since dynamic batching changes the last
bits), malformed ones (20%, from tests/e2e/serve_abuse.py's kinds) and
metadata/metrics requests (10%).
Samples the server's RSS (/proc/PID/status) every 5 s. Prints one JSON line:
requests by kind, errors on valid requests, p50/p99 latency of valid infer
requests, RSS after a warm-up (the first 20% of the time) and at the end.
"""
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
HOST, PORT, TOKEN, MODEL, PID, SECONDS = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
THREADS = int(sys.argv[7]) if len(sys.argv) > 7 else 8
sys.argv = [sys.argv[0], HOST, str(PORT), TOKEN, MODEL, "0", "1"]
import serve_abuse  # noqa: E402  (reads its own sys.argv)

AUTH = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}


def close_to(outputs, reference, tolerance=1e-4):
    """Same outputs up to float rounding: a request batched with others may differ in the last bits."""
    if [o["name"] for o in outputs] != [o["name"] for o in reference]:
        return False
    return all(abs(a - b) <= tolerance for o, r in zip(outputs, reference) for a, b in zip(o["data"], r["data"]))


def rss_kib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    stop = time.time() + SECONDS
    lock = threading.Lock()
    stats = {"valid": 0, "valid_errors": 0, "malformed": 0, "malformed_5xx": 0, "other": 0, "stale_connection_retries": 0}
    error_kinds = {}  # what the failed valid requests got
    latency = []
    reference = serve_abuse.good()

    def worker(seed):
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
        while time.time() < stop:
            r = rng.random()
            try:
                if r < 0.7:
                    t = time.perf_counter()
                    body = json.dumps(serve_abuse.valid_body())
                    try:
                        conn.request("POST", f"/v2/models/{MODEL}/infer", body, AUTH)
                    except (BrokenPipeError, ConnectionResetError):
                        # The server closes keep-alive connections idle for 5 s (a worker
                        # busy with slow malformed requests leaves its own idle); like
                        # HTTP client libraries, send again once on a fresh connection.
                        conn.close()
                        conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
                        with lock:
                            stats["stale_connection_retries"] += 1
                        conn.request("POST", f"/v2/models/{MODEL}/infer", body, AUTH)
                    resp = conn.getresponse()
                    data = resp.read()
                    ok = resp.status == 200 and close_to(json.loads(data)["outputs"], reference)
                    with lock:
                        stats["valid"] += 1
                        stats["valid_errors"] += 0 if ok else 1
                        if not ok:
                            kind = f"HTTP {resp.status}: {data[:80].decode(errors='replace')}"
                            error_kinds[kind] = error_kinds.get(kind, 0) + 1
                        latency.append((time.perf_counter() - t) * 1000)
                elif r < 0.9:
                    status = serve_abuse.one_malformed(rng.choice(serve_abuse.KINDS))
                    with lock:
                        stats["malformed"] += 1
                        stats["malformed_5xx"] += 1 if status is not None and status >= 500 else 0
                else:
                    conn.request("GET", rng.choice(["/metrics", f"/v2/models/{MODEL}", "/v2/health/ready"]), headers=AUTH)
                    conn.getresponse().read()
                    with lock:
                        stats["other"] += 1
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
                with lock:
                    stats["valid_errors"] += 1 if r < 0.7 else 0
                    if r < 0.7:
                        kind = type(e).__name__
                        error_kinds[kind] = error_kinds.get(kind, 0) + 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    samples = []
    start = time.time()
    while time.time() < stop:
        samples.append((round(time.time() - start, 1), rss_kib()))
        time.sleep(5)
    for t in threads:
        t.join()
    samples.append((round(time.time() - start, 1), rss_kib()))
    warm = [kib for at, kib in samples if at >= 0.2 * SECONDS][0]
    latency.sort()
    print(json.dumps({"seconds": SECONDS, "threads": THREADS, **stats, "valid_error_kinds": error_kinds,
                      "p50_ms": round(latency[len(latency) // 2], 2), "p99_ms": round(latency[int(len(latency) * 0.99)], 2),
                      "rss_after_warmup_kib": warm, "rss_end_kib": samples[-1][1],
                      "rss_growth_percent": round(100 * (samples[-1][1] / warm - 1), 2),
                      "rss_max_after_warmup_kib": max(kib for at, kib in samples if at >= 0.2 * SECONDS),
                      "rss_samples": samples}))
    return 0 if stats["valid_errors"] == 0 and stats["malformed_5xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
