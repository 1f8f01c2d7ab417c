"""KMS v2 values in etcd: scan reports the provider name and each value's key_id, a key_id
rotation at the plugin makes values stale, and rewrite moves them to the new key_id. The plugin
is the vectors' in-process one (``atrest_vectorlib.FakeKMSv2``) behind the real KMS v2 provider."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from atrest_vectorlib import FakeKMSv2

from kubecrypt.atrest.config import from_dict
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.inspect import Inspector
from kubecrypt.etcd.rewrite import Rewriter
from kubecrypt.etcd.scan import ScanReport, scan
from kubecrypt.etcd.targets import targets

from .conftest import EtcdServer, run, secret_value

ROOT = "/k1/registry"
CONFIG = {
    "apiVersion": "apiserver.config.k8s.io/v1",
    "kind": "EncryptionConfiguration",
    "resources": [{"resources": ["secrets"], "providers": [
        {"kms": {"apiVersion": "v2", "name": "vault-kms", "endpoint": "unix:///tmp/unused.sock"}},
        {"identity": {}},
    ]}],
}


def plugin(key_id: str) -> FakeKMSv2:
    keks = {k: base64.b64encode(hashlib.sha256(k.encode()).digest()).decode() for k in ("kek-1", "kek-2")}
    return FakeKMSv2({"keks_b64": keks, "status_key_id": key_id})


def transformers(key_id: str) -> TransformerSet:
    fake = plugin(key_id)
    return TransformerSet(from_dict(CONFIG), kms_factory=lambda cfg: fake)


async def _scan(server: EtcdServer, ts: TransformerSet | None) -> ScanReport:
    report = ScanReport(ROOT, Inspector(ts))
    async with EtcdClient(server.settings()) as etcd:
        return await scan(etcd, report, targets(ROOT, ["secrets"]))


def test_kms_v2_key_id_rotation(etcd_server: EtcdServer) -> None:
    old = transformers("kek-1")
    chain = old.for_resource("secrets")

    async def seed() -> None:
        items = []
        for i in range(40):
            key = f"{ROOT}/secrets/app/s{i:02d}".encode()
            items.append((key, chain.encrypt(secret_value("app", f"s{i:02d}"), key)))
        items.append((f"{ROOT}/secrets/app/plain".encode(), secret_value("app", "plain")))
        async with EtcdClient(etcd_server.settings()) as etcd:
            await etcd.put_many(items)

    run(seed())
    before = run(_scan(etcd_server, old))
    assert dict(before.keys) == {("secrets", "kms", "vault-kms", "kek-1"): 40}
    assert before.resources["secrets"].stale == 1  # the plaintext one, read by identity
    assert before.resources["secrets"].states["identity"] == 1

    # The plugin now reports kek-2: everything written under kek-1 is stale.
    new = transformers("kek-2")
    stale = run(_scan(etcd_server, new))
    assert stale.resources["secrets"].stale == 41
    assert dict(stale.keys) == {("secrets", "kms", "vault-kms", "kek-1"): 40}

    async def rewrite() -> Any:
        async with EtcdClient(etcd_server.settings()) as etcd:
            return await Rewriter(etcd, new, ROOT).run(targets(ROOT, ["secrets"]))

    report = run(rewrite())
    assert (report.stale, report.rewritten, report.unreadable) == (41, 41, 0)
    after = run(_scan(etcd_server, transformers("kek-2")))
    assert dict(after.keys) == {("secrets", "kms", "vault-kms", "kek-2"): 41}
    assert after.resources["secrets"].stale == 0 and after.exit_code == 0
    assert "all 41 secrets are encrypted" in after.verdicts()

    # Without a config the bytes alone still name the provider and the key_id.
    bare = run(_scan(etcd_server, None))
    assert dict(bare.keys) == {("secrets", "kms", "vault-kms", "kek-2"): 41}
