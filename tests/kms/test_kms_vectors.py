"""Every KMS vector of ../shared/vectors/atrest replayed through a real ``kubecrypt kms serve``.

The plugin runs the vector's fake wrapping as a custom backend loaded by ``module:Class``
(kms_vector_backend.VectorBackend); the at-rest providers reach it through our gRPC client over
the unix socket, so protos, server, client and custom-backend loading are all exercised. Each
vector gets its own plugin per KMS provider name; non-KMS providers in a vector's list are built
as usual."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubecrypt.atrest.chain import PrefixChain
from kubecrypt.atrest.config import from_dict
from kubecrypt.atrest.providers.kms_v2 import KMSv2Provider
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.errors import DecryptError

from ..shared_paths import VECTORS  # type: ignore[import-not-found]

BACKEND = "kms_vector_backend:VectorBackend"
b64d = base64.b64decode


def _kms_vectors() -> list[dict[str, Any]]:
    out = []
    for p in sorted((VECTORS / "atrest" / "vectors").glob("*.json")):
        v = json.loads(p.read_text())
        if any("kms" in prov for prov in v["providers"]):
            out.append(v)
    return out


VECTORS_KMS = _kms_vectors()


def _config(v: dict[str, Any], endpoints: dict[str, str]) -> dict[str, Any]:
    providers = []
    for prov in v["providers"]:
        if "kms" in prov:
            prov = {"kms": {**prov["kms"], "endpoint": endpoints[prov["kms"]["name"]]}}
        providers.append(prov)
    resources = v.get("details", {}).get("config_resources") or [v["resource"]]
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": resources, "providers": providers}]}


def _chain(v: dict[str, Any], endpoints: dict[str, str]) -> PrefixChain:
    """The provider chain kube-apiserver would build, its KMS providers dialling our plugins
    through the default factory (kubecrypt.kms.client.dial)."""
    chain = TransformerSet(from_dict(_config(v, endpoints))).for_resource(v["resource"])
    for provider in chain.providers:
        if isinstance(provider, KMSv2Provider):
            plugin = v["kms_plugins"][provider.name]
            provider.write_source_type = plugin.get("server_write_dek_source_type", 1)
    return chain


def test_there_are_kms_vectors() -> None:
    cats = {v["category"] for v in VECTORS_KMS}
    assert {"kms-v1", "kms-v2", "kms-v1-negative", "kms-v2-negative"} <= cats


@pytest.mark.parametrize("v", VECTORS_KMS, ids=[v["id"] for v in VECTORS_KMS])
def test_kms_vector_through_plugin(v: dict[str, Any], start_plugin: Any) -> None:
    endpoints = {}
    for name, plugin in v["kms_plugins"].items():
        p = start_plugin(BACKEND, plugin, api=plugin["api"], name=name)
        endpoints[name] = p.endpoint
    chain = _chain(v, endpoints)
    try:
        stored = b64d(v["stored_b64"])
        aad = v["etcd_key"].encode()
        if not v["expect"]["ok"]:
            with pytest.raises(DecryptError):
                chain.decrypt(stored, aad)
            return
        result = chain.decrypt(stored, aad)
        assert result.plaintext == b64d(v["expect"]["plaintext_b64"])
        assert result.stale is v["expect"]["stale"]
        # And a fresh write through the same plugin reads back, not stale.
        written = chain.encrypt(result.plaintext, aad)
        again = chain.decrypt(written, aad)
        assert again.plaintext == result.plaintext
        assert again.stale is False
    finally:
        chain.close()
