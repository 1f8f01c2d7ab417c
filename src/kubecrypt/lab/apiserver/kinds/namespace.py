"""core/v1 Namespace (upstream: pkg/registry/core/namespace/strategy.go): the ``kubernetes``
finalizer, phase Active, the ``kubernetes.io/metadata.name`` label; spec and status change only
through ``/finalize`` and ``/status``."""

from __future__ import annotations

import copy
from typing import Any

from kubecrypt.lab.apiserver.columns import AGE, NAME, col, path
from kubecrypt.lab.apiserver.kindbase import Strategy, fields, selectors
from kubecrypt.lab.apiserver.resources import Resource

NAME_LABEL = "kubernetes.io/metadata.name"


class NamespaceStrategy(Strategy):
    columns = (NAME, col("Status", path("status", "phase"),
                         description="The status of the namespace"), AGE)
    field_selectors = selectors({"status.phase": lambda o: str((o.get("status") or {}).get("phase", ""))})
    top_fields = fields("spec", "status")

    def on_create(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        meta.setdefault("labels", {})[NAME_LABEL] = meta.get("name", "")
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}

    def on_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        new["spec"] = copy.deepcopy(old.get("spec", {}))
        new["status"] = copy.deepcopy(old.get("status", {}))
        new["metadata"].setdefault("labels", {})[NAME_LABEL] = old["metadata"]["name"]

    def holds_deletion(self, obj: dict[str, Any]) -> bool:
        return super().holds_deletion(obj) or bool((obj.get("spec") or {}).get("finalizers"))

    def on_delete(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Terminating"}


STRATEGY = NamespaceStrategy()

NAMESPACES = Resource("", "v1", "namespaces", "namespace", "Namespace", False, True,
                      ("create", "delete", "get", "list", "patch", "update", "watch"), ("ns",),
                      status_subresource=True, strategy=STRATEGY,
                      subresources=(("finalize", ("update",)),))
RESOURCES = (NAMESPACES,)
