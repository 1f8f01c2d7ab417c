"""etcd key layout: ``<prefix>/<segment>/[<namespace>/]<name>`` as kube-apiserver writes it.

A built-in resource is stored under its plural alone, without its group (``deployments.apps``
at ``/registry/deployments/``), except for the historic special prefixes of
``pkg/kubeapiserver/default_storage_factory_builder.go`` (services, endpoints, nodes,
replicationcontrollers, ingresses) and the resources served by the aggregator and
apiextensions servers, which keep their group. Custom resources live under
``<prefix>/<group>/<plural>/``. The table is checked against every ``ExpectedEtcdPath`` of
kubernetes/kubernetes test/integration/etcd/data.go (one test case per entry)."""

from __future__ import annotations

DEFAULT_PREFIX = "/registry"

# (plural, group) -> path segment(s) under the prefix, for every built-in stored resource.
BUILTIN: dict[tuple[str, str], str] = {
    # core
    ("configmaps", ""): "configmaps",
    ("endpoints", ""): "services/endpoints",
    ("events", ""): "events",
    ("limitranges", ""): "limitranges",
    ("namespaces", ""): "namespaces",
    ("nodes", ""): "minions",
    ("persistentvolumeclaims", ""): "persistentvolumeclaims",
    ("persistentvolumes", ""): "persistentvolumes",
    ("pods", ""): "pods",
    ("podtemplates", ""): "podtemplates",
    ("replicationcontrollers", ""): "controllers",
    ("resourcequotas", ""): "resourcequotas",
    ("secrets", ""): "secrets",
    ("serviceaccounts", ""): "serviceaccounts",
    ("services", ""): "services/specs",
    # admissionregistration.k8s.io
    ("mutatingadmissionpolicies", "admissionregistration.k8s.io"): "mutatingadmissionpolicies",
    ("mutatingadmissionpolicybindings", "admissionregistration.k8s.io"):
        "mutatingadmissionpolicybindings",
    ("mutatingwebhookconfigurations", "admissionregistration.k8s.io"):
        "mutatingwebhookconfigurations",
    ("validatingadmissionpolicies", "admissionregistration.k8s.io"): "validatingadmissionpolicies",
    ("validatingadmissionpolicybindings", "admissionregistration.k8s.io"):
        "validatingadmissionpolicybindings",
    ("validatingwebhookconfigurations", "admissionregistration.k8s.io"):
        "validatingwebhookconfigurations",
    # apiextensions.k8s.io and apiregistration.k8s.io keep their group
    ("customresourcedefinitions", "apiextensions.k8s.io"):
        "apiextensions.k8s.io/customresourcedefinitions",
    ("apiservices", "apiregistration.k8s.io"): "apiregistration.k8s.io/apiservices",
    # apps
    ("controllerrevisions", "apps"): "controllerrevisions",
    ("daemonsets", "apps"): "daemonsets",
    ("deployments", "apps"): "deployments",
    ("replicasets", "apps"): "replicasets",
    ("statefulsets", "apps"): "statefulsets",
    # autoscaling, batch
    ("horizontalpodautoscalers", "autoscaling"): "horizontalpodautoscalers",
    ("cronjobs", "batch"): "cronjobs",
    ("jobs", "batch"): "jobs",
    # certificates.k8s.io
    ("certificatesigningrequests", "certificates.k8s.io"): "certificatesigningrequests",
    ("clustertrustbundles", "certificates.k8s.io"): "clustertrustbundles",
    ("podcertificaterequests", "certificates.k8s.io"): "podcertificaterequests",
    # coordination.k8s.io
    ("leasecandidates", "coordination.k8s.io"): "leasecandidates",
    ("leases", "coordination.k8s.io"): "leases",
    # discovery.k8s.io, events.k8s.io (stored with core events)
    ("endpointslices", "discovery.k8s.io"): "endpointslices",
    ("events", "events.k8s.io"): "events",
    # flowcontrol.apiserver.k8s.io
    ("flowschemas", "flowcontrol.apiserver.k8s.io"): "flowschemas",
    ("prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io"): "prioritylevelconfigurations",
    # internal.apiserver.k8s.io
    ("storageversions", "internal.apiserver.k8s.io"): "storageversions",
    # networking.k8s.io (and the removed extensions group's ingresses)
    ("ingressclasses", "networking.k8s.io"): "ingressclasses",
    ("ingresses", "networking.k8s.io"): "ingress",
    ("ingresses", "extensions"): "ingress",
    ("ipaddresses", "networking.k8s.io"): "ipaddresses",
    ("networkpolicies", "networking.k8s.io"): "networkpolicies",
    ("servicecidrs", "networking.k8s.io"): "servicecidrs",
    # node.k8s.io, policy
    ("runtimeclasses", "node.k8s.io"): "runtimeclasses",
    ("poddisruptionbudgets", "policy"): "poddisruptionbudgets",
    # rbac.authorization.k8s.io
    ("clusterrolebindings", "rbac.authorization.k8s.io"): "clusterrolebindings",
    ("clusterroles", "rbac.authorization.k8s.io"): "clusterroles",
    ("rolebindings", "rbac.authorization.k8s.io"): "rolebindings",
    ("roles", "rbac.authorization.k8s.io"): "roles",
    # resource.k8s.io
    ("deviceclasses", "resource.k8s.io"): "deviceclasses",
    ("devicetaintrules", "resource.k8s.io"): "devicetaintrules",
    ("resourceclaims", "resource.k8s.io"): "resourceclaims",
    ("resourceclaimtemplates", "resource.k8s.io"): "resourceclaimtemplates",
    ("resourcepoolstatusrequests", "resource.k8s.io"): "resourcepoolstatusrequests",
    ("resourceslices", "resource.k8s.io"): "resourceslices",
    # scheduling.k8s.io
    ("podgroups", "scheduling.k8s.io"): "podgroups",
    ("priorityclasses", "scheduling.k8s.io"): "priorityclasses",
    ("workloads", "scheduling.k8s.io"): "workloads",
    # storage.k8s.io, storagemigration.k8s.io
    ("csidrivers", "storage.k8s.io"): "csidrivers",
    ("csinodes", "storage.k8s.io"): "csinodes",
    ("csistoragecapacities", "storage.k8s.io"): "csistoragecapacities",
    ("storageclasses", "storage.k8s.io"): "storageclasses",
    ("volumeattachments", "storage.k8s.io"): "volumeattachments",
    ("volumeattributesclasses", "storage.k8s.io"): "volumeattributesclasses",
    ("storageversionmigrations", "storagemigration.k8s.io"): "storageversionmigrations",
}

# Path segment(s) -> the resource as an EncryptionConfiguration names it (``plural[.group]``).
# Where two groups share a segment (events, ingress), the one kube-apiserver stores wins.
_BY_SEGMENT: dict[str, str] = {}
for (_plural, _group), _seg in BUILTIN.items():
    if _group in ("events.k8s.io", "extensions"):
        continue
    _BY_SEGMENT[_seg] = f"{_plural}.{_group}" if _group else _plural
_MAX_SEGMENT_PARTS = max(s.count("/") + 1 for s in BUILTIN.values())


def _split(resource: str) -> tuple[str, str]:
    plural, _, group = resource.partition(".")
    return plural, group


def _segment(resource: str) -> str:
    plural, group = _split(resource)
    known = BUILTIN.get((plural, group))
    if known is not None:
        return known
    if not group:
        return plural
    return f"{group}/{plural}"  # a custom resource


def normalize_prefix(prefix: str) -> str:
    return "/" + prefix.strip("/")


def etcd_key(resource: str, namespace: str | None, name: str, prefix: str = DEFAULT_PREFIX) -> str:
    parts = [normalize_prefix(prefix), _segment(resource)]
    if namespace:
        parts.append(namespace)
    parts.append(name)
    return "/".join(parts)


def parse_etcd_key(key: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, str | None, str]:
    """(resource as ``plural[.group]``, namespace or None, name) for a key under ``prefix``;
    raises ValueError otherwise."""
    p = normalize_prefix(prefix) + "/"
    if not key.startswith(p):
        raise ValueError(f"etcd key {key!r} is not under {p}")
    parts = key[len(p) :].split("/")
    resource: str | None = None
    rest: list[str] = []
    for n in range(min(_MAX_SEGMENT_PARTS, len(parts) - 1), 0, -1):
        found = _BY_SEGMENT.get("/".join(parts[:n]))
        if found is not None:
            resource, rest = found, parts[n:]
            break
    if resource is None:
        if len(parts) >= 3 and "." in parts[0]:
            resource, rest = f"{parts[1]}.{parts[0]}", parts[2:]  # a custom resource
        else:
            resource, rest = parts[0], parts[1:]
    if not rest or not rest[-1] or len(rest) > 2:
        raise ValueError(f"etcd key {key!r} names no object")
    if len(rest) == 1:
        return resource, None, rest[0]
    return resource, rest[0], rest[1]
