"""Create and get of 1 KiB Secrets through the lab API server on a real etcd, with aesgcm and
without encryption: requests per second, p50/p99 latency, and the share of server time spent
in the at-rest transformer (from the lab's /metrics counters).

    python3 bench/lab.py [--requests 2000] [--clients 4]

Clients are threads with one keep-alive HTTPS connection each; on a 2-core machine client,
server and etcd share the CPUs, so the numbers are a floor, not a ceiling."""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path

from kubecrypt.lab import up as lab_up

BODY_DATA = base64.b64encode(os.urandom(1024)).decode()


def _metrics(conn: http.client.HTTPSConnection, token: str) -> dict[str, float]:
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    out = {}
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith("kubecrypt_lab_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def _phase(lab: lab_up.Lab, ctx: ssl.SSLContext, verb: str, n: int, clients: int
           ) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    per = n // clients

    def worker(w: int) -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", lab.port, context=ctx)
        headers = {"Authorization": f"Bearer {lab.token}", "Content-Type": "application/json"}
        mine = []
        for i in range(per):
            name = f"bench-{w}-{i}"
            t0 = time.perf_counter()
            if verb == "create":
                body = json.dumps({"metadata": {"name": name}, "data": {"blob": BODY_DATA}})
                conn.request("POST", "/api/v1/namespaces/default/secrets", body, headers)
            else:
                conn.request("GET", f"/api/v1/namespaces/default/secrets/{name}",
                             headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status not in (200, 201):
                raise RuntimeError(f"{verb} {name}: HTTP {resp.status}")
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def run(encryption: str, n: int, clients: int) -> dict[str, dict[str, float]]:
    directory = Path(tempfile.mkdtemp(prefix="kubecrypt-bench-"))
    try:
        lab = lab_up.up(directory, encryption=encryption)
        ctx = ssl.create_default_context(cafile=str(directory / "pki" / "ca.crt"))
        probe = http.client.HTTPSConnection("127.0.0.1", lab.port, context=ctx)
        results = {}
        for verb in ("create", "get"):
            before = _metrics(probe, lab.token)
            elapsed, lat = _phase(lab, ctx, verb, n, clients)
            after = _metrics(probe, lab.token)
            op = "encrypt" if verb == "create" else "decrypt"
            key = f'kubecrypt_lab_transform_seconds_total{{op="{op}"}}'
            transform = after[key] - before[key]
            handler = after["kubecrypt_lab_request_seconds_total"] - \
                before["kubecrypt_lab_request_seconds_total"]
            lat.sort()
            results[verb] = {"rps": len(lat) / elapsed,
                             "p50_ms": statistics.median(lat) * 1000,
                             "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
                             "transform_share": transform / handler if handler else 0.0,
                             "transform_us": transform / len(lat) * 1e6}
        probe.close()
        return results
    finally:
        lab_up.down(directory, purge=True)
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternate the configurations this many times and keep each one's "
                         "best round (etcd's fsyncs make single runs noisy)")
    args = ap.parse_args()
    table: dict[str, dict[str, dict[str, float]]] = {}
    for _ in range(args.rounds):
        for enc in ("none", "aesgcm"):
            result = run(enc, args.requests, args.clients)
            for verb, r in result.items():
                best = table.setdefault(enc, {}).get(verb)
                if best is None or r["rps"] > best["rps"]:
                    table[enc][verb] = r
    print(f"{args.requests} requests per verb, {args.clients} clients, 1 KiB Secrets, "
          f"best of {args.rounds} rounds")
    print(f"{'encryption':<10} {'verb':<7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'transform':>10} {'us/req':>8}")
    for enc, verbs in table.items():
        for verb, r in verbs.items():
            print(f"{enc:<10} {verb:<7} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                  f"{r['transform_share']:>9.1%} {r['transform_us']:>8.1f}")
    for verb in ("create", "get"):
        ratio = table["aesgcm"][verb]["rps"] / table["none"][verb]["rps"]
        print(f"aesgcm/none throughput ratio, {verb}: {ratio:.2f}")


if __name__ == "__main__":
    main()
