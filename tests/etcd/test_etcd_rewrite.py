"""``etcd rewrite``: a key rotation finished and proven, idempotence, dry runs, and writers racing
the rewrite without losing an update."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from etcd3aio import prefix_range_end

from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.rewrite import Rewriter
from kubecrypt.etcd.targets import targets
from kubecrypt.storage.codec import decode

from .conftest import EtcdServer, keyed, load_config, run, secret_value, write_config

Kubecrypt = Callable[..., subprocess.CompletedProcess[bytes]]


def configs(tmp_path: Path) -> tuple[Path, Path]:
    """Before: k1 writes. After: k2 writes, k1 and identity still read (rotation step 2)."""
    before = write_config(tmp_path / "before.json", [(["secrets"], [keyed("aesgcm", "k1"), {"identity": {}}])])
    after = write_config(tmp_path / "after.json", [
        (["secrets"], [keyed("aesgcm", "k2"), keyed("aesgcm", "k1"), {"identity": {}}]),
    ])
    return before, after


async def _seed(server: EtcdServer, root: str, before: Path, n: int, plain: int = 0) -> dict[bytes, bytes]:
    chain = load_config(before).for_resource("secrets")
    originals: dict[bytes, bytes] = {}
    items = []
    for i in range(n + plain):
        key = f"{root}/secrets/ns{i % 3}/s{i:04d}".encode()
        value = secret_value(f"ns{i % 3}", f"s{i:04d}", {"n": str(i).encode()})
        originals[key] = value
        items.append((key, value if i >= n else chain.encrypt(value, key)))
    async with EtcdClient(server.settings()) as etcd:
        await etcd.kv.delete(root.encode(), prefix_range_end(root.encode()))
        await etcd.put_many(items)
    return originals


async def _dump(server: EtcdServer, root: str) -> dict[bytes, Any]:
    async with EtcdClient(server.settings()) as etcd:
        out = {}
        async with contextlib.aclosing(etcd.items(root + "/")) as items:
            async for kv in items:
                out[kv.key] = kv
        return out


def _plaintexts(dump: dict[bytes, Any], config: Path) -> dict[bytes, bytes]:
    chain = load_config(config).for_resource("secrets")
    return {k: chain.decrypt(kv.value, k).plaintext for k, kv in dump.items()}


@pytest.mark.slow
def test_rotation_rewrite_then_scan_proves_it(
    etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    before, after = configs(tmp_path)
    root = "/r1/registry"
    originals = run(_seed(etcd_server, root, before, 200, plain=10))
    env = etcd_server.env()
    scan = kubecrypt("etcd", "scan", "--prefix", root, "--config", str(after), "-o", "json", env=env)
    summary = json.loads(scan.stdout.splitlines()[-1])["summary"]
    assert summary["resources"]["secrets"]["stale"] == 210
    assert scan.returncode == 3  # the 10 plaintext Secrets

    # Dry run: counts, writes nothing.
    revisions = {k: kv.mod_revision for k, kv in run(_dump(etcd_server, root)).items()}
    dry = kubecrypt("etcd", "rewrite", "--prefix", root, "--config", str(after), "--dry-run",
                    "-o", "json", env=env)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["rewritten"] == 210
    assert {k: kv.mod_revision for k, kv in run(_dump(etcd_server, root)).items()} == revisions

    r = kubecrypt("etcd", "rewrite", "--prefix", root, "--config", str(after), env=env)
    assert r.returncode == 0, r.stderr
    assert "scanned 210 values: 210 stale, rewrote 210, 0 already current" in r.stdout.decode()
    dump = run(_dump(etcd_server, root))
    assert all(kv.value.startswith(b"k8s:enc:aesgcm:v1:k2:") for kv in dump.values())
    assert _plaintexts(dump, after) == originals

    scan = kubecrypt("etcd", "scan", "--prefix", root, "--config", str(after), env=env)
    assert scan.returncode == 0, scan.stdout
    assert "all 210 secrets are encrypted" in scan.stdout.decode()
    assert "stale" not in scan.stdout.decode().split("encryption keys")[-1]

    again = kubecrypt("etcd", "rewrite", "--prefix", root, "--config", str(after), "-o", "json", env=env)
    report = json.loads(again.stdout)
    assert (report["rewritten"], report["current"], report["stale"]) == (0, 210, 0)
    assert {k: kv.mod_revision for k, kv in run(_dump(etcd_server, root)).items()} == {
        k: kv.mod_revision for k, kv in dump.items()
    }


class InterferingClient(EtcdClient):
    """Before every other compare-and-swap, a competing writer (an API server still on the old
    config) updates that key: the swap must lose, and the writer's update must survive."""

    def __init__(self, *args: Any, writer_chain: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.writer_chain = writer_chain
        self.latest: dict[bytes, bytes] = {}
        self.calls = 0

    async def compare_and_swap(self, key: str | bytes, value: bytes, mod_revision: int) -> bool:
        self.calls += 1
        k = key.encode() if isinstance(key, str) else key
        if self.calls % 2 and k not in self.latest:
            plain = secret_value("x", k.decode().rsplit("/", 1)[1], {"n": b"written-by-the-racer"})
            await self.put(k, self.writer_chain.encrypt(plain, k))
            self.latest[k] = plain
        return await super().compare_and_swap(key, value, mod_revision)


def test_rewrite_loses_to_a_concurrent_writer_and_keeps_its_update(
    etcd_server: EtcdServer, tmp_path: Path
) -> None:
    before, after = configs(tmp_path)
    root = "/r2/registry"
    originals = run(_seed(etcd_server, root, before, 60))
    ts = load_config(after)

    async def go() -> Any:
        client = InterferingClient(etcd_server.settings(), writer_chain=load_config(before).for_resource("secrets"))
        async with client:
            report = await Rewriter(client, ts, root).run(targets(root, ["secrets"]), page_size=25)
        return report, client.latest

    report, latest = run(go())
    # Every interfering write cost the rewrite exactly one lost swap, and a re-read.
    assert len(latest) >= 20
    assert report.conflicts == len(latest)
    assert (report.scanned, report.stale, report.rewritten, report.unreadable) == (60, 60, 60, 0)
    dump = run(_dump(etcd_server, root))
    expected = {**originals, **latest}
    assert _plaintexts(dump, after) == expected
    # The racer wrote with the old key; the rewrite re-read and re-encrypted its value too.
    assert all(kv.value.startswith(b"k8s:enc:aesgcm:v1:k2:") for kv in dump.values())


def test_rewrite_racing_a_live_writer_loses_nothing(etcd_server: EtcdServer, tmp_path: Path) -> None:
    before, after = configs(tmp_path)
    root = "/r3/registry"
    originals = run(_seed(etcd_server, root, before, 400))
    keys = sorted(originals)
    old_chain = load_config(before).for_resource("secrets")
    new_chain = load_config(after).for_resource("secrets")

    async def go() -> tuple[Any, dict[bytes, bytes], int]:
        last: dict[bytes, bytes] = {}
        stop = asyncio.Event()
        rng = random.Random(6)

        async def writer(etcd: EtcdClient) -> int:
            n = 0
            while not stop.is_set() or n < 200:
                key = rng.choice(keys)
                plain = secret_value("w", f"w{n}", {"n": f"update-{n}".encode()})
                # Half the writers are still on the old config, half already on the new one.
                chain = old_chain if n % 2 else new_chain
                await etcd.put(key, chain.encrypt(plain, key))
                last[key] = plain
                n += 1
                if n > 5000:
                    break
            return n

        async with EtcdClient(etcd_server.settings()) as w, EtcdClient(etcd_server.settings()) as r:
            wtask = asyncio.create_task(writer(w))
            report = await Rewriter(r, load_config(after), root).run(targets(root), page_size=50)
            stop.set()
            writes = await wtask
        return report, last, writes

    report, last, writes = run(go())
    assert writes >= 200
    assert report.unreadable == 0 and report.scanned == 400
    # Every stale value was either rewritten or replaced meanwhile by a writer on the new key.
    assert report.stale == report.rewritten + report.superseded + report.vanished
    dump = run(_dump(etcd_server, root))
    assert set(dump) == set(originals)
    assert _plaintexts(dump, after) == {**originals, **last}
    # Only writes landing after the rewrite passed a key can still be on k1; decode them all.
    assert all(decode(p)["kind"] == "Secret" for p in _plaintexts(dump, after).values())


def test_rewrite_errors(etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt,
                        free_port: Callable[[], int]) -> None:
    r = kubecrypt("etcd", "rewrite", "--config", str(tmp_path / "nope.yaml"), env=etcd_server.env())
    assert r.returncode == 1 and b"nope.yaml" in r.stderr and b"Traceback" not in r.stderr
    _, after = configs(tmp_path)
    port = free_port()
    r = kubecrypt("etcd", "rewrite", "--config", str(after), "--endpoints", f"127.0.0.1:{port}")
    assert r.returncode == 1 and f"cannot connect to etcd at 127.0.0.1:{port}".encode() in r.stderr
    r = kubecrypt("etcd", "rewrite", env=etcd_server.env())
    assert r.returncode == 2 and b"--config" in r.stderr


def test_rewrite_leaves_unreadable_values_and_says_so(
    etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    before, after = configs(tmp_path)
    root = "/r4/registry"
    run(_seed(etcd_server, root, before, 3))
    lost = write_config(tmp_path / "lost.json", [(["secrets"], [keyed("aesgcm", "lost")])])
    key = f"{root}/secrets/zz/lost".encode()

    async def put() -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            await etcd.put(key, load_config(lost).for_resource("secrets").encrypt(secret_value("zz", "lost"), key))

    run(put())
    r = kubecrypt("etcd", "rewrite", "--prefix", root, "--config", str(after), env=etcd_server.env())
    assert r.returncode == 1
    assert b"rewrote 3" in r.stdout and b"1 unreadable" in r.stdout
    assert f"unreadable: {key.decode()}".encode() in r.stdout
    assert b"1 values could not be read" in r.stderr
    dump = run(_dump(etcd_server, root))
    assert dump[key].value.startswith(b"k8s:enc:aesgcm:v1:lost:")


def test_rewrite_encrypts_plaintext_the_config_can_no_longer_read(
    etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    """identity dropped from the config too early: scan calls the leftovers plaintext and stale,
    and rewrite encrypts them (kube-apiserver itself could not read them any more)."""
    root = "/r5/registry"
    strict = write_config(tmp_path / "strict.json", [(["secrets"], [keyed("secretbox", "only")])])
    originals = run(_seed(etcd_server, root, strict, 2, plain=3))
    env = etcd_server.env()
    scan = kubecrypt("etcd", "scan", "--prefix", root, "--config", str(strict), "-o", "json", env=env)
    rows = [json.loads(line) for line in scan.stdout.splitlines()[:-1]]
    assert sorted((r["state"], r["stale"]) for r in rows) == [
        ("encrypted", False), ("encrypted", False),
        ("plaintext", True), ("plaintext", True), ("plaintext", True),
    ]
    r = kubecrypt("etcd", "rewrite", "--prefix", root, "--config", str(strict), env=env)
    assert r.returncode == 0, r.stderr
    assert b"3 stale, rewrote 3, 2 already current" in r.stdout
    dump = run(_dump(etcd_server, root))
    assert all(kv.value.startswith(b"k8s:enc:secretbox:v1:only:") for kv in dump.values())
    assert _plaintexts(dump, strict) == originals
