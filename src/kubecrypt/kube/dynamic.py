"""Resources named as an EncryptionConfiguration names them (``secrets``,
``leases.coordination.k8s.io``), found through discovery and read and written as plain dicts:
the calls key rotation needs (list, get, update, create, delete), on :class:`KubeClient`."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import InputError
from kubecrypt.kube.client import KubeClient, status_message
from kubecrypt.kube.config import Overrides
from kubecrypt.kube.errors import KubeApiError


@dataclass(frozen=True)
class ApiResource:
    resource: str
    """As the EncryptionConfiguration spells it: ``secrets``, ``leases.coordination.k8s.io``."""
    group_version: str
    plural: str
    namespaced: bool
    kind: str

    @property
    def base(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    def collection(self, namespace: str | None = None) -> str:
        if namespace and self.namespaced:
            return f"{self.base}/namespaces/{_q(namespace)}/{self.plural}"
        return f"{self.base}/{self.plural}"

    def item(self, namespace: str | None, name: str) -> str:
        return f"{self.collection(namespace)}/{_q(name)}"


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


class Api:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._resources: dict[str, ApiResource] = {}

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None, context: str | None = None) -> Api:
        return cls(KubeClient.connect(Overrides(kubeconfig=kubeconfig, context=context)))

    @property
    def server(self) -> str:
        return self.client.server

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if raw is not None else None
        status, data = self.client.request(method, path, raw, headers)
        try:
            doc = safeparse.load_json(data, "the server's answer") if data else None
        except InputError:
            doc = None
        if status >= 400 and status not in (404, 409):
            raise KubeApiError(f"{method} {path} on {self.server}: {status_message(status, data)}", status)
        return status, doc

    def resource(self, name: str) -> ApiResource:
        """Finds an EncryptionConfiguration resource name in the server's discovery."""
        if name in self._resources:
            return self._resources[name]
        plural, _, group = name.partition(".")
        if group:
            status, doc = self.call("GET", f"/apis/{group}")
            gv = ((doc or {}).get("preferredVersion") or {}).get("groupVersion") if status == 200 else None
        else:
            gv = "v1"
        found = None
        if gv:
            status, doc = self.call("GET", "/api/v1" if gv == "v1" else f"/apis/{gv}")
            for r in (doc or {}).get("resources") or [] if status == 200 else []:
                if r.get("name") == plural:
                    found = ApiResource(name, gv, plural, bool(r.get("namespaced")), str(r.get("kind")))
        if found is None:
            raise KubeApiError(f"the API server {self.server} does not serve {name}; remove it from "
                              "the configuration's resources or check the spelling")
        self._resources[name] = found
        return found

    def list(self, r: ApiResource, page: int = 500) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            q = {"limit": str(page)}
            if token:
                q["continue"] = token
            status, doc = self.call("GET", r.collection() + "?" + urllib.parse.urlencode(q))
            if status != 200 or not isinstance(doc, dict):
                raise KubeApiError(f"cannot list {r.resource} on {self.server} ({status})", status)
            for item in doc.get("items") or []:
                item.setdefault("apiVersion", r.group_version)
                item.setdefault("kind", r.kind)
                yield item
            token = (doc.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    def get(self, r: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        status, doc = self.call("GET", r.item(namespace, name))
        return doc if status == 200 else None

    def update(self, r: ApiResource, obj: dict[str, Any]) -> int:
        """PUT the object back; returns 200, 404 (gone) or 409 (changed meanwhile)."""
        meta = obj.get("metadata") or {}
        status, _ = self.call("PUT", r.item(meta.get("namespace"), str(meta.get("name"))), obj)
        return status

    def create(self, r: ApiResource, obj: dict[str, Any]) -> int:
        meta = obj.get("metadata") or {}
        status, _ = self.call("POST", r.collection(meta.get("namespace")), obj)
        return status

    def delete(self, r: ApiResource, namespace: str | None, name: str) -> int:
        status, _ = self.call("DELETE", r.item(namespace, name))
        return status

    def metrics(self) -> str:
        status, data = self.client.request("GET", "/metrics")
        return data.decode("utf-8", "replace") if status == 200 else ""
