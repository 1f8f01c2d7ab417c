"""The ``scale`` subresource of Deployments and StatefulSets: an autoscaling/v1 Scale that reads
and writes ``spec.replicas`` of its parent (upstream: pkg/registry/apps/deployment/storage's
ScaleREST, scaleFromDeployment). ``kubectl scale`` merge-patches it."""

from __future__ import annotations

import copy
from typing import Any

from kubecrypt.lab.apiserver import errors, patch, strategy, validation
from kubecrypt.lab.apiserver.objects import Stored
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.lab.apiserver.rest import Rest


def _requirement(expr: dict[str, Any]) -> str:
    key, op = expr.get("key", ""), expr.get("operator", "")
    values = ",".join(sorted(expr.get("values") or []))
    return {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
            "Exists": key, "DoesNotExist": f"!{key}"}.get(op, "")


def selector_string(selector: Any) -> str:
    """A LabelSelector as labels.Selector.String() prints it: requirements sorted by key."""
    if not isinstance(selector, dict):
        return ""
    reqs = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    reqs += [(e.get("key", ""), _requirement(e)) for e in selector.get("matchExpressions") or []
             if isinstance(e, dict)]
    return ",".join(text for _, text in sorted(reqs))


def to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    replicas = 1 if spec.get("replicas") is None else spec["replicas"]
    selector = selector_string(spec.get("selector"))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            # ScaleSpec.replicas and ScaleStatus.selector are omitempty; status.replicas is not.
            "spec": {"replicas": replicas} if replicas else {},
            "status": {"replicas": int(status.get("replicas") or 0),
                       **({"selector": selector} if selector else {})}}


def _replicas(res: Resource, name: str, scale: Any) -> int:
    spec = scale.get("spec") if isinstance(scale, dict) else None
    # ScaleSpec.replicas is a plain int32 with omitempty: absent means 0.
    replicas = (spec or {}).get("replicas", 0) if isinstance(spec, dict) or spec is None else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("Scale", name, [validation.invalid(
            "spec.replicas", replicas, "must be greater than or equal to 0")], "autoscaling")
    return replicas


def _check(scale: Any, name: str) -> None:
    if not isinstance(scale, dict) or scale.get("apiVersion", "autoscaling/v1") != \
            "autoscaling/v1" or scale.get("kind", "Scale") != "Scale":
        raise errors.bad_request("the body must be an autoscaling/v1 Scale object")
    body_name = (scale.get("metadata") or {}).get("name")
    if body_name and body_name != name:
        raise errors.bad_request(f"the name of the object ({body_name}) does not match the name "
                                 f"on the URL ({name})")


async def _write(rest: Rest, res: Resource, namespace: str | None, name: str,
                 query: dict[str, str], scale_of: Any) -> dict[str, Any]:
    async def mutate(current: Stored) -> dict[str, Any] | None:
        scale = scale_of(to_scale(current.obj))
        _check(scale, name)
        wanted = (scale.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current.obj["metadata"]["resourceVersion"]:
            raise errors.conflict(res.qualified, name)
        new = copy.deepcopy(current.obj)
        new.setdefault("spec", {})["replicas"] = _replicas(res, name, scale)
        return strategy.prepare_update(res, new, current.obj)

    return to_scale(await rest._update(res, namespace, name, mutate, query))


async def get(rest: Rest, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
    return to_scale(await rest.get(res, namespace, name))


async def update(rest: Rest, res: Resource, namespace: str | None, name: str, body: Any,
                 query: dict[str, str]) -> dict[str, Any]:
    return await _write(rest, res, namespace, name, query, lambda _current: body)


async def patch_scale(rest: Rest, res: Resource, namespace: str | None, name: str, body: Any,
                      content_type: str, query: dict[str, str]) -> dict[str, Any]:
    media = content_type.split(";")[0].strip().lower()
    if media not in patch.TYPES or media == patch.APPLY:
        raise errors.unsupported_media_type(media, [t for t in patch.TYPES if t != patch.APPLY])
    return await _write(rest, res, namespace, name, query,
                        lambda current: patch.apply(media, current, body))
