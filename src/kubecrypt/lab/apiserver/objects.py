"""Objects in etcd, the way kube-apiserver's etcd3 store keeps them: the key is the etcd key,
the value is the storage encoding (protobuf envelope for built-ins, JSON for custom resources)
passed through the encryption transformer with the key as authenticated data, and the
resourceVersion is the key's mod_revision (upstream: apiserver/pkg/storage/etcd3/store.go)."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import DecryptError, EncodingError, InputError
from kubecrypt.lab.apiserver import errors
from kubecrypt.lab.apiserver.encryption import Encryption
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.lab.store import KV, Store
from kubecrypt.storage import codec

CONFLICT_RETRIES = 16


@dataclass
class Stored:
    obj: dict[str, Any]  # JSON form, resourceVersion set
    kv: KV
    plaintext: bytes
    stale: bool

    @property
    def rv(self) -> int:
        return self.kv.mod_revision


def encode(res: Resource, obj: dict[str, Any]) -> bytes:
    """The storage bytes: no resourceVersion, as the etcd3 store strips it before writing."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    meta.pop("resourceVersion", None)
    meta.pop("selfLink", None)
    obj["apiVersion"], obj["kind"] = res.group_version, res.kind
    if res.protobuf:
        return codec.encode(obj)
    # Custom resources go through the unstructured JSON encoder: sorted keys, one line.
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode() + b"\n"


def decode(res: Resource, plaintext: bytes, rv: int) -> dict[str, Any]:
    try:
        obj = codec.decode(plaintext) if res.protobuf else json.loads(plaintext)
    except (EncodingError, ValueError) as exc:
        raise errors.internal(f"object in storage cannot be decoded: {exc}") from exc
    obj["apiVersion"], obj["kind"] = res.group_version, res.kind
    obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
    return obj


class Objects:
    def __init__(self, store: Store, encryption: Encryption) -> None:
        self.store = store
        self.encryption = encryption
        # Time spent in the at-rest transformers, for /metrics and bench/lab.py.
        self.transform_seconds = {"encrypt": 0.0, "decrypt": 0.0}
        self.watches = 0  # open watch streams, for /metrics

    def _open(self, res: Resource, kv: KV) -> Stored:
        t0 = time.perf_counter()
        try:
            read = self.encryption.for_resource(res.qualified).decrypt(kv.value, kv.key.encode())
        except DecryptError as exc:
            raise errors.internal(f"unable to transform key {kv.key!r}: {exc}") from exc
        finally:
            self.transform_seconds["decrypt"] += time.perf_counter() - t0
        return Stored(decode(res, read.plaintext, kv.mod_revision), kv, read.plaintext, read.stale)

    def seal(self, res: Resource, key: str, obj: dict[str, Any]) -> tuple[bytes, bytes]:
        data = encode(res, obj)
        t0 = time.perf_counter()
        value = self.encryption.for_resource(res.qualified).encrypt(data, key.encode())
        self.transform_seconds["encrypt"] += time.perf_counter() - t0
        return data, value

    async def get(self, res: Resource, namespace: str | None, name: str) -> Stored:
        kv = await self.store.get(res.key(namespace, name))
        if kv is None:
            raise errors.not_found(res.qualified, name)
        return self._open(res, kv)

    def open_kv(self, res: Resource, kv: KV) -> Stored:
        return self._open(res, kv)

    async def list(self, res: Resource, namespace: str | None,
                   match: Callable[[dict[str, Any]], bool], limit: int = 0, cont: str = ""
                   ) -> tuple[list[dict[str, Any]], int, str]:
        """Matching objects in key order: (items, list resourceVersion, continue token)."""
        prefix = res.prefix(namespace)
        start, revision = prefix, 0
        if cont:
            start, revision = _parse_continue(cont, prefix)
        items: list[dict[str, Any]] = []
        page = max(limit, 100) if limit else 0
        while True:
            kvs, more, header_rev = await self.store.range(prefix, start=start, limit=page,
                                                           revision=revision)
            revision = revision or header_rev
            for i, kv in enumerate(kvs):
                obj = self._open(res, kv).obj
                if match(obj):
                    items.append(obj)
                if limit and len(items) == limit:
                    has_more = more or i + 1 < len(kvs)
                    token = _make_continue(kv.key + "\x00", revision, prefix) if has_more else ""
                    return items, revision, token
            if not more or not kvs:
                return items, revision, ""
            start = kvs[-1].key + "\x00"

    async def create(self, res: Resource, namespace: str | None, obj: dict[str, Any]
                     ) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        key = res.key(namespace, name)
        _, value = self.seal(res, key, obj)
        rev = await self.store.create(key, value)
        if rev is None:
            raise errors.already_exists(res.qualified, name)
        out = copy.deepcopy(obj)
        out["metadata"]["resourceVersion"] = str(rev)
        return out

    async def update(self, res: Resource, namespace: str | None, name: str,
                     mutate: Callable[[Stored], Awaitable[dict[str, Any] | None]]
                     ) -> dict[str, Any]:
        """kube-apiserver's GuaranteedUpdate: read, mutate, compare-and-swap, retry on races.

        ``mutate`` returns the new object, or None to delete it (the last finalizer went away
        from an object being deleted). An update that changes nothing is not written, unless
        the stored value is stale (read with a key that no longer writes): that exception is
        what makes ``kubectl get -o json | kubectl replace -f -`` re-encrypt everything."""
        key = res.key(namespace, name)
        for _ in range(CONFLICT_RETRIES):
            current = await self.get(res, namespace, name)
            new = await mutate(current)
            if new is None:
                rev = await self.store.delete(key, current.rv)
                if rev is None:
                    continue
                out = copy.deepcopy(current.obj)
                out["metadata"]["resourceVersion"] = str(rev)
                return out
            data, value = self.seal(res, key, new)
            if data == current.plaintext and not current.stale:
                return current.obj
            rev = await self.store.cas(key, value, current.rv)
            if rev is None:
                continue
            out = copy.deepcopy(new)
            out["metadata"]["resourceVersion"] = str(rev)
            return out
        raise errors.conflict(res.qualified, name)

    async def delete(self, res: Resource, current: Stored) -> int | None:
        return await self.store.delete(current.kv.key, current.rv)


def _make_continue(start: str, revision: int, prefix: str) -> str:
    # The same shape as kube-apiserver's token: base64 of {"v","rv","start"} with the key
    # relative to the list's prefix.
    body = {"v": "meta.k8s.io/v1", "rv": revision, "start": start[len(prefix):]}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def _parse_continue(token: str, prefix: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = safeparse.load_json(raw, "the continue token")
        return prefix + str(body["start"]), int(body["rv"])
    except (ValueError, KeyError, TypeError, InputError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start "
                                 "resourceVersion (version meta.k8s.io/v1)") from None
