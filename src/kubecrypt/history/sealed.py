"""The items of the SealedSecrets in one blob that the leaked keys open, offline.

A value is reported by a keyed hash only (HMAC-SHA256 with the run's key): equal hashes mean
equal values, so a report says which values are the same across history and whether the live
Secret still holds one, and never carries the value or anything it can be read back from."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.history.manifests import objects
from kubecrypt.sealed.crypto import HybridDecryptError, b64decode_std, hybrid_decrypt_index
from kubecrypt.sealed.objects import SEALED_KIND, encrypted_data
from kubecrypt.sealed.scope import label_for_metadata

LEGACY_ITEM = "(spec.data)"


@dataclass(frozen=True)
class ItemHit:
    namespace: str
    name: str
    item: str
    scope: str
    value_hmac: str
    key: int  # index of the leaked key that opened it


class Opener:
    """Trial decryption with a cache: the same ciphertext sits in many versions of a file,
    and each RSA private operation costs milliseconds."""

    def __init__(self, keys: list[rsa.RSAPrivateKey], hmac_key: bytes) -> None:
        self.keys = keys
        self.hmac_key = hmac_key
        self._cache: dict[tuple[str, bytes], tuple[bytes, int] | None] = {}

    def digest(self, value: bytes) -> str:
        return hmac.new(self.hmac_key, value, hashlib.sha256).hexdigest()

    def open(self, ciphertext: str, label: bytes) -> tuple[bytes, int] | None:
        cache_key = (ciphertext, label)
        if cache_key not in self._cache:
            try:
                self._cache[cache_key] = hybrid_decrypt_index(
                    self.keys, b64decode_std(ciphertext), label)
            except (ValueError, HybridDecryptError):
                self._cache[cache_key] = None
        return self._cache[cache_key]

    def hits(self, data: bytes) -> Iterator[ItemHit]:
        if b"SealedSecret" not in data:
            return
        for obj in objects(data):
            if obj.get("kind") != SEALED_KIND:
                continue
            meta = _mapping(obj.get("metadata"))
            spec = _mapping(obj.get("spec"))
            scope, label = label_for_metadata(meta)
            ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
            for item, ciphertext in sorted(encrypted_data(spec).items()):
                opened = self.open(ciphertext, label)
                if opened is not None:
                    yield ItemHit(ns, name, item, scope.value, self.digest(opened[0]), opened[1])
            if isinstance(spec.get("data"), str):
                yield from self._legacy(spec["data"], label, ns, name, scope.value)

    def _legacy(self, blob: str, label: bytes, ns: str, name: str, scope: str
                ) -> Iterator[ItemHit]:
        """Pre-0.7 ``spec.data``: the whole Secret is one ciphertext; report its items."""
        opened = self.open(blob, label)
        if opened is None:
            return
        try:
            secret: Any = json.loads(opened[0])
        except ValueError:
            secret = None
        if not isinstance(secret, dict):
            yield ItemHit(ns, name, LEGACY_ITEM, scope, self.digest(opened[0]), opened[1])
            return
        for item, value in sorted((secret.get("data") or {}).items()):
            try:
                raw = b64decode_std(str(value))
            except ValueError:
                raw = str(value).encode()
            yield ItemHit(ns, name, str(item), scope, self.digest(raw), opened[1])
        for item, value in sorted((secret.get("stringData") or {}).items()):
            yield ItemHit(ns, name, str(item), scope, self.digest(str(value).encode()), opened[1])


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


__all__ = ["LEGACY_ITEM", "ItemHit", "Opener"]
