"""The Kubernetes objects in one blob, tolerant of anything else: YAML (multi-document), JSON
(one object or a stream), and ``List``-kind objects (``kubectl get -o yaml``) opened into
their items. A blob that is not a manifest gives nothing; it is never an error here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubecrypt.errors import KubecryptError
from kubecrypt.sealed.documents import load_documents


def objects(data: bytes) -> Iterator[dict[str, Any]]:
    try:
        docs = load_documents(data, "blob")
    except (KubecryptError, RecursionError, ValueError):
        return
    for doc in docs:
        yield from _expand(doc, 0)


def _expand(doc: dict[str, Any], depth: int) -> Iterator[dict[str, Any]]:
    items = doc.get("items")
    if str(doc.get("kind") or "").endswith("List") and isinstance(items, list) and depth < 4:
        for item in items:
            if isinstance(item, dict):
                yield from _expand(item, depth + 1)
        return
    yield doc


__all__ = ["objects"]
