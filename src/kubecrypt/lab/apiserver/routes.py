"""URL paths to resources: ``/api/v1/...`` and ``/apis/<group>/<version>/...``, namespaced or
cluster-wide, with an optional name and subresource."""

from __future__ import annotations

from dataclasses import dataclass

from kubecrypt.lab.apiserver.registry import REGISTRY
from kubecrypt.lab.apiserver.resources import Resource


@dataclass(frozen=True)
class Target:
    resource: Resource
    namespace: str | None  # None: all namespaces (or a cluster-scoped resource)
    name: str | None
    subresource: str = ""


def parse(path: str) -> Target | None:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace: str | None = None
    # /namespaces/<ns>/<plural>[/<name>[/<sub>]], unless it is /api/v1/namespaces/<name>/status
    ns_subresource = group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")
    ns_subresource = ns_subresource and rest[0] == "namespaces"
    if rest[0] == "namespaces" and len(rest) >= 3 and not ns_subresource:
        namespace, rest = rest[1], rest[2:]
    res = REGISTRY.lookup(group, version, rest[0])
    if res is None:
        return None
    if namespace is not None and not res.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else ""
    if len(rest) > 3:
        return None
    if sub and not ((sub == "status" and res.status_subresource)
                    or sub in dict(res.subresources)):
        return None
    return Target(res, namespace, name, sub)
