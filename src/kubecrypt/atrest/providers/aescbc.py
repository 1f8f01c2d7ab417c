"""``aescbc``: ``IV(16) || AES-CBC(key, IV, data || PKCS#7)``; no authentication, context ignored."""

from __future__ import annotations

from kubecrypt.atrest.providers.keyed import KeyedProvider
from kubecrypt.crypto.aead import AES_BLOCK_SIZE, cbc_decrypt, cbc_encrypt


class AESCBCProvider(KeyedProvider):
    type = "aescbc"
    version_prefix = b"k8s:enc:aescbc:v1:"
    transformer_name = "AES"

    def make_cipher(self, secret: bytes) -> bytes:
        return secret

    def seal(self, cipher: object, data: bytes, aad: bytes) -> bytes:
        assert isinstance(cipher, bytes)
        return cbc_encrypt(cipher, self.rand(AES_BLOCK_SIZE), data)

    def open(self, cipher: object, data: bytes, aad: bytes) -> bytes:
        assert isinstance(cipher, bytes)
        return cbc_decrypt(cipher, data)
