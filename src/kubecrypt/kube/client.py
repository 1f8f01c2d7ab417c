"""Clients on the one transport: lightkube's ``Client``/``AsyncClient`` for typed calls (the
controller) and :class:`KubeClient` for raw paths (the service proxy, discovery, rotation's
dynamic calls). Both send exactly the same TLS, proxy and credentials."""

from __future__ import annotations

import http.client
import json

import httpx2
import lightkube
from lightkube.config.kubeconfig import SingleConfig
from lightkube.config.models import Cluster, Context, User

from kubecrypt.kube.config import ClusterConfig, Overrides, load
from kubecrypt.kube.errors import KubeApiError, KubeUnreachable
from kubecrypt.kube.transport import AsyncKubeTransport, KubeTransport, proxy_for


def _timeout(cfg: ClusterConfig) -> httpx2.Timeout:
    return httpx2.Timeout(cfg.timeout or None)  # 0: no timeout, as kubectl's --request-timeout


def _single(cfg: ClusterConfig) -> SingleConfig:
    # lightkube gets only the address and namespace: TLS and credentials travel in our transport
    # (lightkube builds its own, less complete, ones from a full SingleConfig).
    return SingleConfig(context_name=cfg.context_name or "kubecrypt",
                        context=Context(cluster="kubecrypt", namespace=cfg.namespace),
                        cluster=Cluster(server=cfg.server), user=User())


def lightkube_client(cfg: ClusterConfig, field_manager: str | None = None) -> lightkube.Client:
    return lightkube.Client(_single(cfg), namespace=cfg.namespace, timeout=_timeout(cfg),
                            field_manager=field_manager, trust_env=False,
                            transport=KubeTransport(cfg))


def async_lightkube_client(cfg: ClusterConfig, field_manager: str | None = None
                           ) -> lightkube.AsyncClient:
    return lightkube.AsyncClient(_single(cfg), namespace=cfg.namespace, timeout=_timeout(cfg),
                                 field_manager=field_manager, trust_env=False,
                                 transport=AsyncKubeTransport(cfg))


class KubeClient:
    """Raw calls by path: ``request`` answers (status, body) for any status but 401, which is
    always a configuration problem and raised as one sentence naming the user and context."""

    def __init__(self, cfg: ClusterConfig) -> None:
        self.config = cfg
        self._http = httpx2.Client(base_url=cfg.server, transport=KubeTransport(cfg),
                                   timeout=_timeout(cfg), trust_env=False)

    @classmethod
    def connect(cls, overrides: Overrides | None = None) -> KubeClient:
        return cls(load(overrides))

    @property
    def server(self) -> str:
        return self.config.server

    @property
    def namespace(self) -> str:
        return self.config.namespace

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        all_headers = {"Accept": "application/json, */*", **(headers or {})}
        try:
            response = self._http.request(method, path, content=body, headers=all_headers)
        except httpx2.HTTPError as exc:
            raise KubeUnreachable(transport_error(self.config, exc)) from None
        if response.status_code == 401:
            raise KubeApiError(unauthorized(self.config), 401)
        return response.status_code, response.content

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def unauthorized(cfg: ClusterConfig) -> str:
    if not cfg.has_credentials:
        return (f"the API server {cfg.server} answered 401 Unauthorized: {cfg.who} has no "
                "credentials (no token, tokenFile, client certificate, exec plugin or "
                "username); add one to the kubeconfig or pass --token")
    return (f"the API server {cfg.server} rejected the credentials of {cfg.who} (401 "
            "Unauthorized); renew them (log in again) or fix the user in the kubeconfig")


def transport_error(cfg: ClusterConfig, exc: BaseException) -> str:
    """One sentence for a request that got no HTTP answer."""
    text = str(exc) or type(exc).__name__
    server = cfg.server
    if isinstance(exc, httpx2.TimeoutException):
        return (f"the API server {server} did not answer within {cfg.timeout:g}s; check the "
                "address and the network, or raise --request-timeout")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip()
        if "mismatch" in reason:
            return (f"the certificate of the API server {server} is not valid for that name "
                    f"({reason.rstrip('.')}); use a name the certificate holds or "
                    "--tls-server-name")
        return (f"cannot verify the certificate of the API server {server} ({reason}); give the "
                "cluster's CA (certificate-authority in the kubeconfig or "
                "--certificate-authority)")
    if isinstance(exc, httpx2.ProxyError):
        return (f"the proxy {proxy_for(cfg)} did not connect to the API server {server} "
                f"({text}); check proxy-url or HTTPS_PROXY/NO_PROXY")
    if cfg.client_cert_pem and isinstance(exc, httpx2.RemoteProtocolError):
        # TLS 1.3: a refused client certificate shows up after the handshake, as a hang-up.
        return (f"the API server {server} hung up without an answer: it does not accept the "
                f"client certificate of {cfg.who}; check that the cluster's client CA issued "
                "it and that it has not expired")
    if "SSL" in text or "TLS" in text:
        return (f"the TLS handshake with the API server {server} failed ({text}); check the "
                "server address, its CA and the client certificate")
    return (f"cannot connect to the API server {server} ({text}); check the server address "
            "and that the cluster is up")


def status_message(status: int, body: bytes) -> str:
    """The API server's Status message when there is one, else the HTTP status."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])
    except ValueError:
        pass
    text = body.decode("utf-8", "replace").strip()
    reason = http.client.responses.get(status, "")
    return f"the server responded {status} {reason}" + (f": {text[:200]}" if text else "")
