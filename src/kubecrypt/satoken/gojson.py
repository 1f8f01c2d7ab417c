"""JSON bytes as Go's encoding/json writes them, for documents kube-apiserver serves byte for
byte (the OIDC discovery document, the JWKS, JWT payloads): compact, UTF-8, and <, >, & (and
U+2028/U+2029) escaped as \\u003c, \\u003e, \\u0026. Key order is the caller's: pass struct fields
in Go's declared order, and ``sort_keys`` for Go maps (encoding/json sorts map keys)."""

from __future__ import annotations

import json
from typing import Any


def _sorted(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(v) for v in obj]
    return obj


def go_json(obj: Any, *, sort_keys: bool = False) -> bytes:
    text = json.dumps(_sorted(obj) if sort_keys else obj, separators=(",", ":"),
                      ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text.encode("utf-8")
