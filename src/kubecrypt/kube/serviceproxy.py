"""The Sealed Secrets controller's HTTP API through the API server's service proxy
(``/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/PATH``), as kubeseal calls it, on the
same client (and so the same TLS, proxy and credentials) as every other Kubernetes call."""

from __future__ import annotations

import json
import urllib.parse

from kubecrypt.kube.client import KubeClient, status_message
from kubecrypt.sealed.errors import ControllerError

DEFAULT_CONTROLLER_NAME = "sealed-secrets-controller"
DEFAULT_CONTROLLER_NAMESPACE = "kube-system"


class ControllerProxy:
    """Connection problems (no answer, 401) come out as the client raises them; only what is
    about the controller (its Service, its answers) becomes a ControllerError."""

    def __init__(self, client: KubeClient, name: str = DEFAULT_CONTROLLER_NAME,
                 namespace: str = DEFAULT_CONTROLLER_NAMESPACE) -> None:
        self.client = client
        self.name = name
        self.namespace = namespace
        self._port: str | None = None

    def port_name(self) -> str:
        """The name of the Service's first port (empty if unnamed), as kubeseal picks it."""
        if self._port is None:
            path = f"/api/v1/namespaces/{_q(self.namespace)}/services/{_q(self.name)}"
            status, body = self.client.request("GET", path)
            if status != 200:
                raise ControllerError(
                    f"cannot get sealed secret service: {status_message(status, body)}.\n"
                    "Please, use the flag --controller-name and --controller-namespace to set up "
                    "the name and namespace of the sealed secrets controller")
            try:
                ports = (json.loads(body).get("spec") or {}).get("ports") or []
            except (ValueError, AttributeError):
                ports = []
            self._port = str(ports[0].get("name") or "") if ports else ""
        return self._port

    def proxy_path(self, path: str) -> str:
        service = f"http:{self.name}:{self.port_name()}"
        return f"/api/v1/namespaces/{_q(self.namespace)}/services/{_q(service)}/proxy{path}"

    def get(self, path: str, accept: str = "*/*") -> tuple[int, bytes]:
        return self.client.request("GET", self.proxy_path(path), headers={"Accept": accept})

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self.client.request("POST", self.proxy_path(path), body=body,
                                   headers={"Content-Type": "application/json"})

    def message(self, status: int, body: bytes) -> str:
        return status_message(status, body)

    def certificate(self) -> bytes:
        status, body = self.get("/v1/cert.pem", accept="application/x-pem-file, */*")
        if status != 200:
            raise ControllerError(f"cannot fetch certificate: {status_message(status, body)}")
        return body


def fetch_cert(client: KubeClient, controller_namespace: str = DEFAULT_CONTROLLER_NAMESPACE,
               controller_name: str = DEFAULT_CONTROLLER_NAME) -> bytes:
    """The PEM certificate(s) the controller seals with, as served at ``/v1/cert.pem``."""
    return ControllerProxy(client, controller_name, controller_namespace).certificate()


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe=":")
