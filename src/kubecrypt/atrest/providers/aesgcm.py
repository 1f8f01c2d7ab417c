"""``aesgcm``: ``nonce(12) || AES-GCM(key, nonce, data, aad = etcd key)`` (upstream encrypt/aes)."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.atrest.providers.keyed import KeyedProvider
from kubecrypt.crypto.aead import GCM_NONCE_SIZE, gcm_open_prefixed, gcm_seal


class AESGCMProvider(KeyedProvider):
    type = "aesgcm"
    version_prefix = b"k8s:enc:aesgcm:v1:"
    transformer_name = "AES"

    def make_cipher(self, secret: bytes) -> AESGCM:
        return AESGCM(secret)

    def seal(self, cipher: object, data: bytes, aad: bytes) -> bytes:
        assert isinstance(cipher, AESGCM)
        nonce = self.rand(GCM_NONCE_SIZE)
        return nonce + gcm_seal(cipher, nonce, data, aad)

    def open(self, cipher: object, data: bytes, aad: bytes) -> bytes:
        assert isinstance(cipher, AESGCM)
        return gcm_open_prefixed(cipher, data, aad)
