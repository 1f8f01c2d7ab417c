"""Go ``time.Duration`` strings (``3s``, ``1m30s``, ``500ms``), as metav1.Duration accepts them."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds for a Go duration string; raises ValueError like ``time.ParseDuration``."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: float) -> str:
    if seconds == int(seconds):
        whole = int(seconds)
        h, rest = divmod(whole, 3600)
        m, s = divmod(rest, 60)
        out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"
        return out
    return f"{seconds * 1000:g}ms"
