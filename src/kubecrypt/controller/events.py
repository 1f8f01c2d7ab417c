"""Events on SealedSecrets, as client-go's recorder writes them (source ``sealed-secrets``).

A repeat of an event (same object, type, reason and message: client-go's ``getEventKey`` in
tools/record/events_cache.go) is correlated as client-go does it: the existing Event gets
``count + 1`` and a new ``lastTimestamp`` (a PATCH), so ``kubectl describe`` shows ``(x3 over
2m)``; a new Event is created only when the old one is gone."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kubecrypt.controller.kube import Kube, code_of, message_of
from kubecrypt.controller.status import now
from kubecrypt.sealed.objects import SEALED_API_VERSION, SEALED_KIND

log = logging.getLogger("kubecrypt.controller.events")
COMPONENT = "sealed-secrets"
NORMAL, WARNING = "Normal", "Warning"
CACHE_SIZE = 4096  # client-go's maxLruCacheEntries


@dataclass
class _Seen:
    namespace: str
    name: str
    count: int


class Recorder:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._seen: OrderedDict[tuple[str, str, str, str], _Seen] = OrderedDict()
        self.failed = 0

    def forget(self, uid: str) -> None:
        for key in [k for k in self._seen if k[0] == uid]:
            del self._seen[key]

    async def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        key = (uid, type_, reason, message)
        stamp = now()
        seen = self._seen.get(key)
        try:
            if seen is not None and await self._bump(seen, stamp):
                self._seen.move_to_end(key)
                return
            namespace = str(meta.get("namespace") or "default")
            name = f"{meta.get('name')}.{time.time_ns():x}"
            await self.kube.create_event({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {"kind": SEALED_KIND, "apiVersion": SEALED_API_VERSION,
                                   "namespace": meta.get("namespace"), "name": meta.get("name"),
                                   "uid": uid, "resourceVersion": meta.get("resourceVersion")},
                "reason": reason, "message": message, "type": type_,
                "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
                "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            })
            self._seen[key] = _Seen(namespace, name, 1)
            self._seen.move_to_end(key)
            while len(self._seen) > CACHE_SIZE:
                self._seen.popitem(last=False)
        except Exception as exc:  # events are best effort, as client-go's
            self.failed += 1
            log.debug("could not record event %s on %s/%s: %s", reason, meta.get("namespace"),
                      meta.get("name"), message_of(exc))

    async def _bump(self, seen: _Seen, stamp: str) -> bool:
        """PATCH the existing Event; False when it is gone (expired), so a new one is made."""
        try:
            await self.kube.patch_event(seen.namespace, seen.name,
                                        {"count": seen.count + 1, "lastTimestamp": stamp})
        except Exception as exc:
            if code_of(exc) == 404:
                return False
            raise
        seen.count += 1
        return True
