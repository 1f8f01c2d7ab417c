"""What kube-apiserver does to an object before it is stored: defaults, server-set fields,
fields an update may not change, and validation (upstream: each kind's ``strategy.go``)."""

from __future__ import annotations

import copy
import datetime as dt
import secrets
import uuid
from typing import Any

from kubecrypt.lab.apiserver import errors, validation
from kubecrypt.lab.apiserver.resources import Resource

_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # upstream's utilrand alphanums
_SERVER_SET = ("resourceVersion", "uid", "deletionTimestamp", "deletionGracePeriodSeconds",
               "selfLink", "creationTimestamp", "generation", "managedFields")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _generate_name(meta: dict[str, Any]) -> None:
    base = meta.get("generateName") or ""
    if not meta.get("name") and base:
        base = base[: 253 - 5]
        meta["name"] = base + "".join(secrets.choice(_GENERATE_CHARS) for _ in range(5))


def _validate(res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    causes = validation.validate_metadata(obj, res.namespaced, res.strategy.name_check)
    causes += res.strategy.validate(obj, old)
    if causes:
        name = (obj.get("metadata") or {}).get("name", "")
        raise errors.invalid(res.kind, name, causes, res.group if res.custom else "")


def check_shape(res: Resource, obj: dict[str, Any]) -> None:
    if not isinstance(obj, dict):
        raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a '
                                 f"{res.kind}: the body must be a JSON object")
    version, kind = obj.get("apiVersion"), obj.get("kind")
    if version and version != res.group_version:
        raise errors.bad_request(f"the API version in the data ({version}) does not match the "
                                 f"expected API version ({res.group_version})")
    if kind and kind != res.kind:
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected "
                                 f"kind ({res.kind})")
    validation.check_metadata_types(res.kind, res.version, obj.get("metadata", {}))
    res.strategy.check_shape(obj)


def prepare_create(res: Resource, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    check_shape(res, obj)
    obj = copy.deepcopy(obj)
    obj["apiVersion"], obj["kind"] = res.group_version, res.kind
    meta = obj.setdefault("metadata", {})
    if res.namespaced:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    for f in _SERVER_SET:
        meta.pop(f, None)
    _generate_name(meta)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    if res.strategy.tracks_generation:
        meta["generation"] = 1
    if res.status_subresource:
        obj.pop("status", None)
    res.strategy.on_create(obj)
    _validate(res, obj, None)
    return obj


def _spec_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    strip = ("metadata", "status", "apiVersion", "kind")
    return {k: v for k, v in new.items() if k not in strip} != \
        {k: v for k, v in old.items() if k not in strip}


def prepare_update(res: Resource, obj: dict[str, Any], old: dict[str, Any],
                   subresource: str = "") -> dict[str, Any]:
    """The object to store for a PUT (or a patched object) over ``old``."""
    check_shape(res, obj)
    new = copy.deepcopy(obj)
    new["apiVersion"], new["kind"] = res.group_version, res.kind
    meta = new.setdefault("metadata", {})
    old_meta = old["metadata"]
    if subresource == "status":
        # /status changes only status (and nothing in metadata but what upstream allows).
        new = {**copy.deepcopy(old), "status": new.get("status")}
        if new["status"] is None:
            new.pop("status")
        meta = new["metadata"]
    elif subresource == "finalize":
        # Namespace /finalize: only spec.finalizers changes (the namespace controller's call).
        finalizers = (new.get("spec") or {}).get("finalizers") or []
        new = {**copy.deepcopy(old), "spec": {"finalizers": finalizers} if finalizers else {}}
        meta = new["metadata"]
    else:
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "name", "namespace"):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        meta.pop("managedFields", None)
        if res.status_subresource:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        res.strategy.on_update(new, old)
        if res.strategy.tracks_generation and _spec_changed(new, old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
    meta["resourceVersion"] = old_meta.get("resourceVersion")
    if subresource == "status":
        res.strategy.on_status_update(new, old)
    _validate(res, new, old)
    return new


def check_name(res: Resource, obj: dict[str, Any], name: str) -> None:
    check_shape(res, obj)
    body_name = (obj.get("metadata") or {}).get("name")
    if body_name and body_name != name:
        raise errors.bad_request(f"the name of the object ({body_name}) does not match the name "
                                 f"on the URL ({name})")


def strip_unknown_fields(res: Resource, obj: dict[str, Any], strict: bool) -> list[str]:
    """Top-level fields the kind does not have: 400 under fieldValidation=Strict, else dropped
    with a warning (kube-apiserver's default since 1.27 is Warn)."""
    allowed = res.strategy.top_fields
    if allowed is None or not isinstance(obj, dict):
        return []
    unknown = sorted(k for k in obj if k not in allowed)
    if unknown and strict:
        listed = ", ".join(f'unknown field "{k}"' for k in unknown)
        raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a '
                                 f"{res.kind}: strict decoding error: {listed}")
    for k in unknown:
        obj.pop(k)
    return [f'unknown field "{k}"' for k in unknown]
