"""What the controller writes: ownership rules and the desired Secret over an existing one
(``bitnami-labs/sealed-secrets:pkg/controller/controller.go``, §3.8 of the spec)."""

from __future__ import annotations

import copy
from typing import Any

MANAGED_ANNOTATION = "sealedsecrets.bitnami.com/managed"
PATCH_ANNOTATION = "sealedsecrets.bitnami.com/patch"
ERR_RESOURCE_EXISTS = 'Resource "{}" already exists and is not managed by SealedSecret'
IMMUTABLE_SUFFIX = "field is immutable when `immutable` is set"
ERR_IMMUTABLE = (
    "Error updating {}/{}: the target Secret is immutable. Once a Secret is marked as "
    "immutable, it is not possible to revert this change nor to mutate the contents of the data "
    "field. You can only delete and recreate the Secret."
)


def _annotation(obj: dict[str, Any], name: str) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(name) == "true"


def is_managed(secret: dict[str, Any]) -> bool:
    return _annotation(secret, MANAGED_ANNOTATION)


def is_patch(secret: dict[str, Any]) -> bool:
    return _annotation(secret, PATCH_ANNOTATION)


def controlled_by(secret: dict[str, Any], sealed_secret: dict[str, Any]) -> bool:
    uid = (sealed_secret.get("metadata") or {}).get("uid")
    return any(ref.get("controller") is True and ref.get("uid") == uid
               for ref in (secret.get("metadata") or {}).get("ownerReferences") or [])


def may_write(secret: dict[str, Any], sealed_secret: dict[str, Any]) -> bool:
    return controlled_by(secret, sealed_secret) or is_managed(secret) or is_patch(secret)


def desired(existing: dict[str, Any], unsealed: dict[str, Any]) -> dict[str, Any]:
    """The Secret to write over ``existing``: data, labels, annotations and ownerReferences
    replaced wholesale, or with ``patch`` merged (ownerReferences only if also ``managed``);
    ``type`` always set; ``immutable`` and finalizers left as they are."""
    out = copy.deepcopy(existing)
    meta = out.setdefault("metadata", {})
    new_meta = unsealed.get("metadata") or {}
    if is_patch(existing):
        data = dict(out.get("data") or {})
        data.update(unsealed.get("data") or {})
        out["data"] = data
        for field in ("labels", "annotations"):
            merged = dict(meta.get(field) or {})
            merged.update(new_meta.get(field) or {})
            meta[field] = merged
        if is_managed(existing):
            _set(meta, "ownerReferences", new_meta.get("ownerReferences"))
    else:
        out["data"] = dict(unsealed.get("data") or {})
        for field in ("labels", "annotations", "ownerReferences"):
            _set(meta, field, new_meta.get(field))
    if unsealed.get("type"):
        out["type"] = unsealed["type"]
    else:
        out.pop("type", None)
    if not out["data"]:
        out.pop("data")
    return out


def _set(meta: dict[str, Any], field: str, value: Any) -> None:
    if value:
        meta[field] = copy.deepcopy(value)
    else:
        meta.pop(field, None)


def _view(secret: dict[str, Any]) -> tuple[Any, ...]:
    meta = secret.get("metadata") or {}
    return (secret.get("data") or {}, meta.get("labels") or {}, meta.get("annotations") or {},
            meta.get("ownerReferences") or [], secret.get("type") or "Opaque")


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Semantically equal for what the controller writes."""
    return _view(a) == _view(b)


def for_create(unsealed: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(unsealed)
    meta = out.setdefault("metadata", {})
    for f in ("uid", "resourceVersion", "creationTimestamp", "generation", "selfLink",
              "deletionTimestamp", "managedFields"):
        meta.pop(f, None)
    return out
