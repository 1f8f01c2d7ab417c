"""The Kubernetes objects in one blob, tolerant of anything else: YAML (multi-document), JSON
(one object or a stream), and ``List``-kind objects (``kubectl get -o yaml``) opened into
their items. A blob that is not a manifest gives nothing; it is never an error here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from kubecrypt.errors import KubecryptError
from kubecrypt.sealed.documents import load_documents

# libyaml when PyYAML has it: a history holds thousands of manifests, and the pure-Python
# parser costs ~20 ms for one SealedSecret (more than the RSA work to open it).
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def objects(data: bytes) -> Iterator[dict[str, Any]]:
    try:
        docs = _load(data)
    except (KubecryptError, RecursionError, ValueError, yaml.YAMLError):
        return
    for doc in docs:
        if isinstance(doc, dict):
            yield from _expand(doc, 0)


def _load(data: bytes) -> list[Any]:
    if _FAST_LOADER is None or data.lstrip()[:1] == b"{":
        return list(load_documents(data, "blob"))  # JSON streams, or no libyaml
    return list(yaml.load_all(data.decode("utf-8"), Loader=_FAST_LOADER))


def _expand(doc: dict[str, Any], depth: int) -> Iterator[dict[str, Any]]:
    items = doc.get("items")
    if str(doc.get("kind") or "").endswith("List") and isinstance(items, list) and depth < 4:
        for item in items:
            if isinstance(item, dict):
                yield from _expand(item, depth + 1)
        return
    yield doc


__all__ = ["objects"]
