"""Watch on the shared etcd client, against a real etcd: order, prev_kv, start revision,
compaction, and auth over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator

import pytest

from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.watch import WatchBatch, WatchCompacted, WatchEvent

from .conftest import ROOT_PASSWORD, EtcdServer, run


async def collect(stream: AsyncGenerator[WatchBatch, None], n: int) -> list[WatchEvent]:
    out: list[WatchEvent] = []
    async with contextlib.aclosing(stream):
        async for batch in stream:
            out.extend(batch.events)
            if len(out) >= n:
                return out
    return out


def test_puts_and_deletes_in_order_with_prev_kv(etcd_server: EtcdServer) -> None:
    prefix = f"/registry/w-{uuid.uuid4().hex[:8]}/"

    async def go() -> list[WatchEvent]:
        async with EtcdClient(etcd_server.settings()) as c:
            start = await c.put(prefix + "a", b"1") + 1
            await c.put(prefix + "a", b"2")
            await c.put(prefix + "b", b"x")
            await c.put(f"{prefix[:-1]}-outside", b"no")  # same leading bytes, other prefix
            await c.delete(prefix + "a")
            await c.put_many([(f"{prefix}t{i}".encode(), b"v") for i in range(3)])  # one txn
            return await asyncio.wait_for(collect(c.watch(prefix, start_revision=start), 6), 10)

    events = run(go())
    assert [(e.type, e.kv.key_text[len(prefix):], e.kv.value) for e in events] == [
        ("PUT", "a", b"2"), ("PUT", "b", b"x"), ("DELETE", "a", b""),
        ("PUT", "t0", b"v"), ("PUT", "t1", b"v"), ("PUT", "t2", b"v")]
    assert events[0].prev_kv is not None and events[0].prev_kv.value == b"1"
    assert events[1].prev_kv is None
    assert events[2].prev_kv is not None and events[2].prev_kv.value == b"2"
    revs = [e.revision for e in events]
    assert revs[:3] == sorted(set(revs[:3])) and len(set(revs[3:])) == 1  # the txn is one revision


def test_watch_from_now_sees_only_later_writes(etcd_server: EtcdServer) -> None:
    prefix = f"/registry/w-{uuid.uuid4().hex[:8]}/"

    async def go() -> list[WatchEvent]:
        async with EtcdClient(etcd_server.settings()) as c:
            await c.put(prefix + "old", b"o")
            stream = c.watch(prefix)
            task = asyncio.ensure_future(collect(stream, 1))
            await asyncio.sleep(0.5)  # the watch is created before the write
            await c.put(prefix + "new", b"n")
            return await asyncio.wait_for(task, 10)

    [event] = run(go())
    assert event.kv.key_text.endswith("new")


def test_compacted_start_revision_is_a_clear_error(etcd_server: EtcdServer) -> None:
    prefix = f"/registry/w-{uuid.uuid4().hex[:8]}/"

    async def go() -> tuple[int, int]:
        async with EtcdClient(etcd_server.settings()) as c:
            first = await c.put(prefix + "k", b"1")
            rev = await c.put(prefix + "k", b"2")
            await c.kv.compact(rev)
            with pytest.raises(WatchCompacted) as err:
                await asyncio.wait_for(collect(c.watch(prefix, start_revision=first), 1), 10)
            assert "list again and watch" in str(err.value)
            # from the compacted revision on, watching works again
            await c.put(prefix + "k", b"3")
            [ev] = await asyncio.wait_for(collect(c.watch(prefix, start_revision=rev + 1), 1), 10)
            assert ev.kv.value == b"3"
            return err.value.requested, err.value.compact_revision

    requested, compacted = run(go())
    assert requested < compacted


def test_watch_with_auth_over_tls(etcd_tls_server: EtcdServer) -> None:
    prefix = f"/registry/w-{uuid.uuid4().hex[:8]}/"

    async def go() -> list[WatchEvent]:
        s = etcd_tls_server.settings(user=f"root:{ROOT_PASSWORD}")
        async with EtcdClient(s) as c:
            start = await c.put(prefix + "x", b"1")
            return await asyncio.wait_for(collect(c.watch(prefix, start_revision=start), 1), 10)

    [event] = run(go())
    assert event.kv.value == b"1"
