"""The values of Go's ``text/template`` as the template engine (``gotemplate``) and its function
library (``sprig``) share them: errors, evaluation bounds, ``<no value>``, truth and ``fmt.Print``
rendering. Its own module so that the two import it, not each other."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class TemplateError(Exception):
    pass


class TemplateLimitError(TemplateError):
    """The template exceeded a bound: it would stall the controller for every namespace."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one template's evaluation. A Secret holds at most 1 MiB in all, so no single
    value may be larger; no realistic template takes a million steps or a second."""

    max_output: int = 1024 * 1024  # characters of output, and of any one intermediate value
    max_steps: int = 1_000_000  # actions and range iterations
    max_seconds: float = 2.0


LIMITS = Limits()


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


def truth(value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool | int | float | str | list | dict | tuple):
        return bool(value)
    return True


def to_text(value: Any) -> str:
    """Go's ``fmt.Print`` rendering of a value."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(to_text(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{to_text(k)}:{to_text(v)}" for k, v in sorted(value.items()))
        return "map[" + " ".join(pairs) + "]"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _go_float(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)
