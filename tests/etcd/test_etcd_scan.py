"""``etcd scan`` against a real etcd: values written through our providers, the at-rest vectors'
stored values at their etcd keys, 10,000 keys, the CI gate (exit 3) and unreadable values."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from atrest_vectorlib import VectorTransformers, load_vectors, stored_encrypted_object
from shared_paths import VECTORS

from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.inspect import Inspector
from kubecrypt.etcd.scan import ScanReport, scan
from kubecrypt.etcd.targets import Target

from .conftest import EtcdServer, keyed, load_config, run, secret_value, write_config

Kubecrypt = Callable[..., subprocess.CompletedProcess[bytes]]
VECTOR_LIST = load_vectors(VECTORS)


def json_lines(out: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert "summary" in rows[-1]
    assert all("summary" not in r for r in rows[:-1])
    return rows[:-1], rows[-1]["summary"]


async def _load(server: EtcdServer, items: list[tuple[bytes, bytes]], clear: str) -> None:
    async with EtcdClient(server.settings()) as etcd:
        await etcd.kv.delete(clear.encode(), _end(clear))
        await etcd.put_many(items)


def _end(prefix: str) -> bytes:
    from etcd3aio import prefix_range_end

    return prefix_range_end(prefix.encode())


@pytest.fixture
def cluster(etcd_server: EtcdServer, tmp_path: Path) -> dict[str, Any]:
    """Under /s1/registry: Secrets in aesgcm (k1), aescbc, secretbox and plaintext; ConfigMaps in
    plaintext; one value no provider reads. Returns the config that wrote them and the counts."""
    cfg = write_config(tmp_path / "enc.json", [
        (["secrets"], [keyed("aesgcm", "k1"), keyed("aescbc", "c1"), keyed("secretbox", "b1"),
                       {"identity": {}}]),
    ])
    ts = load_config(cfg)
    chain = ts.for_resource("secrets")
    providers = {p.type: p for p in chain.providers}
    items: list[tuple[bytes, bytes]] = []
    plan = {"aesgcm": 6, "aescbc": 3, "secretbox": 2, "identity": 1}
    for kind, n in plan.items():
        for i in range(n):
            key = f"/s1/registry/secrets/ns-{kind}/s{i}".encode()
            items.append((key, providers[kind].encrypt(secret_value(f"ns-{kind}", f"s{i}"), key)))
    for i in range(4):
        items.append((f"/s1/registry/configmaps/default/cm{i}".encode(),
                      b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}'))
    items.append((b"/s1/registry/secrets/zz/garbage", b"\x00\x01 not a kubernetes value"))
    # Encrypted with a key the config no longer has.
    gone = load_config(write_config(tmp_path / "gone.json", [(["secrets"], [keyed("aesgcm", "gone")])]))
    key = b"/s1/registry/secrets/zz/lost"
    items.append((key, gone.for_resource("secrets").encrypt(secret_value("zz", "lost"), key)))
    run(_load(etcd_server, items, "/s1/"))
    return {"config": cfg, "plan": plan, "total_secrets": sum(plan.values()) + 2}


def test_scan_without_config_reads_the_prefixes(
    cluster: dict[str, Any], etcd_server: EtcdServer, kubecrypt: Kubecrypt
) -> None:
    r = kubecrypt("etcd", "scan", "--prefix", "/s1/registry", "-o", "json", env=etcd_server.env())
    rows, summary = json_lines(r.stdout)
    by_key = {row["key"]: row for row in rows}
    assert set(rows[0]) == {"key", "resource", "state", "provider", "key_name", "key_id", "stale"}
    assert by_key["/s1/registry/secrets/ns-aesgcm/s0"] == {
        "key": "/s1/registry/secrets/ns-aesgcm/s0", "resource": "secrets", "state": "encrypted",
        "provider": "aesgcm", "key_name": "k1", "key_id": None, "stale": None,
    }
    assert by_key["/s1/registry/secrets/ns-secretbox/s1"]["key_name"] == "b1"
    assert by_key["/s1/registry/secrets/ns-identity/s0"]["state"] == "plaintext"
    assert by_key["/s1/registry/secrets/zz/garbage"]["state"] == "unreadable"
    secrets = summary["resources"]["secrets"]
    assert secrets["total"] == cluster["total_secrets"]
    assert secrets["encrypted"] == 12 and secrets["plaintext"] == 1 and secrets["unreadable"] == 1
    # Without config or --resources, Secrets must be encrypted; the plaintext one fails the gate.
    assert secrets["required"] and not summary["resources"]["configmaps"]["required"]
    assert "1 of 14 secrets are NOT encrypted (must be encrypted)" in summary["verdict"]
    assert r.returncode == 3, r.stderr
    assert b"must be encrypted are not (secrets)" in r.stderr
    counts = {(k["provider"], k["key_name"]): k["count"] for k in summary["keys"]}
    assert counts == {("aesgcm", "k1"): 6, ("aescbc", "c1"): 3, ("secretbox", "b1"): 2, ("aesgcm", "gone"): 1}


def test_scan_with_config_reports_identity_and_stale(
    cluster: dict[str, Any], etcd_server: EtcdServer, kubecrypt: Kubecrypt
) -> None:
    r = kubecrypt("etcd", "scan", "--prefix", "/s1/registry", "--config", str(cluster["config"]),
                  "-o", "json", env=etcd_server.env())
    rows, summary = json_lines(r.stdout)
    states = Counter((row["resource"], row["state"], row["provider"], row["stale"]) for row in rows)
    assert states == {
        ("secrets", "encrypted", "aesgcm", False): 6,  # first provider, first key: current
        ("secrets", "encrypted", "aescbc", True): 3,
        ("secrets", "encrypted", "secretbox", True): 2,
        # Read by the config's identity provider, as kube-apiserver would (garbage included).
        ("secrets", "identity", None, True): 2,
        ("secrets", "unreadable", "aesgcm", None): 1,  # its key is not in the config
        ("configmaps", "plaintext", None, False): 4,  # not in the config: plaintext by design
    }
    assert summary["resources"]["secrets"]["stale"] == 7
    assert summary["unreadable"] == [{"key": "/s1/registry/secrets/zz/lost",
                                      "error": "no matching key was found for the provided AES transformer"}]
    assert not summary["resources"]["configmaps"]["required"]
    assert r.returncode == 3
    # The table: per resource and per key, with the plain verdict.
    t = kubecrypt("etcd", "scan", "--prefix", "/s1/registry", "--config", str(cluster["config"]),
                  env=etcd_server.env())
    text = t.stdout.decode()
    assert t.returncode == 3
    assert "2 of 14 secrets are NOT encrypted" in text
    assert "7 of 14 secrets are stale" in text
    assert "1 of 14 secrets are unreadable" in text
    assert "k1" in text and "c1" in text and "b1" in text
    assert "s3cr3t" not in text and base64.b64encode(b"s3cr3t").decode() not in text


def test_scan_gate_passes_when_everything_required_is_encrypted(
    etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    cfg = write_config(tmp_path / "c.json", [(["secrets"], [keyed("aesgcm", "k1")])])
    chain = load_config(cfg).for_resource("secrets")
    items = [(f"/s2/registry/secrets/a/s{i}".encode(),
              chain.encrypt(secret_value("a", f"s{i}"), f"/s2/registry/secrets/a/s{i}".encode()))
             for i in range(5)]
    items.append((b"/s2/registry/configmaps/a/cm", b'{"kind":"ConfigMap"}'))
    run(_load(etcd_server, items, "/s2/"))
    r = kubecrypt("etcd", "scan", "--prefix", "/s2/registry", "--config", str(cfg),
                  env=etcd_server.env())
    assert r.returncode == 0, r.stderr
    assert "all 5 secrets are encrypted" in r.stdout.decode()
    # --resources makes configmaps required too, and limits the scan to the named resources.
    r = kubecrypt("etcd", "scan", "--prefix", "/s2/registry", "--resources", "configmaps",
                  "-o", "json", env=etcd_server.env())
    rows, summary = json_lines(r.stdout)
    assert r.returncode == 3
    assert [row["key"] for row in rows] == ["/s2/registry/configmaps/a/cm"]
    assert summary["failing"] == ["configmaps"]


def test_scan_gate_fails_when_required_values_are_unreadable(
    etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    """A config that can read nothing proves nothing: exit 4, not 0 (and 3 still wins)."""
    wrote = write_config(tmp_path / "w.json", [(["secrets"], [keyed("aesgcm", "old")])])
    chain = load_config(wrote).for_resource("secrets")
    items = [(f"/s4/registry/secrets/a/s{i}".encode(),
              chain.encrypt(secret_value("a", f"s{i}"), f"/s4/registry/secrets/a/s{i}".encode()))
             for i in range(2)]
    run(_load(etcd_server, items, "/s4/"))
    other = write_config(tmp_path / "o.json", [(["secrets"], [keyed("aesgcm", "new")])])
    r = kubecrypt("etcd", "scan", "--prefix", "/s4/registry", "--config", str(other),
                  env=etcd_server.env())
    err = r.stderr.decode()
    assert r.returncode == 4, (r.stdout, err)
    assert "2 of 2 secrets are unreadable (must be encrypted: not proven)" in r.stdout.decode()
    assert err.startswith("error: ") and "not proven encrypted" in err and "Traceback" not in err
    r = kubecrypt("etcd", "scan", "--prefix", "/s4/registry", "--config", str(other), "-o", "json",
                  env=etcd_server.env())
    _rows, summary = json_lines(r.stdout)
    assert r.returncode == 4 and summary["exit_code"] == 4 and summary["unproven"] == ["secrets"]
    assert summary["failing"] == []
    # The config that wrote them passes; a plaintext Secret beside unreadable ones exits 3.
    assert kubecrypt("etcd", "scan", "--prefix", "/s4/registry", "--config", str(wrote),
                     env=etcd_server.env()).returncode == 0
    run(_load(etcd_server, [*items, (b"/s4/registry/secrets/a/plain", secret_value("a", "p"))],
              "/s4/"))
    assert kubecrypt("etcd", "scan", "--prefix", "/s4/registry", "--config", str(other),
                     env=etcd_server.env()).returncode == 3


@pytest.mark.parametrize("v", VECTOR_LIST, ids=[v["id"] for v in VECTOR_LIST])
def test_scan_vector_at_its_etcd_key(v: dict[str, Any], etcd_server: EtcdServer) -> None:
    """Each vector's stored bytes at its etcd key; scanned with and without its config."""
    key, stored = v["etcd_key"], base64.b64decode(v["stored_b64"])
    target = [Target(key, v["resource"])]

    bare_found: list[Any] = []
    found: list[Any] = []

    async def go() -> tuple[ScanReport, ScanReport]:
        async with EtcdClient(etcd_server.settings()) as etcd:
            await etcd.put(key, stored)
            try:
                bare = ScanReport("/registry", Inspector(None))
                await scan(etcd, bare, target, on_finding=bare_found.append)
                ts = VectorTransformers(v)
                with_config = ScanReport("/registry", Inspector(ts))
                await scan(etcd, with_config, target, on_finding=found.append)
                ts.close()
                return bare, with_config
            finally:
                await etcd.delete(key)

    bare, with_config = run(go())
    assert bare.total == with_config.total == 1
    (bare_finding,), (finding,) = bare_found, found
    is_plain = stored.startswith((b"k8s\x00", b"{"))
    prefix_parts = stored.split(b":")
    if is_plain:
        assert bare_finding.state == "plaintext"
    elif stored.startswith(b"k8s:enc:") and prefix_parts[2] in (b"aescbc", b"aesgcm", b"secretbox"):
        assert (bare_finding.state, bare_finding.provider) == ("encrypted", prefix_parts[2].decode())
        assert bare_finding.key_name == prefix_parts[4].decode()
    elif stored.startswith(b"k8s:enc:kms:"):
        assert (bare_finding.state, bare_finding.provider) == ("encrypted", "kms")
        assert bare_finding.key_name == prefix_parts[4].decode()
    obj = stored_encrypted_object(v)
    if v["expect"]["ok"]:
        assert finding.stale is v["expect"]["stale"]
        if is_plain:
            assert finding.state == "identity"
        else:
            assert finding.state == "encrypted"
            assert finding.key_name == bare_finding.key_name
            if obj is not None:
                assert finding.key_id == bare_finding.key_id == obj.key_id
    else:
        assert finding.state == "unreadable"
        assert finding.error
        assert with_config.resources[v["resource"]].states["unreadable"] == 1


@pytest.mark.slow
def test_scan_ten_thousand_keys(etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt) -> None:
    cfg = write_config(tmp_path / "c.json", [(["secrets"], [keyed("aesgcm", "new"),
                                                            keyed("aesgcm", "old"), {"identity": {}}])])
    ts = load_config(cfg)
    new, old = ts.for_resource("secrets").providers[:2]
    items = []
    for i in range(10_000):
        key = f"/s3/registry/secrets/ns{i % 20}/s{i:05d}".encode()
        value = secret_value(f"ns{i % 20}", f"s{i:05d}")
        if i % 10 == 0:
            items.append((key, value))  # 1,000 plaintext
        elif i % 10 == 1:
            items.append((key, old.encrypt(value, key)))  # 1,000 on the old key
        else:
            items.append((key, new.encrypt(value, key)))
    run(_load(etcd_server, items, "/s3/"))
    t = time.monotonic()
    r = kubecrypt("etcd", "scan", "--prefix", "/s3/registry", "--config", str(cfg), "-o", "json",
                  env=etcd_server.env())
    elapsed = time.monotonic() - t
    rows, summary = json_lines(r.stdout)
    assert len(rows) == 10_000 and len({row["key"] for row in rows}) == 10_000
    s = summary["resources"]["secrets"]
    assert (s["total"], s["identity"], s["encrypted"], s["stale"]) == (10_000, 1_000, 9_000, 2_000)
    keys = {(k["provider"], k["key_name"]): k["count"] for k in summary["keys"]}
    assert keys == {("aesgcm", "new"): 8_000, ("aesgcm", "old"): 1_000}
    assert [k["percent"] for k in summary["keys"]] == [80.0, 10.0]
    assert s["encrypted_percent"] == 90.0
    assert "1000 of 10000 secrets are NOT encrypted (must be encrypted)" in summary["verdict"]
    assert r.returncode == 3
    assert elapsed < 20, f"10,000-key scan took {elapsed:.1f}s"
