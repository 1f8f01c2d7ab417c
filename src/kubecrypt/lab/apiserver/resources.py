"""A resource the lab serves: its names, scope, storage form and per-kind strategy, and where
its objects are stored in etcd (kube-apiserver's layout). The served set is the registry
(``registry.REGISTRY``): the modules of ``kinds`` plus the CustomResourceDefinitions in etcd."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubecrypt.lab.apiserver.kindbase import Strategy
from kubecrypt.storage.keys import etcd_key

_DEFAULT = Strategy()


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
    strategy: Strategy = field(default=_DEFAULT, compare=False, repr=False)
    # Subresources besides status (``serviceaccounts/token``): name -> verbs.
    subresources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Not stored: a create-only review (TokenReview, SelfSubjectAccessReview, ...).
    virtual: bool = False

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


RW = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
