"""Custom resources: the strategy a CustomResourceDefinition version describes (upstream:
apiextensions-apiserver pkg/registry/customresource/strategy.go and tableconvertor): generation
tracking, printer columns from ``additionalPrinterColumns`` (JSONPath cells, ``date`` as an
age), no field selectors beyond metadata."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubecrypt.lab.apiserver.columns import AGE, NAME, Column, get, since, text
from kubecrypt.lab.apiserver.kindbase import Strategy

_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")


def json_path(expr: str) -> Callable[[dict[str, Any]], Any]:
    """The simple JSONPath forms printer columns use: ``.a.b[0].c`` (``{...}`` allowed)."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    steps: list[str | int] = []
    for m in _STEP.finditer(expr):
        steps.append(int(m.group(2)) if m.group(2) is not None else (m.group(1) or m.group(3)))
    return lambda o: get(o, *steps)


def _cell(kind: str, getter: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    if kind == "date":
        return lambda o: since(getter(o)) if getter(o) else "<unknown>"

    def cell(o: dict[str, Any]) -> Any:
        v = getter(o)
        if isinstance(v, (dict, list)):
            import json
            return json.dumps(v, separators=(",", ":"))
        return text(v) if kind == "string" or v is None else v
    return cell


class CustomStrategy(Strategy):
    tracks_generation = True

    def __init__(self, printer_columns: list[dict[str, Any]] | None = None) -> None:
        cols: list[Column] = [NAME]
        for c in printer_columns or []:
            if not isinstance(c, dict) or not c.get("jsonPath") or not c.get("name"):
                continue
            if int(c.get("priority") or 0) > 0:
                continue
            kind = str(c.get("type") or "string")
            cols.append((str(c["name"]), "string" if kind == "date" else kind,
                         str(c.get("description") or ""), _cell(kind, json_path(c["jsonPath"]))))
        if not printer_columns:
            cols.append(AGE)
        self.columns = tuple(cols)
