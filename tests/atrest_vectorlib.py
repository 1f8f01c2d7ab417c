"""Load ../shared/vectors/atrest and build what each vector describes (fake KMS plugins included).

The fake plugins implement the vectors' stated wrapping (README of the vectors): they are the
upstream test plugins' behaviour, not stand-ins for anything that could run here."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.atrest.config import from_dict
from kubecrypt.atrest.providers.encrypted_object import EncryptedObject
from kubecrypt.atrest.providers.kms_v2 import KMSv2Provider
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.kms.service import EncryptResponse, StatusResponse

b64d = base64.b64decode


def load_vectors(vectors_dir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text())
        for p in sorted((vectors_dir / "atrest" / "vectors").glob("*.json"))
    ]


def vector_config(v: dict[str, Any]) -> dict[str, Any]:
    resources = v.get("details", {}).get("config_resources") or [v["resource"]]
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": resources, "providers": v["providers"]}],
    }


class FakeKMSv2:
    """The vectors' v2 plugin: ``nonce || AES-256-GCM(keks[key_id], nonce, pt, aad=key_id)``."""

    def __init__(self, plugin: dict[str, Any], replay_source: bytes | None = None) -> None:
        self.keks = {k: b64d(x) for k, x in plugin.get("keks_b64", {}).items()}
        self.base64 = plugin.get("wrapping", "").startswith("base64")
        self.key_id = plugin.get("status_key_id", "1")
        self.annotations = {k: b64d(x) for k, x in plugin.get("annotations_b64", {}).items()}
        self.replay_source = replay_source
        self.decrypt_calls = 0

    def status(self) -> StatusResponse:
        return StatusResponse("v2", "ok", self.key_id)

    def encrypt(self, plaintext: bytes, uid: str) -> EncryptResponse:
        if self.replay_source is not None:
            assert self.decrypt(self.replay_source, uid, self.key_id, self.annotations) == plaintext
            return EncryptResponse(self.replay_source, self.key_id, self.annotations)
        if self.base64:
            return EncryptResponse(base64.b64encode(plaintext), self.key_id, self.annotations)
        nonce = b"\x01" * 12
        ct = AESGCM(self.keks[self.key_id]).encrypt(nonce, plaintext, self.key_id.encode())
        return EncryptResponse(nonce + ct, self.key_id, self.annotations)

    def decrypt(
        self, ciphertext: bytes, uid: str, key_id: str, annotations: Mapping[str, bytes]
    ) -> bytes:
        self.decrypt_calls += 1
        if self.base64:
            return b64d(ciphertext)
        return AESGCM(self.keks[key_id]).decrypt(ciphertext[:12], ciphertext[12:], key_id.encode())


class FakeKMSv1:
    """The vectors' v1 plugin: ``nonce || AES-256-GCM(kek, nonce, dek)`` with empty AAD."""

    def __init__(self, plugin: dict[str, Any], replay_dek: bytes | None = None) -> None:
        self.kek = b64d(plugin["kek_b64"])
        self.replay_dek = replay_dek

    def version(self) -> str:
        return "v1beta1"

    def encrypt(self, plain: bytes) -> bytes:
        if self.replay_dek is not None:
            return self.replay_dek
        nonce = b"\x02" * 12
        return nonce + AESGCM(self.kek).encrypt(nonce, plain, None)

    def decrypt(self, cipher: bytes) -> bytes:
        return AESGCM(self.kek).decrypt(cipher[:12], cipher[12:], None)


def stored_encrypted_object(v: dict[str, Any]) -> EncryptedObject | None:
    prefix = b"k8s:enc:kms:v2:"
    stored = b64d(v["stored_b64"])
    if not stored.startswith(prefix):
        return None
    name_end = stored.index(b":", len(prefix))
    return EncryptedObject.from_bytes(stored[name_end + 1 :])


class VectorTransformers(TransformerSet):
    """Builds KMS v2 providers in the write mode the vector's reading server used."""

    def __init__(self, v: dict[str, Any], rand: Any = None, replay: bool = False) -> None:
        self.vector = v
        self.replay = replay
        self.fakes: dict[str, Any] = {}
        super().__init__(from_dict(vector_config(v)), kms_factory=self._factory, rand=rand)

    def _factory(self, cfg: Any) -> Any:
        plugin = self.vector["kms_plugins"][cfg.name]
        details = self.vector.get("details", {})
        if plugin["api"] == "v1":
            fake: Any = FakeKMSv1(
                plugin, b64d(details["encrypted_dek_b64"]) if self.replay else None
            )
        else:
            obj = stored_encrypted_object(self.vector) if self.replay else None
            fake = FakeKMSv2(plugin, obj.encrypted_dek_source if obj else None)
            if obj:
                fake.annotations = dict(obj.annotations)  # keep the stored map order
        self.fakes[cfg.name] = fake
        return fake

    def _build(self, cfg: Any) -> Any:
        provider = super()._build(cfg)
        if isinstance(provider, KMSv2Provider):
            plugin = self.vector["kms_plugins"][cfg.name]
            provider.write_source_type = plugin.get("server_write_dek_source_type", 1)
        return provider
