"""``secretbox``: ``nonce(24) || XSalsa20-Poly1305 box``; context ignored (upstream encrypt/secretbox)."""

from __future__ import annotations

from kubecrypt.atrest.providers.keyed import KeyedProvider
from kubecrypt.crypto.aead import SECRETBOX_NONCE_SIZE, secretbox_open, secretbox_seal


class SecretboxProvider(KeyedProvider):
    type = "secretbox"
    version_prefix = b"k8s:enc:secretbox:v1:"
    transformer_name = "Secretbox"

    def make_cipher(self, secret: bytes) -> bytes:
        return secret

    def seal(self, cipher: object, data: bytes, aad: bytes) -> bytes:
        assert isinstance(cipher, bytes)
        nonce = self.rand(SECRETBOX_NONCE_SIZE)
        return nonce + secretbox_seal(cipher, nonce, data)

    def open(self, cipher: object, data: bytes, aad: bytes) -> bytes:
        assert isinstance(cipher, bytes)
        return secretbox_open(cipher, data)
