"""The SealedSecret's ``status``: one ``Synced`` condition and ``observedGeneration``, written
only when the condition's status or the generation changed (§3.9)."""

from __future__ import annotations

import datetime as dt
from typing import Any

SYNCED = "Synced"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def synced(sealed_secret: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (sealed_secret.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == SYNCED:
            return cond
    return None


def next_status(sealed_secret: dict[str, Any], error: str | None) -> dict[str, Any] | None:
    """The status to write after an attempt, or None when nothing needs writing."""
    status = dict(sealed_secret.get("status") or {})
    generation = (sealed_secret.get("metadata") or {}).get("generation")
    want = "False" if error else "True"
    current = synced(sealed_secret)
    if current is not None and current.get("status") == want and \
            status.get("observedGeneration") == generation:
        return None
    stamp = now()
    cond: dict[str, Any] = {"type": SYNCED, "status": want, "lastUpdateTime": stamp,
                            "lastTransitionTime": stamp}
    if current is not None and current.get("status") == want and \
            current.get("lastTransitionTime"):
        cond["lastTransitionTime"] = current["lastTransitionTime"]
    if error:
        cond["message"] = error
    others = [c for c in status.get("conditions") or []
              if isinstance(c, dict) and c.get("type") != SYNCED]
    status["conditions"] = [cond, *others]
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def condition_value(sealed_secret: dict[str, Any]) -> float:
    """For the condition_info gauge: -1 False, 0 Unknown, 1 True."""
    cond = synced(sealed_secret)
    value = cond.get("status") if cond else "Unknown"
    return {"True": 1.0, "False": -1.0}.get(str(value), 0.0)
