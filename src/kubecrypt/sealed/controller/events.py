"""Events on SealedSecrets, as client-go's recorder writes them (source ``sealed-secrets``).
A repeat of the last event of an object is not written again."""

from __future__ import annotations

import logging
import time
from typing import Any

from kubecrypt.sealed.controller.kube import Kube, message_of
from kubecrypt.sealed.controller.status import now
from kubecrypt.sealed.objects import SEALED_API_VERSION, SEALED_KIND

log = logging.getLogger("kubecrypt.sealed.controller.events")
COMPONENT = "sealed-secrets"
NORMAL, WARNING = "Normal", "Warning"


class Recorder:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._last: dict[str, tuple[str, str]] = {}
        self.failed = 0

    def forget(self, uid: str) -> None:
        self._last.pop(uid, None)

    async def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if self._last.get(uid) == (reason, message):
            return
        self._last[uid] = (reason, message)
        stamp = now()
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}",
                         "namespace": meta.get("namespace") or "default"},
            "involvedObject": {"kind": SEALED_KIND, "apiVersion": SEALED_API_VERSION,
                               "namespace": meta.get("namespace"), "name": meta.get("name"),
                               "uid": uid, "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }
        try:
            await self.kube.create_event(event)
        except Exception as exc:  # events are best effort, as client-go's
            self.failed += 1
            log.debug("could not record event %s on %s/%s: %s", reason, meta.get("namespace"),
                      meta.get("name"), message_of(exc))
