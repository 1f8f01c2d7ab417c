"""Server-side printing (``Accept: application/json;as=Table;...``), so ``kubectl get`` prints the
columns it prints against a cluster (upstream: pkg/printers/internalversion/printers.go)."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver.columns import age, human_duration
from kubecrypt.lab.apiserver.resources import Resource

__all__ = ["CONTENT_TYPE", "age", "human_duration", "table", "wants_table"]

CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

def column_definitions(res: Resource) -> list[dict[str, Any]]:
    return [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d,
             "priority": 0} for n, t, d, _ in res.strategy.columns]


def row(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {"cells": [cell(obj) for _, _, _, cell in res.strategy.columns],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": meta}}


def table(res: Resource, items: list[dict[str, Any]], list_meta: dict[str, Any],
          with_columns: bool = True) -> dict[str, Any]:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": column_definitions(res) if with_columns else [],
            "rows": [row(res, o) for o in items]}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept
