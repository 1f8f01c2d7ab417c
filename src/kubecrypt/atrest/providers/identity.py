"""``identity``: stores bytes unchanged, and refuses to pass encrypted bytes off as plaintext."""

from __future__ import annotations

from kubecrypt.atrest.providers.base import Provider, ProviderError, ReadResult

ENCRYPTED_PREFIX = b"k8s:enc:"


class IdentityProvider(Provider):
    type = "identity"
    prefix = b""

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        return data

    def decrypt(self, value: bytes, aad: bytes) -> ReadResult:
        if value.startswith(ENCRYPTED_PREFIX):
            raise ProviderError("identity transformer tried to read encrypted data")
        return ReadResult(value, False, self.type, "")
