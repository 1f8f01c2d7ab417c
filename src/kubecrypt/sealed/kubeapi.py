"""Just enough of a Kubernetes API client for kubeseal: read a kubeconfig (server, CA, token,
client certificate), GET a Service, and call the controller through the API server's service
proxy (``/api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy/<path>``)."""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import ssl
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecrypt import safeparse
from kubecrypt.sealed.errors import ControllerError, SealedInputError

DEFAULT_CONTROLLER_NAME = "sealed-secrets-controller"
DEFAULT_CONTROLLER_NAMESPACE = "kube-system"
DEFAULT_TIMEOUT = 30.0


@dataclass
class ClusterAccess:
    server: str
    namespace: str = "default"
    ca_pem: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None


def kubeconfig_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("KUBECONFIG")
    if env:
        for part in env.split(os.pathsep):
            if part and Path(part).exists():
                return Path(part)
        return None
    default = Path.home() / ".kube" / "config"
    return default if default.exists() else None


def _read_kubeconfig(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SealedInputError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    config = safeparse.load_yaml(raw, f"kubeconfig {path}", error=SealedInputError)
    if not isinstance(config, dict):
        raise SealedInputError(f"kubeconfig {path} is not a kubeconfig")
    return config


def _named(config: dict[str, Any], section: str, name: str | None) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(section[:-1]) or {}
            return value if isinstance(value, dict) else {}
    return {}


def context_namespace(explicit_kubeconfig: str | None, context: str | None) -> str:
    """The namespace kubeseal uses when the Secret has none: the context's, else ``default``.

    No kubeconfig at all is fine (offline sealing with --cert must not need one)."""
    path = kubeconfig_path(explicit_kubeconfig)
    if path is None or not path.exists():
        return "default"
    config = _read_kubeconfig(path)
    ctx = _named(config, "contexts", context or config.get("current-context"))
    return str(ctx.get("namespace") or "default")


def _file_or_data(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    data = entry.get(f"{key}-data")
    if data:
        return base64.b64decode(data)
    path = entry.get(key)
    if path:
        full = Path(path) if Path(path).is_absolute() else base / path
        try:
            return full.read_bytes()
        except OSError as exc:
            raise SealedInputError(f"cannot read {key} file {full}: {exc.strerror}") from None
    return None


@dataclass
class Overrides:
    """kubectl's connection flags; each wins over the kubeconfig."""

    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    cluster: str | None = None
    user: str | None = None


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SealedInputError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_cluster_access(
    explicit_kubeconfig: str | None, context: str | None, overrides: Overrides | None = None
) -> ClusterAccess:
    o = overrides or Overrides()
    path = kubeconfig_path(explicit_kubeconfig)
    if path is None and o.server:
        access = ClusterAccess(server=o.server.rstrip("/"))
    elif path is None:
        raise SealedInputError(
            "no kubeconfig found (looked at --kubeconfig, $KUBECONFIG and ~/.kube/config); "
            "give one or --server, or seal offline with --cert"
        )
    else:
        access = _access_from_kubeconfig(path, context, o)
    if o.server:
        access.server = o.server.rstrip("/")
    if o.token:
        access.token = o.token
    if o.certificate_authority:
        access.ca_pem = _read(o.certificate_authority, "--certificate-authority")
    if o.client_certificate:
        access.client_cert_pem = _read(o.client_certificate, "--client-certificate")
    if o.client_key:
        access.client_key_pem = _read(o.client_key, "--client-key")
    if o.insecure_skip_tls_verify:
        access.insecure = True
    if o.tls_server_name:
        access.tls_server_name = o.tls_server_name
    return access


def _access_from_kubeconfig(path: Path, context: str | None, o: Overrides) -> ClusterAccess:
    config = _read_kubeconfig(path)
    context_name = context or config.get("current-context")
    ctx = _named(config, "contexts", context_name)
    if not ctx:
        raise SealedInputError(f'context "{context_name}" not found in kubeconfig {path}')
    cluster_name = o.cluster or ctx.get("cluster")
    cluster = _named(config, "clusters", cluster_name)
    if not cluster.get("server") and not o.server:
        raise SealedInputError(f'cluster "{cluster_name}" in {path} has no server')
    user = _named(config, "users", o.user or ctx.get("user"))
    base = path.parent
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token_path = Path(user["tokenFile"])
        token = (token_path if token_path.is_absolute() else base / token_path).read_text().strip()
    return ClusterAccess(
        server=str(cluster.get("server") or "").rstrip("/"),
        namespace=str(ctx.get("namespace") or "default"),
        ca_pem=_file_or_data(cluster, "certificate-authority", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
        token=token,
        username=user.get("username"),
        password=user.get("password"),
        client_cert_pem=_file_or_data(user, "client-certificate", base),
        client_key_pem=_file_or_data(user, "client-key", base),
    )


class KubeClient:
    def __init__(self, access: ClusterAccess, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.access = access
        self.timeout = timeout
        url = urllib.parse.urlsplit(access.server)
        self._scheme = url.scheme
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._prefix = url.path.rstrip("/")
        self._ssl = self._ssl_context() if url.scheme == "https" else None

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.access.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.access.ca_pem:
            ctx = ssl.create_default_context(cadata=self.access.ca_pem.decode("ascii"))
        if self.access.client_cert_pem and self.access.client_key_pem:
            # ssl only loads client keys from files: a private 0700 directory, removed at once.
            tmp = tempfile.mkdtemp(prefix="kubecrypt-")
            try:
                cert_file, key_file = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
                for file, content in ((cert_file, self.access.client_cert_pem),
                                      (key_file, self.access.client_key_pem)):
                    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(content)
                ctx.load_cert_chain(str(cert_file), str(key_file))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return ctx

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        all_headers = {"Accept": "application/json, */*", "User-Agent": "kubecrypt-seal"}
        if self.access.token:
            all_headers["Authorization"] = f"Bearer {self.access.token}"
        elif self.access.username is not None:
            basic = f"{self.access.username}:{self.access.password or ''}".encode()
            all_headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
        all_headers.update(headers or {})
        conn: http.client.HTTPConnection
        if self._scheme == "https":
            conn = _HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._ssl
            )
            conn.server_hostname = self.access.tls_server_name or self._host
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request(method, self._prefix + path, body=body, headers=all_headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise ControllerError(f"cannot reach the API server {self.access.server}: {reason}") \
                from None
        finally:
            conn.close()


class _HTTPSConnection(http.client.HTTPSConnection):
    """Verifies the server as ``tls-server-name`` when the kubeconfig says so."""

    server_hostname: str = ""

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self.server_hostname or self.host
        )


def status_message(status: int, body: bytes) -> str:
    """The API server's Status message when there is one, else the HTTP status."""
    try:
        doc = safeparse.load_json(body, "the server's answer", error=ControllerError)
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])
    except ControllerError:
        pass
    text = body.decode("utf-8", "replace").strip()
    reason = http.client.responses.get(status, "")
    return f"the server responded {status} {reason}" + (f": {text[:200]}" if text else "")


class ControllerProxy:
    """The controller's HTTP API through the API server's service proxy, as kubeseal calls it."""

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
            try:
                status, body = self.client.request("GET", path)
            except ControllerError as exc:
                raise ControllerError(self._service_error(str(exc))) from None
            if status != 200:
                raise ControllerError(self._service_error(status_message(status, body)))
            try:
                doc = safeparse.load_json(body, "the Service", error=ControllerError)
                ports = (doc.get("spec") or {}).get("ports") or []
            except (ControllerError, AttributeError):
                ports = []
            self._port = str(ports[0].get("name") or "") if ports else ""
        return self._port

    def _service_error(self, err: str) -> str:
        return (
            f"cannot get sealed secret service: {err}.\nPlease, use the flag --controller-name "
            "and --controller-namespace to set up the name and namespace of the sealed secrets "
            "controller"
        )

    def proxy_path(self, path: str) -> str:
        service = f"http:{self.name}:{self.port_name()}"
        return f"/api/v1/namespaces/{_q(self.namespace)}/services/{_q(service)}/proxy{path}"

    def get(self, path: str, accept: str = "*/*") -> tuple[int, bytes]:
        return self.client.request("GET", self.proxy_path(path), headers={"Accept": accept})

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self.client.request(
            "POST", self.proxy_path(path), body=body, headers={"Content-Type": "application/json"}
        )

    def certificate(self) -> bytes:
        self.port_name()  # a missing Service is reported as such, not as a fetch failure
        try:
            status, body = self.get("/v1/cert.pem", accept="application/x-pem-file, */*")
        except ControllerError as exc:
            raise ControllerError(f"cannot fetch certificate: {exc}") from None
        if status != 200:
            raise ControllerError(f"cannot fetch certificate: {status_message(status, body)}")
        return body


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe=":")


__all__ = [
    "ClusterAccess",
    "ControllerProxy",
    "KubeClient",
    "Overrides",
    "context_namespace",
    "load_cluster_access",
]
