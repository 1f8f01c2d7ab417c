"""The provider's Kubernetes API calls, on kubecrypt's one client: TokenRequest for a pod that
brought no token for the audience (as vault-csi-provider: 15 minutes, bound to the pod) and
ConfigMap reads for native objects."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from kubecrypt.csi.errors import NotAuthorized, StoreUnavailable
from kubecrypt.csi.request import PodInfo
from kubecrypt.kube.client import KubeClient, status_message
from kubecrypt.kube.errors import KubeApiError, KubeUnreachable

TOKEN_SECONDS = 15 * 60


class ProviderApi:
    def __init__(self, client: KubeClient) -> None:
        self.client = client

    def request_token(self, pod: PodInfo, audience: str) -> str:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience] if audience else [],
                         "expirationSeconds": TOKEN_SECONDS,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                            "name": pod.name, "uid": pod.uid}}}
        path = (f"/api/v1/namespaces/{quote(pod.namespace, safe='')}/serviceaccounts/"
                f"{quote(pod.service_account, safe='')}/token")
        try:
            status, raw = self.client.request("POST", path, json.dumps(body).encode(),
                                              {"Content-Type": "application/json"})
        except (KubeApiError, KubeUnreachable) as exc:
            raise StoreUnavailable(f"cannot request a token for {pod.namespace}/"
                                   f"{pod.service_account}: {exc}") from None
        if status // 100 != 2:
            raise NotAuthorized(
                f"the request carried no token for audience {audience!r} and the provider "
                f"could not make one for {pod.namespace}/{pod.service_account} "
                f"({status_message(status, raw)}); add the audience to the CSIDriver's "
                "tokenRequests, or let the provider create serviceaccounts/token")
        token = (json.loads(raw).get("status") or {}).get("token")
        if not token:
            raise NotAuthorized("the TokenRequest answer holds no token")
        return str(token)

    def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps/{quote(name, safe='')}"
        try:
            status, raw = self.client.request("GET", path)
        except (KubeApiError, KubeUnreachable) as exc:
            raise StoreUnavailable(f"cannot read ConfigMap {namespace}/{name}: {exc}") from None
        if status == 404:
            return None
        if status // 100 != 2:
            raise StoreUnavailable(f"cannot read ConfigMap {namespace}/{name}: "
                                   f"{status_message(status, raw)}; let the provider get "
                                   "configmaps")
        doc: dict[str, Any] = json.loads(raw)
        return doc
