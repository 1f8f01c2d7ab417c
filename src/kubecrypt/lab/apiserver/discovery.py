"""``/version``, plain discovery and the OpenAPI stub: what kubectl and the Python clients read
before their first real request (spec sections 2 to 4)."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver.registry import REGISTRY
from kubecrypt.lab.apiserver.resources import Resource

# kubectl on this machine is a dispatcher that runs the kubectl matching the server's minor.
VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53", "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:58:53Z", "goVersion": "go1.23.3", "compiler": "gc",
    "platform": "linux/amd64",
}

# kubectl needs GET /openapi/v2 to answer 200 with a body that decodes as protobuf; an empty
# document does, and makes kubectl skip client-side schema validation (spec section 4).
OPENAPI_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list() -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for r in REGISTRY.all():
        if r.group and r.version not in groups.setdefault(r.group, []):
            groups[r.group].append(r.version)
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, vs) for g, vs in sorted(groups.items())]}


def api_group(name: str) -> dict[str, Any] | None:
    for g in api_group_list()["groups"]:
        if g["name"] == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def _resource_entries(r: Resource) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular,
                             "namespaced": r.namespaced, "kind": r.kind, "verbs": list(r.verbs)}
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    out = [entry]
    for sub, verbs, kind in _subresources(r):
        out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                    **({"group": kind[0], "version": kind[1]} if kind[0] != r.group else {}),
                    "kind": kind[2], "verbs": list(verbs)})
    return out


def _subresources(r: Resource) -> list[tuple[str, tuple[str, ...], tuple[str, str, str]]]:
    """(name, verbs, (group, version, kind) of what it takes and answers)."""
    out: list[tuple[str, tuple[str, ...], tuple[str, str, str]]] = []
    if r.status_subresource:
        out.append(("status", ("get", "patch", "update"), (r.group, r.version, r.kind)))
    for sub, verbs in r.subresources:
        kind = (r.group, r.version, r.kind)
        if sub == "token":
            kind = ("authentication.k8s.io", "v1", "TokenRequest")
        elif sub == "scale":
            kind = ("autoscaling", "v1", "Scale")
        out.append((sub, verbs, kind))
    return out


def api_resource_list(group_version: str) -> dict[str, Any] | None:
    resources = REGISTRY.group_versions().get(group_version)
    if resources is None:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [e for r in resources for e in _resource_entries(r)]}


# ----------------------------------------------------------------- aggregated discovery
# kubectl >= 1.26 asks for it first. The Content-Type must be exactly this (with the version
# asked for): served as plain application/json, kubectl silently finds no resources at all.
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"


def aggregated_version(accept: str) -> str | None:
    """``v2`` or ``v2beta1`` if the client accepts aggregated discovery (v2 preferred)."""
    offered = accept.replace(" ", "")
    for v in ("v2", "v2beta1"):
        if f"g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList" in offered:
            return v
    return None


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    kind = {"group": r.group, "version": r.version, "kind": r.kind}
    out: dict[str, Any] = {"resource": r.plural, "singularResource": r.singular,
                           "scope": "Namespaced" if r.namespaced else "Cluster",
                           "responseKind": kind, "verbs": list(r.verbs)}
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    subs = [{"subresource": sub, "responseKind": {"group": k[0], "version": k[1], "kind": k[2]},
             "verbs": list(verbs)} for sub, verbs, k in _subresources(r)]
    if subs:
        out["subresources"] = subs
    return out


def aggregated(core: bool, version: str) -> dict[str, Any]:
    """``/api`` (core: one item named "") or ``/apis`` (one item per group)."""
    groups: dict[str, dict[str, list[Resource]]] = {}
    for r in REGISTRY.all():
        if (r.group == "") == core:
            groups.setdefault(r.group, {}).setdefault(r.version, []).append(r)
    items = [{"metadata": {"name": g}, "versions": [
        {"version": v, "freshness": "Current",
         "resources": [_aggregated_resource(r) for r in rs]} for v, rs in versions.items()]}
        for g, versions in sorted(groups.items())]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}
