"""The shared shape of ``aescbc``, ``aesgcm`` and ``secretbox``: a list of named keys inside one
provider prefix. The first key writes; any key whose ``<name>:`` prefix matches may read, and a
read with any key but the first is stale (upstream: value.NewPrefixTransformers inside
encryptionconfig's aes/secretbox builders)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from kubecrypt.atrest.config import Key
from kubecrypt.atrest.providers.base import Provider, ProviderError, ReadResult
from kubecrypt.crypto.aead import CryptoError
from kubecrypt.crypto.rand import RandomSource, system_random


class KeyedProvider(Provider):
    version_prefix: bytes
    transformer_name: str  # "AES" or "Secretbox", as in upstream's "no matching key" error

    def __init__(self, keys: Sequence[Key], rand: RandomSource = system_random) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self.prefix = self.version_prefix
        self.keys = list(keys)
        self.rand = rand
        self._ciphers = [self.make_cipher(k.secret) for k in self.keys]
        self._key_prefixes = [self.prefix + k.name.encode() + b":" for k in self.keys]

    @abstractmethod
    def make_cipher(self, secret: bytes) -> object: ...

    @abstractmethod
    def seal(self, cipher: object, data: bytes, aad: bytes) -> bytes: ...

    @abstractmethod
    def open(self, cipher: object, data: bytes, aad: bytes) -> bytes: ...

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        return self._key_prefixes[0] + self.seal(self._ciphers[0], data, aad)

    def decrypt(self, value: bytes, aad: bytes) -> ReadResult:
        errors: list[str] = []
        for i, kp in enumerate(self._key_prefixes):
            if not value.startswith(kp):
                continue
            try:
                plaintext = self.open(self._ciphers[i], value[len(kp) :], aad)
            except CryptoError as exc:
                # Two keys may share a name during a botched rotation; upstream tries them all.
                errors.append(str(exc))
                continue
            return ReadResult(plaintext, i != 0, self.type, self.keys[i].name)
        if errors:
            raise ProviderError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        raise ProviderError(
            f"no matching key was found for the provided {self.transformer_name} transformer"
        )

    def describe(self) -> str:
        return f"{self.type} (keys: {', '.join(k.name for k in self.keys)})"
