"""Benchmark: KMS v2 Encrypt and Decrypt RPCs over a unix socket against ``kubecrypt kms serve``
(local backend) and, in the same run, against a bare grpcio plugin (``bench/kms_bare_plugin.py``:
the same stubs and AES-256-GCM, nothing else). Prints RPC/s, p50/p99 latency, the machine's load
and the ratio kubecrypt / bare, which is what to compare across machines: absolute RPC/s depend on
the CPU and on whatever else runs.

    PYTHONPATH=src python3 bench/kms.py [--seconds 4] [--concurrency 4] [--workers 2] [--rounds 2]

The client is grpcio's sync stub called from ``--concurrency`` threads (kube-apiserver's callers
are concurrent goroutines); with two or more CPUs the server is pinned to CPU 0 and the client to
CPU 1, so the two processes do not take turns on one core. The two servers are measured in
alternation, ``--rounds`` times each, so a burst of load elsewhere hits both alike.

Target: kubecrypt at least 0.6 of the bare plugin's RPC/s, with a p99 at most 1.5 times its p99."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

from kubecrypt.kms import keyring
from kubecrypt.kms.proto import v2_pb2, v2_pb2_grpc

TARGET_RATIO = 0.6
TARGET_P99_RATIO = 1.5
PIN = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")


def start_plugin(workdir: Path, workers: int, bare: bool = False
                 ) -> tuple[subprocess.Popen[bytes], str]:
    sock = str(workdir / ("bare.sock" if bare else "kms.sock"))
    pin = ["taskset", "-c", "0"] if PIN and shutil.which("taskset") else []
    if bare:
        argv = [sys.executable, str(Path(__file__).with_name("kms_bare_plugin.py")), sock,
                "--workers", str(workers)]
    else:
        ring = workdir / "keyring.json"
        keyring.init(ring)
        cfg = workdir / "backend.yaml"
        cfg.write_text(f"keyring: {ring}\n")
        exe = shutil.which("kubecrypt")
        argv = [*([exe] if exe else [sys.executable, "-m", "kubecrypt"]), "kms", "serve",
                "--listen", f"unix://{sock}", "--backend", "local", "--backend-config", str(cfg),
                "--workers", str(workers), "--log-level", "warning"]
    proc = subprocess.Popen([*pin, *argv])
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


def run(sock: str, method: str, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    channel = grpc.insecure_channel(f"unix:{sock}",
                                    options=[("grpc.default_authority", "localhost")])
    stub = v2_pb2_grpc.KeyManagementServiceStub(channel)
    seed = os.urandom(32)
    enc = stub.Encrypt(v2_pb2.EncryptRequest(plaintext=seed, uid="warmup"))
    if method == "Encrypt":
        req: object = v2_pb2.EncryptRequest(plaintext=seed, uid="bench")
        call = stub.Encrypt
    else:
        req = v2_pb2.DecryptRequest(ciphertext=enc.ciphertext, uid="bench", key_id=enc.key_id)
        call = stub.Decrypt
    results: list[list[float]] = []
    warm_until = time.perf_counter() + 0.5
    stop_at = warm_until + seconds

    def worker() -> None:
        perf = time.perf_counter
        mine: list[float] = []
        while True:
            t0 = perf()
            if t0 >= stop_at:
                break
            call(req, timeout=3)
            if t0 >= warm_until:
                mine.append(perf() - t0)
        results.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    channel.close()
    latencies = [x for r in results for x in r]
    return len(latencies), latencies


def pct(sorted_vals: list[float], q: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))] * 1000


def measure(sock: str, method: str, seconds: float, concurrency: int) -> tuple[float, list[float]]:
    n, lat = run(sock, method, seconds, concurrency)
    return n / seconds, lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kc-bench-", dir="/tmp"))
    procs = []
    ok = True
    try:
        kc_proc, kc_sock = start_plugin(workdir, args.workers)
        procs.append(kc_proc)
        bare_proc, bare_sock = start_plugin(workdir, args.workers, bare=True)
        procs.append(bare_proc)
        if PIN:
            os.sched_setaffinity(0, {1})
        load = os.getloadavg()
        print(f"{os.cpu_count()} CPUs{' (servers on CPU 0, client on CPU 1)' if PIN else ''}, "
              f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; grpcio "
              f"{grpc.__version__}, Python {sys.version.split()[0]}; {args.workers} server "
              f"workers, sync client with {args.concurrency} threads, {args.seconds:g}s x "
              f"{args.rounds} rounds per server and method")
        for method in ("Encrypt", "Decrypt"):
            got: dict[str, tuple[list[float], list[float]]] = {"kubecrypt": ([], []),
                                                               "bare grpcio": ([], [])}
            for _ in range(args.rounds):
                for name, sock in (("kubecrypt", kc_sock), ("bare grpcio", bare_sock)):
                    rps, lat = measure(sock, method, args.seconds, args.concurrency)
                    got[name][0].append(rps)
                    got[name][1].extend(lat)
            summary = {}
            for name, (rates, lat) in got.items():
                lat.sort()
                rps = sum(rates) / len(rates)
                summary[name] = (rps, pct(lat, 0.50), pct(lat, 0.99))
                print(f"{method:8s} {name:12s} {rps:9,.0f} RPC/s  p50 {summary[name][1]:5.2f} ms"
                      f"  p99 {summary[name][2]:5.2f} ms")
            ratio = summary["kubecrypt"][0] / summary["bare grpcio"][0]
            p99_ratio = summary["kubecrypt"][2] / summary["bare grpcio"][2]
            met = ratio >= TARGET_RATIO and p99_ratio <= TARGET_P99_RATIO
            ok &= met
            print(f"{method:8s} kubecrypt / bare grpcio: {ratio:.2f} of the RPC/s, "
                  f"{p99_ratio:.2f} times the p99 (targets >= {TARGET_RATIO}, "
                  f"<= {TARGET_P99_RATIO}){'' if met else '  BELOW TARGET'}")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
