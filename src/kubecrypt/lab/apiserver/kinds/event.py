"""core/v1 Event (upstream: pkg/registry/core/event/strategy.go, its field label set)."""

from __future__ import annotations

from kubecrypt.lab.apiserver.columns import col, get, path, since, text
from kubecrypt.lab.apiserver.kindbase import Getter, Strategy, selectors
from kubecrypt.lab.apiserver.resources import RW, Resource


def _field(*p: str) -> Getter:
    return lambda o: text(get(o, *p))


class EventStrategy(Strategy):
    columns = (col("Last Seen", lambda o: since(o.get("lastTimestamp") or o.get("eventTime"))),
               col("Type", path("type")), col("Reason", path("reason")),
               col("Object", lambda o: "{}/{}".format(
                   text(get(o, "involvedObject", "kind")).lower(),
                   text(get(o, "involvedObject", "name")))),
               col("Message", path("message")))
    field_selectors = selectors({
        **{f"involvedObject.{f}": _field("involvedObject", f) for f in (
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": _field("reason"), "reportingComponent": _field("reportingComponent"),
        "source": _field("source", "component"), "type": _field("type"),
    })


STRATEGY = EventStrategy()

EVENTS = Resource("", "v1", "events", "event", "Event", True, False, RW, ("ev",),
                  strategy=STRATEGY)
RESOURCES = (EVENTS,)
