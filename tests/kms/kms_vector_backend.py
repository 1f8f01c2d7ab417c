"""A KMS backend implementing the fake plugins of ../shared/vectors/atrest (see its README).

Loaded by ``kubecrypt kms serve --backend kms_vector_backend:VectorBackend`` with the vector's
``kms_plugins[<name>]`` object as ``--backend-config``: this is the custom-backend path a user
takes, driven by upstream's test plugins' wrapping."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.kms.backends.base import Backend, InvalidCiphertext, UnknownKeyID

b64d = base64.b64decode


class VectorBackend(Backend):
    name = "vector"

    def __init__(self, api: str, wrapping: str = "", kek_b64: str | None = None,
                 keks_b64: Mapping[str, str] | None = None, status_key_id: str = "1",
                 annotations_b64: Mapping[str, str] | None = None,
                 **_ignored: Any) -> None:
        self.api = api
        self.base64 = wrapping.startswith("base64")
        self.kek = b64d(kek_b64) if kek_b64 else None
        self.keks = {k: b64d(v) for k, v in (keks_b64 or {}).items()}
        self.key_id = status_key_id
        self.annotations = {k: b64d(v) for k, v in (annotations_b64 or {}).items()}

    def status(self) -> str:
        return self.key_id

    def _kek(self, key_id: str) -> bytes:
        if self.api == "v1":
            assert self.kek is not None
            return self.kek
        if key_id not in self.keks:
            raise UnknownKeyID(f"key_id {key_id!r} is unknown to this vector plugin")
        return self.keks[key_id]

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Mapping[str, bytes]]:
        if self.base64:
            return base64.b64encode(plaintext), self.key_id, self.annotations
        nonce = os.urandom(12)
        aad = self.key_id.encode() if self.api == "v2" else None
        ct = AESGCM(self._kek(self.key_id)).encrypt(nonce, plaintext, aad)
        return nonce + ct, self.key_id, self.annotations

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Mapping[str, bytes]) -> bytes:
        if self.base64:
            return b64d(ciphertext)
        aad = key_id.encode() if self.api == "v2" else None
        try:
            return AESGCM(self._kek(key_id)).decrypt(ciphertext[:12], ciphertext[12:], aad)
        except (InvalidTag, ValueError):
            raise InvalidCiphertext("ciphertext does not authenticate under the vector KEK") from None


class BrokenBackend(VectorBackend):
    """A backend with a bug: Decrypt raises an arbitrary exception quoting its input."""

    name = "broken"

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Mapping[str, bytes]) -> bytes:
        raise RuntimeError(f"oops while handling {ciphertext.hex()}")
