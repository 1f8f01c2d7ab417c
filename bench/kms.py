"""Benchmark: KMS v2 Encrypt and Decrypt RPCs over the unix socket against ``kubecrypt kms serve``
with the local backend. Client and server share this machine; prints RPC/s and p50/p99 latency.

    PYTHONPATH=src python3 bench/kms.py [--seconds 4] [--concurrency 8] [--workers 4]

Target on the project's 2-core machine: >= 7,000 RPC/s with p99 <= 2 ms."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from kubecrypt.kms import keyring
from kubecrypt.kms.proto import v2_pb2, v2_pb2_grpc

TARGET_RPS = 7000
TARGET_P99_MS = 2.0


def start_plugin(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    ring = workdir / "keyring.json"
    keyring.init(ring)
    cfg = workdir / "backend.yaml"
    cfg.write_text(f"keyring: {ring}\n")
    sock = str(workdir / "kms.sock")
    exe = shutil.which("kubecrypt")
    argv = [exe] if exe else [sys.executable, "-m", "kubecrypt"]
    proc = subprocess.Popen(
        [*argv, "kms", "serve", "--listen", f"unix://{sock}", "--backend", "local",
         "--backend-config", str(cfg), "--workers", str(workers), "--log-level", "warning"],
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            return proc, sock
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    proc.kill()
    raise SystemExit("plugin did not start")


async def run(sock: str, method: str, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    async with grpc.aio.insecure_channel(
        f"unix:{sock}", options=[("grpc.default_authority", "localhost")]
    ) as channel:
        stub = v2_pb2_grpc.KeyManagementServiceStub(channel)
        seed = os.urandom(32)
        enc = await stub.Encrypt(v2_pb2.EncryptRequest(plaintext=seed, uid="warmup"))
        if method == "Encrypt":
            req = v2_pb2.EncryptRequest(plaintext=seed, uid="bench")
            call = stub.Encrypt
        else:
            req = v2_pb2.DecryptRequest(ciphertext=enc.ciphertext, uid="bench", key_id=enc.key_id)
            call = stub.Decrypt
        latencies: list[float] = []
        stop_at = 0.0
        warm_until = time.perf_counter() + 0.5

        async def worker() -> None:
            perf = time.perf_counter
            while True:
                t0 = perf()
                if t0 >= stop_at:
                    return
                await call(req, timeout=3)
                t1 = perf()
                if t0 >= warm_until:
                    latencies.append(t1 - t0)

        stop_at = warm_until + seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(latencies), latencies


def pct(sorted_vals: list[float], q: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kc-bench-", dir="/tmp"))
    proc, sock = start_plugin(workdir, args.workers)
    ok = True
    try:
        print(f"kubecrypt kms serve (local backend, {args.workers} workers) over {sock}; "
              f"grpc.aio client, {args.concurrency} in flight, {args.seconds:g}s per method, "
              f"{os.cpu_count()} CPUs shared by client and server")
        for method in ("Encrypt", "Decrypt"):
            n, lat = asyncio.run(run(sock, method, args.seconds, args.concurrency))
            lat.sort()
            rps = n / args.seconds
            p50, p99 = pct(lat, 0.50), pct(lat, 0.99)
            met = rps >= TARGET_RPS and p99 <= TARGET_P99_MS
            ok &= met
            print(f"{method:8s} {rps:9,.0f} RPC/s  p50 {p50:5.2f} ms  p99 {p99:5.2f} ms  "
                  f"(target >= {TARGET_RPS:,} RPC/s: x{rps / TARGET_RPS:.2f}; "
                  f"p99 <= {TARGET_P99_MS} ms: x{TARGET_P99_MS / p99:.2f})"
                  f"{'' if met else '  BELOW TARGET'}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
