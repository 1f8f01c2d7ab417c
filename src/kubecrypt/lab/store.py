"""A thin async etcd adapter for the lab server: the six operations kube-apiserver's etcd3 store
uses (get, range with paging, create, compare-and-swap on mod_revision, delete, watch).

Kept deliberately small so it can be swapped for the shared ``kubecrypt.etcd`` client later.
Every etcd failure that means "etcd is not reachable" becomes :class:`StoreUnavailable`, which
the API server turns into a 503 (and the next request simply tries again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from etcd3aio import Etcd3Client, EtcdError, prefix_range_end
from etcd3aio._protobuf import Compare
from etcd3aio.kv import KVService

TIMEOUT = 5.0


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


def _same_mod_revision(key: str, mod_revision: int) -> Compare:
    return Compare(result=Compare.EQUAL, target=Compare.MOD, key=key.encode(),
                   mod_revision=mod_revision)


def _kv(raw: Any) -> KV:
    return KV(raw.key.decode(), bytes(raw.value), int(raw.mod_revision), int(raw.create_revision))


_MAX_MESSAGE = 1 << 30


class Store:
    def __init__(self, endpoints: list[str]) -> None:
        self.endpoints = endpoints
        self._client = Etcd3Client(
            [e.removeprefix("http://") for e in endpoints], rpc_max_attempts=2,
            watch_reconnect_backoff_seconds=0.2, watch_max_reconnect_backoff_seconds=1.0,
        )
        self._kv: KVService | None = None
        # etcd's gRPC server does not permit keepalive pings on idle connections (enforcement
        # PermitWithoutStream=false) and answers them with GOAWAY "too_many_pings", dropping
        # the connection every few minutes; so ping only while calls are open, and reconnect
        # quickly after etcd comes back (gRPC's default backoff grows to 120 s).
        manager = getattr(self._client, "_manager", None)
        if manager is not None:
            manager.grpc_options = [
                o for o in manager.grpc_options if o[0] != "grpc.keepalive_permit_without_calls"
            ] + [("grpc.keepalive_permit_without_calls", 0),
                 ("grpc.initial_reconnect_backoff_ms", 200),
                 ("grpc.max_reconnect_backoff_ms", 2000),
                 # An unpaged list of thousands of objects is one Range reply larger than
                 # gRPC's 4 MiB default; kube-apiserver's etcd client allows up to 2 GiB.
                 ("grpc.max_receive_message_length", _MAX_MESSAGE),
                 ("grpc.max_send_message_length", _MAX_MESSAGE)]

    async def open(self) -> None:
        await self._client.connect()
        self._kv = self._client.kv

    async def close(self) -> None:
        await self._client.close()

    @property
    def kv(self) -> KVService:
        if self._kv is None:
            raise StoreUnavailable("the etcd client is not connected")
        return self._kv

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except (EtcdError, grpc.aio.AioRpcError, TimeoutError) as exc:
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc

    async def get(self, key: str) -> KV | None:
        resp = await self._call(self.kv.get(key, timeout=TIMEOUT))
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def revision(self) -> int:
        resp = await self._call(self.kv.get("\x00", timeout=TIMEOUT, count_only=True))
        return int(resp.header.revision)

    async def range(self, prefix: str, *, start: str | None = None, limit: int = 0,
                    revision: int = 0) -> tuple[list[KV], bool, int]:
        """Keys under ``prefix`` from ``start`` (inclusive) in key order: (kvs, more, revision)."""
        resp = await self._call(self.kv.get(
            start or prefix, prefix_range_end(prefix), revision=revision, limit=limit,
            timeout=TIMEOUT,
        ))
        return [_kv(k) for k in resp.kvs], bool(resp.more), int(resp.header.revision)

    async def create(self, key: str, value: bytes) -> int | None:
        """Writes ``key`` only if absent; the new mod_revision, or None if it exists."""
        resp = await self._call(self.kv.txn(
            [KVService.txn_compare_create_revision(key, 0)], [KVService.txn_op_put(key, value)],
            timeout=TIMEOUT,
        ))
        return int(resp.header.revision) if resp.succeeded else None

    async def cas(self, key: str, value: bytes, mod_revision: int) -> int | None:
        """Writes ``key`` only if its mod_revision is unchanged; new revision, or None."""
        resp = await self._call(self.kv.txn(
            [_same_mod_revision(key, mod_revision)], [KVService.txn_op_put(key, value)],
            timeout=TIMEOUT,
        ))
        return int(resp.header.revision) if resp.succeeded else None

    async def delete(self, key: str, mod_revision: int) -> int | None:
        """Deletes ``key`` only if its mod_revision is unchanged; the revision, or None."""
        resp = await self._call(self.kv.txn(
            [_same_mod_revision(key, mod_revision)], [KVService.txn_op_delete(key)],
            timeout=TIMEOUT,
        ))
        return int(resp.header.revision) if resp.succeeded else None

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[Event]]:
        """Batches of events under ``prefix`` from ``start_revision`` on; raises Compacted."""
        watch = self._client.watch
        if watch is None:
            raise StoreUnavailable("the etcd client is not connected")
        stream = watch.watch(prefix, prefix_range_end(prefix), start_revision=start_revision,
                             prev_kv=True)
        try:
            async for resp in stream:
                if resp.compact_revision > 0:
                    raise Compacted(start_revision, int(resp.compact_revision))
                if resp.canceled:
                    raise StoreUnavailable(resp.cancel_reason or "etcd cancelled the watch")
                batch = []
                for ev in resp.events:
                    prev = _kv(ev.prev_kv) if ev.HasField("prev_kv") else None
                    batch.append(Event("DELETE" if ev.type == 1 else "PUT", _kv(ev.kv), prev))
                if batch:
                    yield batch
        except (EtcdError, grpc.aio.AioRpcError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
