"""apiextensions.k8s.io/v1 CustomResourceDefinition (upstream: apiextensions-apiserver
pkg/registry/customresourcedefinition/strategy.go and its establishing/naming controllers, done
at once here): names accepted and Established on create; each served version becomes a
Resource in the registry (``resources_of``), stored as JSON under ``/registry/<group>/<plural>``.
Schemas are stored but not enforced (no pruning, no defaulting, no validation webhooks)."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver import validation
from kubecrypt.lab.apiserver.columns import NAME, col, get, text
from kubecrypt.lab.apiserver.errors import Cause
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.kinds.custom import CustomStrategy
from kubecrypt.lab.apiserver.resources import RW, Resource

GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _now() -> str:
    from kubecrypt.lab.apiserver.strategy import now

    return now()


def _names(spec: dict[str, Any]) -> dict[str, Any]:
    names = dict(spec.get("names") or {})
    if names.get("kind"):
        names.setdefault("listKind", names["kind"] + "List")
    if names.get("plural"):
        names.setdefault("singular", str(names.get("kind", "")).lower())
    return names


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    now = _now()
    storage = [v.get("name") for v in spec.get("versions") or []
               if isinstance(v, dict) and v.get("storage")]
    old = obj.get("status") or {}
    stored = list(old.get("storedVersions") or [])
    for v in storage:
        if v not in stored:
            stored.append(v)

    def cond(kind: str, reason: str, message: str) -> dict[str, Any]:
        return {"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason,
                "message": message}

    return {"conditions": [cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                           cond("Established", "InitialNamesAccepted",
                                "the initial names have been accepted")],
            "acceptedNames": _names(spec), "storedVersions": stored}


class CRDStrategy(Strategy):
    columns = (NAME, col("Created At", lambda o: text(get(o, "metadata", "creationTimestamp")),
                         "date"))
    top_fields = fields("spec", "status")

    def on_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = _status(obj)

    def on_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        new["status"] = _status({**new, "status": old.get("status")})

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [validation.required("spec")]
        causes: list[Cause] = []
        group, names = spec.get("group") or "", spec.get("names") or {}
        plural, kind = names.get("plural") or "", names.get("kind") or ""
        if not group:
            causes.append(validation.required("spec.group"))
        elif "." not in group:
            causes.append(validation.invalid("spec.group", group,
                                             "should be a domain with at least one dot"))
        if not plural:
            causes.append(validation.required("spec.names.plural"))
        if not kind:
            causes.append(validation.required("spec.names.kind"))
        name = (obj.get("metadata") or {}).get("name", "")
        if plural and group and name != f"{plural}.{group}":
            causes.append(validation.invalid("metadata.name", name,
                                             "must be spec.names.plural+\".\"+spec.group"))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(Cause("FieldValueNotSupported", "spec.scope",
                                f'Unsupported value: "{text(spec.get("scope"))}": supported '
                                'values: "Cluster", "Namespaced"'))
        versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
        if not versions:
            causes.append(validation.invalid("spec.versions", "[]",
                                             "must have exactly one version marked as storage "
                                             "version"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(validation.invalid("spec.versions", text([v.get("name")
                                                                    for v in versions]),
                                             "must have exactly one version marked as storage "
                                             "version"))
        if old is not None:
            for f in ("group", "scope"):
                if (old.get("spec") or {}).get(f) != spec.get(f):
                    causes.append(validation.invalid(f"spec.{f}", text(spec.get(f)),
                                                     "field is immutable"))
        return causes


def resources_of(crd: dict[str, Any]) -> tuple[Resource, ...]:
    """The resources a CRD serves: one per served version."""
    spec = crd.get("spec") or {}
    names = _names(spec)
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (group and plural and kind):
        return ()
    out = []
    for v in spec.get("versions") or []:
        if not isinstance(v, dict) or not v.get("served") or not v.get("name"):
            continue
        out.append(Resource(
            str(group), str(v["name"]), str(plural), str(names.get("singular") or ""),
            str(kind), spec.get("scope") != "Cluster", False, RW,
            tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()),
            status_subresource="status" in (v.get("subresources") or {}), custom=True,
            strategy=CustomStrategy(v.get("additionalPrinterColumns"))))
    return tuple(out)


STRATEGY = CRDStrategy()
CRDS = Resource(GROUP, "v1", "customresourcedefinitions", "customresourcedefinition",
                "CustomResourceDefinition", False, False, RW, ("crd", "crds"),
                ("api-extensions",), status_subresource=True, strategy=STRATEGY)
RESOURCES = (CRDS,)
