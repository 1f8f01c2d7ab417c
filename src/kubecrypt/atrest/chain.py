"""Prefix dispatch: the first provider writes, every provider whose prefix matches may read.

Upstream: apiserver pkg/storage/value/transformer.go (prefixTransformers). A read by any provider
but the first is stale; failures are remembered and the walk continues (two providers of one type
share a prefix during rotation); identity's failure is swallowed."""

from __future__ import annotations

from collections.abc import Sequence

from kubecrypt.atrest.providers.base import Provider, ProviderError, ReadResult
from kubecrypt.errors import DecryptError, EncryptError, KMSUnavailable

NO_MATCH = "no matching prefix found"


class PrefixChain:
    def __init__(self, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        self.providers = list(providers)

    @property
    def writer(self) -> Provider:
        return self.providers[0]

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        try:
            return self.writer.encrypt(data, aad)
        except ProviderError as exc:
            err = KMSUnavailable if self.writer.type == "kms" else EncryptError
            raise err(f"cannot encrypt with {self.writer.describe()}: {exc}") from None

    def decrypt(self, value: bytes, aad: bytes) -> ReadResult:
        errors: list[str] = []
        for i, provider in enumerate(self.providers):
            if not value.startswith(provider.prefix):
                continue
            try:
                result = provider.decrypt(value, aad)
            except ProviderError as exc:
                if provider.prefix:
                    errors.append(str(exc))
                continue
            return result._replace(stale=True) if i and not result.stale else result
        if not errors:
            raise DecryptError(NO_MATCH)
        raise DecryptError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")

    def close(self) -> None:
        for p in self.providers:
            p.close()
