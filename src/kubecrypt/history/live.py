"""Does the cluster still hold an exposed value? The live Secret's item is hashed with the run's
HMAC key and compared with the exposed value's hash; the value itself is never kept."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from kubecrypt.history.audit import SEALED, Exposure

# (namespace, name) -> the Secret, None when it does not exist; raises when it cannot be known
GetSecret = Callable[[str, str], dict[str, Any] | None]


def mark_live(exposed: list[Exposure], get_secret: GetSecret,
              digest: Callable[[bytes], str]) -> None:
    secrets: dict[tuple[str, str], dict[str, Any] | Exception | None] = {}
    for e in exposed:
        if e.kind != SEALED or not e.namespace or not e.name:
            continue  # cluster-wide without a namespace, or SOPS: nothing to compare with
        where = (e.namespace, e.name)
        if where not in secrets:
            try:
                secrets[where] = get_secret(*where)
            except Exception as exc:  # unreachable, forbidden: unknown, not "rotated"
                secrets[where] = exc
        secret = secrets[where]
        if isinstance(secret, Exception):
            e.live = None
            continue
        value = ((secret or {}).get("data") or {}).get(e.item)
        if value is None:
            e.live = False
            continue
        try:
            e.live = digest(base64.b64decode(value, validate=True)) == e.value_hmac
        except (binascii.Error, ValueError):
            e.live = None


__all__ = ["GetSecret", "mark_live"]
