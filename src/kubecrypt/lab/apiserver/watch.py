"""Watches: one JSON event per line over a chunked response, fed by an etcd watch
(upstream: apiserver/pkg/storage/etcd3/watcher.go and endpoints/handlers/watch.go).

resourceVersion unset or "0" starts with a synthetic ADDED for every matching object; N resumes
after revision N; a compacted N ends the stream with a 410 ERROR event. Selectors see both the
old and the new object, so an object that stops matching is reported as DELETED."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from kubecrypt.lab.apiserver import errors, selectors, table
from kubecrypt.lab.apiserver.etcdstore import Compacted, Event, StoreUnavailable
from kubecrypt.lab.apiserver.objects import Objects
from kubecrypt.lab.apiserver.resources import Resource

log = logging.getLogger("kubecrypt.lab.watch")


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


class Watch:
    def __init__(self, objects: Objects, res: Resource, namespace: str | None,
                 query: dict[str, str], as_table: bool) -> None:
        self.objects = objects
        self.res = res
        self.namespace = namespace
        self.match = selectors.matcher(query, res.strategy.field_selectors)
        self.as_table = as_table
        self.columns_sent = False
        rv = query.get("resourceVersion") or "0"
        try:
            self.start = int(rv)
        except ValueError:
            raise errors.bad_request(f"invalid resource version {rv!r}") from None
        try:
            timeout = float(query.get("timeoutSeconds") or 0)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds") from None
        self.deadline = time.monotonic() + timeout if timeout > 0 else None
        self.bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        self._initial: list[dict[str, Any]] = []

    async def prepare(self) -> None:
        """The initial list for resourceVersion unset/0, before the 200 goes out, so that an
        etcd outage is a 503 rather than an ERROR event inside a 200."""
        if self.start == 0:
            self._initial, self.start, _ = await self.objects.list(self.res, self.namespace,
                                                                  self.match)

    def _event(self, kind: str, obj: dict[str, Any]) -> bytes:
        if self.as_table:
            rv = obj["metadata"].get("resourceVersion", "")
            obj = table.table(self.res, [obj], {"resourceVersion": rv},
                              with_columns=not self.columns_sent)
            self.columns_sent = True
        return _line(kind, obj)

    def _translate(self, ev: Event) -> bytes | None:
        try:
            new = self.objects.open_kv(self.res, ev.kv).obj if ev.type == "PUT" else None
            old = self.objects.open_kv(self.res, ev.prev).obj if ev.prev is not None else None
        except errors.ApiError as exc:
            log.error("watch: skipping %s: %s", ev.kv.key, exc.message)
            return None
        new_ok = new is not None and self.match(new)
        old_ok = old is not None and self.match(old)
        if new is not None and new_ok:
            return self._event("MODIFIED" if old_ok else "ADDED", new)
        if old is not None and old_ok:
            # Deleted (or no longer selected): the last state, at the deletion's revision.
            last = new if new is not None else old
            last["metadata"]["resourceVersion"] = str(ev.kv.mod_revision)
            return self._event("DELETED", last)
        return None

    async def stream(self) -> AsyncIterator[bytes]:
        self.objects.watches += 1
        try:
            async with asyncio.timeout_at(self._loop_deadline()):
                async for chunk in self._events():
                    yield chunk
        except TimeoutError:
            return
        finally:
            self.objects.watches -= 1

    def _loop_deadline(self) -> float | None:
        if self.deadline is None:
            return None
        return asyncio.get_running_loop().time() + max(0.0, self.deadline - time.monotonic())

    async def _events(self) -> AsyncIterator[bytes]:
        start = self.start
        prefix = self.res.prefix(self.namespace)
        try:
            for obj in self._initial:
                yield self._event("ADDED", obj)
            self._initial = []
            async for batch in self.objects.store.watch(prefix, start + 1):
                for ev in batch:
                    line = self._translate(ev)
                    if line is not None:
                        yield line
        except Compacted as exc:
            yield _line("ERROR", errors.expired(start, exc.compact_revision).status())
        except StoreUnavailable as exc:
            yield _line("ERROR", errors.unavailable(str(exc)).status())
        except errors.ApiError as exc:
            yield _line("ERROR", exc.status())
