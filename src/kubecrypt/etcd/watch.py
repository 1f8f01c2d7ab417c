"""Watching a key prefix on the shared etcd client, the way kube-apiserver's etcd3 watcher
uses etcd: from a start revision, with each event's previous value, batch by batch in revision
order.

When the start revision has been compacted away, etcd cancels the watch and says which
revision it compacted to; that becomes :class:`WatchCompacted`, which the lab turns into
kube-apiserver's 410 Gone ("too old resource version"). A dropped connection is resumed from the
revision after the last one delivered (nothing is lost or repeated) until ``reconnect_for``
seconds pass without success; then :class:`EtcdUnavailable`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import grpc
import grpc.aio
from etcd3aio import prefix_range_end
from etcd3aio._protobuf import WatchCreateRequest, WatchRequest, WatchStub

from kubecrypt.etcd.errors import EtcdAuthError, EtcdError, EtcdUnavailable
from kubecrypt.etcd.kv import KeyValue

if TYPE_CHECKING:
    from kubecrypt.etcd.client import EtcdClient

_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
_DELETE = 1  # mvccpb.Event.EventType.DELETE


class WatchCompacted(EtcdError):
    """The watch asked for history etcd no longer has."""

    def __init__(self, message: str, requested: int, compact_revision: int) -> None:
        super().__init__(message)
        self.requested = requested
        self.compact_revision = compact_revision


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    """For DELETE: the key, an empty value, and the deletion's revision as mod_revision."""
    prev_kv: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class WatchBatch:
    events: list[WatchEvent]
    revision: int
    """etcd's store revision when it sent this batch (with no events: a progress notification,
    everything up to here has been delivered)."""


async def watch(
    client: EtcdClient,
    prefix: str | bytes,
    *,
    start_revision: int = 0,
    prev_kv: bool = True,
    progress_notify: bool = False,
    reconnect_for: float = 30.0,
) -> AsyncGenerator[WatchBatch, None]:
    """Batches of events for keys under ``prefix`` from ``start_revision`` (0: from now)."""
    key = prefix.encode() if isinstance(prefix, str) else prefix
    end = prefix_range_end(key) if key else b"\x00"
    where = client.settings.describe()
    next_rev = start_revision
    backoff, failing_since = 0.1, 0.0

    def kv(pb: object) -> KeyValue:
        return KeyValue(pb.key, pb.value, pb.mod_revision, pb.create_revision, pb.version)  # type: ignore[attr-defined]

    while True:
        create = WatchCreateRequest(
            key=key, range_end=end, start_revision=next_rev, prev_kv=prev_kv,
            progress_notify=progress_notify,
        )

        async def requests(req: WatchCreateRequest = create) -> AsyncIterator[WatchRequest]:
            yield WatchRequest(create_request=req)
            await asyncio.Event().wait()  # keep the stream open; etcd ends it on cancel

        call = WatchStub(client.channel).Watch(requests(), metadata=client.grpc_metadata())  # type: ignore[call-arg]
        try:
            async for resp in call:
                backoff, failing_since = 0.1, 0.0
                if resp.compact_revision > 0:
                    raise WatchCompacted(
                        f"etcd at {where} has compacted the history a watch of "
                        f"{key.decode('utf-8', 'backslashreplace')} asked for (revision "
                        f"{next_rev}; the oldest kept is {resp.compact_revision + 1}); list again "
                        "and watch from the list's revision",
                        next_rev,
                        int(resp.compact_revision),
                    )
                if resp.canceled:
                    reason = resp.cancel_reason or "etcd cancelled the watch"
                    if "permission denied" in reason or "auth" in reason:
                        raise EtcdAuthError(f"etcd at {where} refused the watch: {reason}")
                    raise EtcdError(f"etcd at {where} cancelled the watch: {reason}")
                if resp.created:
                    if next_rev == 0:
                        next_rev = int(resp.header.revision) + 1
                    continue
                events = [
                    WatchEvent(
                        "DELETE" if ev.type == _DELETE else "PUT",
                        kv(ev.kv),
                        kv(ev.prev_kv) if ev.HasField("prev_kv") else None,
                    )
                    for ev in resp.events
                ]
                if events:
                    next_rev = events[-1].revision + 1
                else:
                    next_rev = max(next_rev, int(resp.header.revision) + 1)
                yield WatchBatch(events, int(resp.header.revision))
            raise EtcdUnavailable(f"etcd at {where} ended the watch stream; watch again")
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and call.cancelled():
                return
            if exc.code() not in _TRANSIENT:
                if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                    raise EtcdAuthError(
                        f"etcd at {where} refused the watch: {exc.details() or exc.code().name}"
                    ) from None
                raise EtcdError(
                    f"etcd at {where} failed the watch: {exc.details() or exc.code().name}"
                ) from None
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since > reconnect_for:
                raise EtcdUnavailable(
                    f"cannot watch etcd at {where}: unreachable for {reconnect_for:.0f} s; "
                    "is etcd running there?"
                ) from None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        finally:
            call.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.sleep(0)
