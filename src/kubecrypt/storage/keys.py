"""etcd key layout: ``<prefix>/<resource>/<namespace>/<name>`` as kube-apiserver writes it.

Historic exceptions from kubernetes/kubernetes test/integration/etcd/data.go; custom resources
live under ``<prefix>/<group>/<plural>/``."""

from __future__ import annotations

DEFAULT_PREFIX = "/registry"

# EncryptionConfiguration resource spelling -> path segment(s) under the prefix.
_SPECIAL = {
    "services": "services/specs",
    "endpoints": "services/endpoints",
    "nodes": "minions",
    "replicationcontrollers": "controllers",
}
_CORE_CLUSTER_SCOPED = {"namespaces", "nodes", "persistentvolumes"}
_BUILTIN_GROUPS = {
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "coordination.k8s.io",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "events",
}


def _segment(resource: str) -> str:
    name, _, group = resource.partition(".")
    if not group:
        return _SPECIAL.get(name, name)
    if group in _BUILTIN_GROUPS:
        return name
    return f"{group}/{name}"


def normalize_prefix(prefix: str) -> str:
    return "/" + prefix.strip("/")


def etcd_key(resource: str, namespace: str | None, name: str, prefix: str = DEFAULT_PREFIX) -> str:
    parts = [normalize_prefix(prefix), _segment(resource)]
    if namespace:
        parts.append(namespace)
    parts.append(name)
    return "/".join(parts)


def parse_etcd_key(key: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, str | None, str]:
    """(resource, namespace or None, name) for a key under ``prefix``; raises ValueError otherwise."""
    p = normalize_prefix(prefix) + "/"
    if not key.startswith(p):
        raise ValueError(f"etcd key {key!r} is not under {p}")
    parts = key[len(p) :].split("/")
    for res, seg in _SPECIAL.items():
        seg_parts = seg.split("/")
        if parts[: len(seg_parts)] == seg_parts and len(parts) > len(seg_parts):
            rest = parts[len(seg_parts) :]
            return res, (rest[0] if len(rest) == 2 else None), rest[-1]
    if len(parts) >= 3 and "." in parts[0]:
        resource = f"{parts[1]}.{parts[0]}"
        rest = parts[2:]
    else:
        resource = parts[0]
        rest = parts[1:]
    if not rest or not rest[-1]:
        raise ValueError(f"etcd key {key!r} names no object")
    if len(rest) == 1:
        return resource, None, rest[0]
    return resource, rest[0], rest[-1]
