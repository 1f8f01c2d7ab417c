"""Time for a freshly started controller to reconcile N SealedSecrets of 5 items each under a
4096-bit key, against the lab (real etcd, the lab API server) on this machine.

Upstream's controller is bound by RSA: one private-key operation per item; at ~200 RSA-4096
decrypts/s per core here (Go), 2,000 x 5 items = 10,000 operations ≈ 50 s on one core.
Target: <= 25 s.

The clock starts when the controller process is started (so it includes loading keys, the
initial list/watch and spawning the unsealing workers) and stops when every SealedSecret has a
Synced=True condition in the controller's metrics; then the Secrets are counted in the API.

Run: PYTHONPATH=src python3 bench/controller.py [--count 2000] [--items 5] [--workers -1]"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Secret

from kubecrypt.controller.kube import SealedSecretResource
from kubecrypt.lab import processes
from kubecrypt.lab import up as lab_up
from kubecrypt.sealed.keys import SealingKey, generate_key, key_secret
from kubecrypt.sealed.seal import SealOptions, seal_secret

UPSTREAM_RSA_PER_SECOND = 200.0  # Go, RSA-4096 OAEP decrypt, one core on this machine


def sealed_secrets(key: SealingKey, count: int, items: int) -> list[dict[str, Any]]:
    public = key.private_key.public_key()
    out = []
    for i in range(count):
        secret = {"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": f"bench-{i:05d}", "namespace": "bench"},
                  "data": {f"item{j}": base64.b64encode(os.urandom(24)).decode()
                           for j in range(items)}}
        out.append(seal_secret(secret, public, SealOptions()))
    return out


async def load(kubeconfig: Path, key: SealingKey, docs: list[dict[str, Any]]) -> None:
    client = AsyncClient(KubeConfig.from_file(kubeconfig).get())
    secret = key_secret(key)
    await client.create(Secret.from_dict(secret))
    sem = asyncio.Semaphore(8)

    async def create(doc: dict[str, Any]) -> None:
        async with sem:
            await client.create(SealedSecretResource.from_dict(doc))

    await asyncio.gather(*(create(d) for d in docs))
    await client.close()


async def count_owned(kubeconfig: Path) -> int:
    client = AsyncClient(KubeConfig.from_file(kubeconfig).get())
    n = 0
    async for s in client.list(Secret, namespace="bench", chunk_size=500):
        refs = s.metadata.ownerReferences or [] if s.metadata else []
        n += any(r.kind == "SealedSecret" for r in refs)
    await client.close()
    return n


def synced(metrics_port: int) -> tuple[int, int]:
    """(True conditions, unseal requests) from the controller's /metrics."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return 0, 0
    ok = requests = 0
    for line in text.splitlines():
        if line.startswith("sealed_secrets_controller_condition_info{") and \
                line.endswith(" 1.0"):
            ok += 1
        elif line.startswith("sealed_secrets_controller_unseal_requests_total "):
            requests = int(float(line.split()[1]))
    return ok, requests


def cpu_seconds(pid: int, children: bool = True) -> float:
    """utime + stime of a process (and of its live children), from /proc."""
    def one(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    total = one(pid)
    if children:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            total += sum(one(int(k)) for k in kids)
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--workers", type=int, default=-1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kubecrypt-bench-controller-"))
    lab = lab_up.up(work / "lab", encryption="none")
    proc = None
    try:
        t0 = time.perf_counter()
        private_key, cert = generate_key(4096)
        key = SealingKey(private_key, cert, namespace="kube-system",
                         creation=dt.datetime.now(dt.UTC))
        docs = sealed_secrets(key, args.count, args.items)
        subprocess.run(["kubectl", "--kubeconfig", str(lab.kubeconfig), "create", "namespace",
                        "bench"], check=True, capture_output=True)
        asyncio.run(load(lab.kubeconfig, key, docs))
        print(f"setup: 4096-bit key, {args.count} SealedSecrets x {args.items} items created in "
              f"{time.perf_counter() - t0:.1f}s")

        port, metrics_port = processes.free_port(), processes.free_port()
        log = work / "controller.log"
        start = time.perf_counter()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kubecrypt", "sealed", "controller", "--kubeconfig",
                 str(lab.kubeconfig), "--namespace", "kube-system", "--listen-addr",
                 f"127.0.0.1:{port}", "--listen-metrics-addr", f"127.0.0.1:{metrics_port}",
                 "--workers", str(args.workers), "--concurrency", str(args.concurrency),
                 "--log-level", "WARNING"],
                stdout=out, stderr=subprocess.STDOUT, env=lab_up.kubecrypt_env())
        assert lab.apiserver is not None
        server_cpu0 = cpu_seconds(lab.apiserver.pid, False) + \
            (cpu_seconds(lab.etcd.pid, False) if lab.etcd else 0.0)
        ok = requests = 0
        while time.perf_counter() - start < args.timeout:
            ok, requests = synced(metrics_port)
            if ok >= args.count:
                break
            if proc.poll() is not None:
                raise SystemExit(f"the controller exited: {log.read_text()[-2000:]}")
            time.sleep(0.25)
        elapsed = time.perf_counter() - start
        controller_cpu = cpu_seconds(proc.pid)
        server_cpu = cpu_seconds(lab.apiserver.pid, False) + \
            (cpu_seconds(lab.etcd.pid, False) if lab.etcd else 0.0) - server_cpu0
        loadavg = Path("/proc/loadavg").read_text().split()[0]
        if ok < args.count:
            print("controller log (tail):\n" + log.read_text(errors="replace")[-3000:])
        owned = asyncio.run(count_owned(lab.kubeconfig))
        ops = args.count * args.items
        upstream = ops / UPSTREAM_RSA_PER_SECOND
        print(f"controller: {ok}/{args.count} Synced, {owned} owned Secrets, {requests} work "
              f"items, in {elapsed:.1f}s")
        print(f"  CPU: controller {controller_cpu:.1f}s (main process + unsealing workers), lab "
              f"API server + etcd {server_cpu:.1f}s; machine load average {loadavg}")
        print(f"  {args.count / elapsed:.0f} SealedSecrets/s, {ops / elapsed:.0f} RSA-4096 "
              f"decrypts/s (CPUs: {os.cpu_count()})")
        print(f"  upstream RSA bound ≈ {upstream:.0f}s ({UPSTREAM_RSA_PER_SECOND:.0f} ops/s, one "
              f"core): {upstream / elapsed:.2f}x faster; target <= {upstream / 2:.0f}s: "
              f"{'met' if elapsed <= upstream / 2 and owned == args.count else 'NOT met'}")
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(15)
        lab_up.down(work / "lab", purge=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
