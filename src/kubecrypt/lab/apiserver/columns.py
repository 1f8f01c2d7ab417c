"""Table columns (server-side printing) and the helpers the kinds build them from
(upstream: pkg/printers/internalversion/printers.go)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

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


def since(ts: Any) -> str:
    if not ts or not isinstance(ts, str):
        return "<unknown>"
    try:
        when = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - when).total_seconds())


def age(obj: dict[str, Any]) -> str:
    return since((obj.get("metadata") or {}).get("creationTimestamp"))


def get(o: Any, *path: str | int) -> Any:
    """``o[path...]`` or None: an object may hold anything."""
    for p in path:
        if isinstance(p, int):
            o = o[p] if isinstance(o, list) and len(o) > p else None
        else:
            o = o.get(p) if isinstance(o, dict) else None
    return o


def text(value: Any) -> str:
    return "" if value is None else str(value)


def name(o: dict[str, Any]) -> str:
    return str((o.get("metadata") or {}).get("name", ""))


def col(title: str, cell: Callable[[dict[str, Any]], Any], kind: str = "string",
        description: str = "") -> Column:
    return (title, kind, description, cell)


def path(*p: str | int) -> Callable[[dict[str, Any]], str]:
    return lambda o: text(get(o, *p))


NAME: Column = ("Name", "string", "Name must be unique within a namespace.", name)
AGE: Column = ("Age", "string", "CreationTimestamp is a timestamp representing the server time "
               "when this object was created.", age)
