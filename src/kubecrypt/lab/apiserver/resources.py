"""The resources the lab serves, and where each is stored in etcd (kube-apiserver's layout)."""

from __future__ import annotations

from dataclasses import dataclass

from kubecrypt.storage.keys import etcd_key


@dataclass(frozen=True)
class Resource:
    group: str  # "" for core
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    protobuf: bool  # stored as the k8s\x00 protobuf envelope (built-ins) or JSON (CRs)
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    custom: bool = False  # a custom resource: JSON-only patches, resourceVersion on update

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """The EncryptionConfiguration spelling and the error-message spelling."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def key(self, namespace: str | None, name: str) -> str:
        return etcd_key(self.qualified, namespace if self.namespaced else None, name)

    def prefix(self, namespace: str | None = None) -> str:
        """The etcd prefix of all objects (in ``namespace``), ending in ``/``."""
        base = etcd_key(self.qualified, "x" if self.namespaced else None, "x")
        base = base.rsplit("/", 2 if self.namespaced else 1)[0]
        return f"{base}/{namespace}/" if namespace and self.namespaced else base + "/"


_RW = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

SECRETS = Resource("", "v1", "secrets", "secret", "Secret", True, True, _RW)
NAMESPACES = Resource("", "v1", "namespaces", "namespace", "Namespace", False, True,
                      ("create", "delete", "get", "list", "patch", "update", "watch"), ("ns",))
LEASES = Resource("coordination.k8s.io", "v1", "leases", "lease", "Lease", True, True, _RW)
SEALED_SECRETS = Resource("bitnami.com", "v1alpha1", "sealedsecrets", "sealedsecret",
                          "SealedSecret", True, False, _RW, categories=("all",),
                          status_subresource=True, custom=True)

# For the Sealed Secrets controller: its Service (reached through the service proxy,
# kubecrypt.lab.apiserver.serviceproxy) and the Events it records. Stored as JSON.
SERVICES = Resource("", "v1", "services", "service", "Service", True, False, _RW, ("svc",))
EVENTS = Resource("", "v1", "events", "event", "Event", True, False, _RW, ("ev",))

ALL: tuple[Resource, ...] = (SECRETS, NAMESPACES, LEASES, SEALED_SECRETS, SERVICES, EVENTS)
NAMESPACED: tuple[Resource, ...] = tuple(r for r in ALL if r.namespaced)


def group_versions() -> dict[str, list[Resource]]:
    out: dict[str, list[Resource]] = {}
    for r in ALL:
        out.setdefault(r.group_version, []).append(r)
    return out


def lookup(group: str, version: str, plural: str) -> Resource | None:
    for r in ALL:
        if (r.group, r.version, r.plural) == (group, version, plural):
            return r
    return None
