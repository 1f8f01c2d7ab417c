"""The provider interface, after kube-apiserver's ``value.Transformer``.

A provider owns its prefix (``k8s:enc:aesgcm:v1:`` plus, for keyed providers, ``<key name>:``).
``encrypt`` returns the complete stored value; ``decrypt`` takes the complete stored value and
says whether it is *stale*: readable, but not what this provider would write today."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple


class ProviderError(Exception):
    """A provider could not read or write a value; the text is upstream's wording."""


class ReadResult(NamedTuple):
    plaintext: bytes
    stale: bool
    provider: str
    """The provider type: ``identity``, ``aescbc``, ``aesgcm``, ``secretbox`` or ``kms``."""
    key: str
    """The key name for keyed providers, the provider name for ``kms``, ``""`` for identity."""
    key_id: str | None = None
    """KMS v2: the key id stored in the EncryptedObject."""
    api_version: str | None = None
    """KMS: ``v1`` or ``v2``."""


class Provider(ABC):
    type: str
    prefix: bytes

    @abstractmethod
    def encrypt(self, data: bytes, aad: bytes) -> bytes: ...

    @abstractmethod
    def decrypt(self, value: bytes, aad: bytes) -> ReadResult: ...

    def describe(self) -> str:
        return self.type

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (KMS providers)."""
