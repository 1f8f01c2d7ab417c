"""Custom backends written as the README describes them: plain classes with ``status()``,
``encrypt()`` and ``decrypt()``, no base class. Loaded with ``--backend kms_custom_backends:X``."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.kms.backends.base import Backend


class PlainBackend:
    """No base class, no encrypt_v1/close: the defaults must be supplied by the server."""

    def __init__(self, kek_b64: str, key_id: str = "plain-1") -> None:
        self.aead = AESGCM(base64.b64decode(kek_b64))
        self.key_id = key_id

    def status(self) -> str:
        return self.key_id

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Mapping[str, bytes]]:
        nonce = os.urandom(12)
        return nonce + self.aead.encrypt(nonce, plaintext, None), self.key_id, {}

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Mapping[str, bytes]) -> bytes:
        return self.aead.decrypt(ciphertext[:12], ciphertext[12:], None)


class RegisteredBackend(PlainBackend):
    """Declared a Backend with ``Backend.register``: inherits neither encrypt_v1 nor close."""

    name = "registered"


Backend.register(RegisteredBackend)


class NoDecrypt:
    def __init__(self, **_: object) -> None:
        pass

    def status(self) -> str:
        return "x"

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Mapping[str, bytes]]:
        return plaintext, "x", {}


class WithV1(PlainBackend):
    """Has its own encrypt_v1 and close: the adapter must use them."""

    closed_marker = ""

    def encrypt_v1(self, plaintext: bytes) -> bytes:
        return b"V1" + self.encrypt(plaintext)[0]

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Mapping[str, bytes]) -> bytes:
        if ciphertext.startswith(b"V1"):
            ciphertext = ciphertext[2:]
        return super().decrypt(ciphertext, key_id, annotations)

    def close(self) -> None:
        if self.closed_marker:
            open(self.closed_marker, "w").close()


instance = object()


class AnnotatingBackend(PlainBackend):
    """Returns one annotation with the configured key (valid or not for kube-apiserver)."""

    def __init__(self, kek_b64: str, annotation_key: str, key_id: str = "ann-1") -> None:
        super().__init__(kek_b64, key_id)
        self.annotation_key = annotation_key

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Mapping[str, bytes]]:
        ciphertext, key_id, _ = super().encrypt(plaintext)
        return ciphertext, key_id, {self.annotation_key: b"1"}


class HangingBackend(PlainBackend):
    """Every call blocks while ``hang_file`` exists, as a SIGSTOPped key store would; each call
    that reaches the backend is appended to ``calls_file``."""

    def __init__(self, kek_b64: str, hang_file: str, calls_file: str) -> None:
        super().__init__(kek_b64)
        self.hang_file = hang_file
        self.calls_file = calls_file

    def _enter(self, method: str) -> None:
        with open(self.calls_file, "a") as f:
            f.write(method + "\n")
        while os.path.exists(self.hang_file):
            time.sleep(0.05)

    def status(self) -> str:
        self._enter("status")
        return super().status()

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Mapping[str, bytes]]:
        self._enter("encrypt")
        return super().encrypt(plaintext)

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Mapping[str, bytes]) -> bytes:
        self._enter("decrypt")
        return super().decrypt(ciphertext, key_id, annotations)
