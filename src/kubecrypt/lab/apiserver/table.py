"""Server-side printing (``Accept: application/json;as=Table;...``), so ``kubectl get`` prints the
columns it prints against a cluster (upstream: pkg/printers/internalversion/printers.go)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kubecrypt.lab.apiserver.resources import Resource

CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

Column = tuple[str, str, str, Callable[[dict[str, Any]], Any]]  # name, type, description, cell


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y, d = h // 24 // 365, h // 24 % 365
        return f"{y}y" if d == 0 else f"{y}y{d}d"
    return f"{h // 24 // 365}y"


def age(obj: dict[str, Any]) -> str:
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    try:
        created = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - created).total_seconds())


def _name(o: dict[str, Any]) -> str:
    return str((o.get("metadata") or {}).get("name", ""))


def _get(o: Any, *path: str | int) -> Any:
    """``o[path...]`` or None: a custom resource's status may hold anything."""
    for p in path:
        if isinstance(p, int):
            o = o[p] if isinstance(o, list) and len(o) > p else None
        else:
            o = o.get(p) if isinstance(o, dict) else None
    return o


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _condition(o: dict[str, Any], field: str) -> str:
    return _text(_get(o, "status", "conditions", 0, field))


_NAME: Column = ("Name", "string", "Name must be unique within a namespace.", _name)
_AGE: Column = ("Age", "string", "CreationTimestamp is a timestamp representing the server time "
                "when this object was created.", age)

COLUMNS: dict[str, list[Column]] = {
    "Secret": [_NAME, ("Type", "string", "Used to facilitate programmatic handling of secret "
                       "data.", lambda o: _text(o.get("type"))),
               ("Data", "string", "Contains the secret data.", lambda o: len(o.get("data") or {})),
               _AGE],
    "Namespace": [_NAME, ("Status", "string", "The status of the namespace",
                          lambda o: _text(_get(o, "status", "phase"))), _AGE],
    "Lease": [_NAME, ("Holder", "string", "holderIdentity contains the identity of the holder "
                      "of a current lease.", lambda o: _text(_get(o, "spec", "holderIdentity"))),
              _AGE],
    "SealedSecret": [_NAME, ("Status", "string", "", lambda o: _condition(o, "message")),
                     ("Synced", "string", "", lambda o: _condition(o, "status")), _AGE],
    # Sealed Secrets controller support (its Service and Events).
    "Service": [_NAME, ("Ports", "string", "", lambda o: ",".join(
        f"{_text(p.get('port'))}/{_text(p.get('protocol') or 'TCP')}"
        for p in _get(o, "spec", "ports") or [] if isinstance(p, dict))), _AGE],
    "Event": [("Last Seen", "string", "", lambda o: _text(o.get("lastTimestamp"))),
              ("Type", "string", "", lambda o: _text(o.get("type"))),
              ("Reason", "string", "", lambda o: _text(o.get("reason"))),
              ("Object", "string", "", lambda o: "{}/{}".format(
                  _text(_get(o, "involvedObject", "kind")).lower(),
                  _text(_get(o, "involvedObject", "name")))),
              ("Message", "string", "", lambda o: _text(o.get("message")))],
}


def column_definitions(res: Resource) -> list[dict[str, Any]]:
    return [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d,
             "priority": 0} for n, t, d, _ in COLUMNS[res.kind]]


def row(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {"cells": [cell(obj) for _, _, _, cell in COLUMNS[res.kind]],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": meta}}


def table(res: Resource, items: list[dict[str, Any]], list_meta: dict[str, Any],
          with_columns: bool = True) -> dict[str, Any]:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": column_definitions(res) if with_columns else [],
            "rows": [row(res, o) for o in items]}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept
