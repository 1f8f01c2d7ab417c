"""``etcd get``: read objects straight from etcd, decrypt them through a config and decode them,
for when no API server is left to ask.

The object gets ``metadata.resourceVersion`` from the key's mod_revision, as kube-apiserver adds
it on every read (it is never stored)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from kubecrypt.atrest.classify import classify
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.errors import DecryptError, EncodingError, KubecryptError
from kubecrypt.etcd.client import EtcdClient, KeyValue
from kubecrypt.etcd.errors import KeyNotFound
from kubecrypt.etcd.inspect import resource_of
from kubecrypt.storage import codec


@dataclass(frozen=True)
class Recovered:
    key: str
    stored: bytes
    """Decrypted (when asked), still in its storage encoding."""
    mod_revision: int

    def object(self) -> dict[str, Any]:
        try:
            obj = codec.decode(self.stored)
        except EncodingError as exc:
            raise EncodingError(f"{self.key}: {exc}; -o raw prints its storage bytes") from None
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta["resourceVersion"] = str(self.mod_revision)
        return obj


class Recoverer:
    def __init__(
        self, client: EtcdClient, transformers: TransformerSet | None, prefix: str, *, decrypt: bool = True
    ) -> None:
        self.client = client
        self.transformers = transformers
        self.prefix = prefix
        self.decrypt = decrypt

    def _plain(self, kv: KeyValue) -> bytes:
        if not self.decrypt:
            return kv.value
        c = classify(kv.value)
        if self.transformers is None:
            if c.state == "encrypted":
                what = f"{c.provider} key {c.key}" if c.provider != "kms" else f"KMS provider {c.key}"
                raise DecryptError(
                    f"{kv.key_text} is encrypted with {what}; pass --config with the "
                    "EncryptionConfiguration that holds that key"
                )
            return kv.value
        resource = resource_of(kv.key_text, self.prefix)
        if resource is None:
            raise DecryptError(f"{kv.key_text} is not a Kubernetes object key under {self.prefix}/")
        try:
            return self.transformers.for_resource(resource).decrypt(kv.value, kv.key).plaintext
        except DecryptError as exc:
            raise DecryptError(f"cannot decrypt {kv.key_text} with the config: {exc}") from None

    async def one(self, key: str) -> Recovered:
        kv = await self.client.get(key)
        if kv is None:
            raise KeyNotFound(f"key {key} not found in etcd at {self.client.settings.describe()}")
        return Recovered(kv.key_text, self._plain(kv), kv.mod_revision)

    async def under(self, key_prefix: str) -> AsyncIterator[Recovered | KubecryptError]:
        """Every object under ``key_prefix``; a value that fails is yielded as its error, so one
        bad value does not cost the rest of a recovery."""
        items = self.client.items(key_prefix)
        async with contextlib.aclosing(items):
            async for kv in items:
                try:
                    yield Recovered(kv.key_text, self._plain(kv), kv.mod_revision)
                except KubecryptError as exc:
                    yield exc
