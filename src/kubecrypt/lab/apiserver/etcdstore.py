"""The lab's view of etcd: the operations kube-apiserver's etcd3 store uses (get, a paged range
at one revision, create-if-absent, compare-and-swap and compare-and-delete on mod_revision,
watch from a revision), on the shared client :class:`kubecrypt.etcd.client.EtcdClient` and its
watch (:mod:`kubecrypt.etcd.watch`).

Every failure that means "etcd is not reachable" becomes :class:`StoreUnavailable`, which the
API server turns into a 503; the next request connects again. A compacted watch start becomes
:class:`Compacted`, which the watch handler turns into kube-apiserver's 410."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import grpc.aio
from etcd3aio import EtcdError as AioEtcdError
from etcd3aio import prefix_range_end
from etcd3aio._protobuf import Compare
from etcd3aio.kv import KVService

from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.errors import EtcdError
from kubecrypt.etcd.settings import EtcdSettings
from kubecrypt.etcd.watch import WatchCompacted

T = TypeVar("T")


class StoreUnavailable(Exception):
    """etcd cannot be reached (or timed out)."""


class Compacted(Exception):
    """A watch asked for history etcd has compacted away."""

    def __init__(self, requested: int, compact_revision: int) -> None:
        super().__init__(f"revision {requested} is compacted (oldest {compact_revision})")
        self.requested = requested
        self.compact_revision = compact_revision


@dataclass(frozen=True)
class KV:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True)
class Event:
    type: str  # "PUT" or "DELETE"
    kv: KV  # for DELETE: key and the deletion revision, no value
    prev: KV | None


def _kv(raw: Any) -> KV:
    key = raw.key.decode() if isinstance(raw.key, bytes) else str(raw.key)
    return KV(key, bytes(raw.value), int(raw.mod_revision), int(raw.create_revision))


def _same_mod_revision(key: str, mod_revision: int) -> Compare:
    return Compare(result=Compare.EQUAL, target=Compare.MOD, key=key.encode(),
                   mod_revision=mod_revision)


class Store:
    def __init__(self, endpoints: list[str]) -> None:
        self.endpoints = endpoints
        settings = EtcdSettings().with_flags(endpoints=",".join(endpoints))
        self.client = EtcdClient(settings, max_attempts=2)
        self._connected = False

    async def open(self) -> None:
        """Connects if etcd answers; if not, the first request tries again (and is a 503)."""
        with contextlib.suppress(StoreUnavailable):
            await self._ensure()

    async def _ensure(self) -> EtcdClient:
        if not self._connected:
            try:
                await self.client.connect()
            except EtcdError as exc:
                raise StoreUnavailable(str(exc)) from exc
            self._connected = True
        return self.client

    async def close(self) -> None:
        self._connected = False
        await self.client.close()

    async def _call(self, aw: Awaitable[T]) -> T:
        try:
            return await aw
        except (AioEtcdError, grpc.aio.AioRpcError, TimeoutError, EtcdError) as exc:
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc

    async def _kvs(self) -> KVService:
        return (await self._ensure()).kv

    @property
    def _timeout(self) -> float:
        return self.client.settings.command_timeout

    async def get(self, key: str) -> KV | None:
        kv = await self._kvs()
        resp = await self._call(kv.get(key.encode(), timeout=self._timeout))
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def revision(self) -> int:
        kv = await self._kvs()
        resp = await self._call(kv.get(b"\x00", count_only=True, timeout=self._timeout))
        return int(resp.header.revision)

    async def range(self, prefix: str, *, start: str | None = None, limit: int = 0,
                    revision: int = 0) -> tuple[list[KV], bool, int]:
        """Keys under ``prefix`` from ``start`` (inclusive) in key order: (kvs, more, revision)."""
        kv = await self._kvs()
        p = prefix.encode()
        resp = await self._call(kv.get((start or prefix).encode(), prefix_range_end(p),
                                       revision=revision, limit=limit, timeout=self._timeout))
        return [_kv(k) for k in resp.kvs], bool(resp.more), int(resp.header.revision)

    async def _txn(self, compare: Compare, op: Any) -> int | None:
        kv = await self._kvs()
        resp = await self._call(kv.txn([compare], [op], timeout=self._timeout))
        return int(resp.header.revision) if resp.succeeded else None

    async def create(self, key: str, value: bytes) -> int | None:
        """Writes ``key`` only if absent; the new mod_revision, or None if it exists."""
        return await self._txn(KVService.txn_compare_create_revision(key, 0),
                               KVService.txn_op_put(key, value))

    async def cas(self, key: str, value: bytes, mod_revision: int) -> int | None:
        """Writes ``key`` only if its mod_revision is unchanged; new revision, or None."""
        return await self._txn(_same_mod_revision(key, mod_revision),
                               KVService.txn_op_put(key, value))

    async def delete(self, key: str, mod_revision: int) -> int | None:
        """Deletes ``key`` only if its mod_revision is unchanged; the revision, or None."""
        return await self._txn(_same_mod_revision(key, mod_revision),
                               KVService.txn_op_delete(key))

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[Event]]:
        """Batches of events under ``prefix`` from ``start_revision`` on; raises Compacted."""
        client = await self._ensure()
        stream = client.watch(prefix, start_revision=start_revision, prev_kv=True,
                              reconnect_for=10.0)
        try:
            async for batch in stream:
                events = [Event(ev.type, _kv(ev.kv), _kv(ev.prev_kv) if ev.prev_kv else None)
                          for ev in batch.events]
                if events:
                    yield events
        except WatchCompacted as exc:
            raise Compacted(exc.requested, exc.compact_revision) from exc
        except EtcdError as exc:
            raise StoreUnavailable(str(exc)) from exc
        finally:
            await stream.aclose()
