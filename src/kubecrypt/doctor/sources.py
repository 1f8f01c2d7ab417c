"""Where the audit reads from: every source is optional, and each check asks for what it needs.

Kubernetes objects come from the API server (lightkube on ``kubecrypt.kube``'s transport; this
one module is where the audit touches the API)
and/or from manifest files (``--objects-file``: ``kubectl get -A -o yaml`` dumps, Lists,
multi-document YAML or JSON), which makes the RBAC and workload checks work offline.
``--lab DIR`` fills the kubeconfig, the etcd endpoints and the encryption config from the
lab's ``lab.json``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt.errors import InputError

# kind -> (lightkube module, class) for the kinds the checks read.
KINDS: dict[str, tuple[str, str]] = {
    "Role": ("rbac_authorization_v1", "Role"),
    "ClusterRole": ("rbac_authorization_v1", "ClusterRole"),
    "RoleBinding": ("rbac_authorization_v1", "RoleBinding"),
    "ClusterRoleBinding": ("rbac_authorization_v1", "ClusterRoleBinding"),
    "Pod": ("core_v1", "Pod"),
    "ServiceAccount": ("core_v1", "ServiceAccount"),
    "ReplicationController": ("core_v1", "ReplicationController"),
    "Deployment": ("apps_v1", "Deployment"),
    "StatefulSet": ("apps_v1", "StatefulSet"),
    "DaemonSet": ("apps_v1", "DaemonSet"),
    "ReplicaSet": ("apps_v1", "ReplicaSet"),
    "Job": ("batch_v1", "Job"),
    "CronJob": ("batch_v1", "CronJob"),
    "SealedSecret": ("", ""),
}
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
WORKLOAD_KINDS = ("Pod", "ServiceAccount", "ReplicationController", "Deployment", "StatefulSet",
                  "DaemonSet", "ReplicaSet", "Job", "CronJob")


class Unavailable(Exception):
    """This source cannot give that kind; the message says why (for a skipped check)."""


@dataclass
class LabInfo:
    kubeconfig: Path
    etcd_endpoints: list[str]
    encryption_config: Path | None


def read_lab(directory: Path) -> LabInfo:
    """The lab's state file, read as data (the audit does not import the lab)."""
    state = directory / "lab.json"
    try:
        doc = json.loads(state.read_text())
    except FileNotFoundError:
        raise InputError(f"{directory} holds no lab ({state} is missing); start one with "
                         f"`kubecrypt lab up --dir {directory}` or drop --lab") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {state} ({exc}); run `kubecrypt lab up` again") from None
    config = doc.get("encryption_config")
    return LabInfo(directory / "kubeconfig", [str(e) for e in doc.get("etcd_endpoints") or []],
                   Path(config) if config else None)


def load_objects_files(paths: Iterable[Path]) -> list[dict[str, Any]]:
    from kubecrypt.history.manifests import objects

    out: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read --objects-file {path}: {exc.strerror or exc}; "
                             "give a manifest or a `kubectl get -A -o yaml` dump") from None
        found = list(objects(data))
        if not found and data.strip():
            raise InputError(f"--objects-file {path} holds no Kubernetes objects; give YAML "
                             "or JSON manifests (a List, or documents separated by ---)")
        out.extend(found)
    return out


@dataclass
class Inventory:
    """Objects by kind from the files and the cluster. ``get(kind)`` raises Unavailable with
    the reason when neither source has that kind."""

    files: list[dict[str, Any]] = field(default_factory=list)
    client: Any = None
    client_error: str = ""
    _cache: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def has_files(self) -> bool:
        return bool(self.files)

    def get(self, kind: str) -> list[dict[str, Any]]:
        if kind in self._cache:
            return self._cache[kind]
        from_files = [o for o in self.files if o.get("kind") == kind]
        if self.client is None:
            if not self.files:
                raise Unavailable(self.client_error or
                                  "no cluster access (give --kubeconfig, --lab or --objects-file)")
            self._cache[kind] = from_files
            return from_files
        try:
            from_api = list_kind(self.client, kind)
        except Unavailable:
            if not self.files:
                raise
            from_api = []
        self._cache[kind] = from_api + from_files
        return self._cache[kind]

    def available(self, kinds: Iterable[str]) -> tuple[dict[str, list[dict[str, Any]]], str]:
        """The kinds this inventory can give, and the reasons for those it cannot."""
        got: dict[str, list[dict[str, Any]]] = {}
        missing: dict[str, list[str]] = {}
        for kind in kinds:
            try:
                got[kind] = self.get(kind)
            except Unavailable as exc:
                missing.setdefault(str(exc), []).append(kind)
        return got, "; ".join(f"{', '.join(ks)}: {why}" for why, ks in missing.items())


def connect(kubeconfig: str | None, context: str | None) -> Any:
    """A lightkube client on ``kubecrypt.kube`` (every credential kind kubectl accepts);
    Unavailable, with the reason, when there is no usable kubeconfig."""
    from kubecrypt.errors import KubecryptError
    from kubecrypt.kube import Overrides, lightkube_client, load

    try:
        cfg = load(Overrides(kubeconfig=kubeconfig, context=context))
    except KubecryptError as exc:
        raise Unavailable(f"no usable kubeconfig ({exc})") from None
    return lightkube_client(cfg, field_manager="kubecrypt-doctor")


def _resource(kind: str) -> Any:
    import importlib

    if kind == "SealedSecret":
        from lightkube.generic_resource import create_namespaced_resource

        return create_namespaced_resource("bitnami.com", "v1alpha1", "SealedSecret",
                                          "sealedsecrets")
    module, name = KINDS[kind]
    return getattr(importlib.import_module(f"lightkube.resources.{module}"), name)


def list_kind(client: Any, kind: str, namespace: str | None = None,
              labels: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object of ``kind`` (all namespaces unless given), as API dicts."""
    import httpx2
    from lightkube import ALL_NS, ApiError

    from kubecrypt.errors import KubecryptError

    res = _resource(kind) if kind in KINDS else _core(kind)
    kwargs: dict[str, Any] = {}
    if getattr(res, "_api_info", None) is not None and _namespaced(res):
        kwargs["namespace"] = namespace or ALL_NS
    if labels:
        kwargs["labels"] = labels
    try:
        items = list(client.list(res, **kwargs))
    except ApiError as exc:
        code = int(getattr(exc.status, "code", 0) or 0)
        if code == 404:
            raise Unavailable("not served by the API server") from None
        if code in (401, 403):
            raise Unavailable("the kubeconfig's user may not list them") from None
        raise Unavailable(f"listing {kind} failed: {getattr(exc.status, 'message', exc)}") from None
    except (httpx2.HTTPError, OSError, KubecryptError) as exc:
        raise Unavailable(f"cannot reach the API server ({exc})") from None
    out = []
    for item in items:
        d = item.to_dict() if hasattr(item, "to_dict") else dict(item)
        d.setdefault("kind", kind)
        out.append(d)
    return out


def _core(kind: str) -> Any:
    from lightkube.resources import core_v1

    return getattr(core_v1, kind)


def _namespaced(res: Any) -> bool:
    from lightkube.core import resource as lres

    return issubclass(res, lres.NamespacedResource)


__all__ = ["RBAC_KINDS", "WORKLOAD_KINDS", "Inventory", "LabInfo", "Unavailable", "connect",
           "list_kind", "load_objects_files", "read_lab"]
