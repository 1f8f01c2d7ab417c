"""Where kubeseal gets the sealing certificate: ``--cert FILE|URL``, else the controller's
``/v1/cert.pem`` through the API server's service proxy."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Protocol

from kubecrypt.sealed.errors import CertificateError

FETCH_TIMEOUT = 30.0


class Controller(Protocol):
    """The controller's HTTP API as kubeseal's modes use it; ``kubecrypt.kube.ControllerProxy``
    implements it (through the API server's service proxy). A protocol, so that ``sealed`` stays
    below the Kubernetes client."""

    name: str
    namespace: str

    def certificate(self) -> bytes: ...

    def post(self, path: str, body: bytes) -> tuple[int, bytes]: ...

    def message(self, status: int, body: bytes) -> str: ...


def read_cert_arg(cert: str) -> bytes:
    """A path, ``file://`` URL or ``http(s)://`` URL. Like kubeseal, something without a scheme,
    or with a one-letter scheme (a Windows drive), is a local file."""
    parsed = urllib.parse.urlsplit(cert)
    if len(parsed.scheme) <= 1:
        try:
            return Path(cert).read_bytes()
        except OSError as exc:
            raise CertificateError(f"cannot read certificate {cert}: {exc.strerror}") from None
    if parsed.scheme == "file":
        path = urllib.request.url2pathname(parsed.path)
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CertificateError(f'cannot fetch "{cert}": {exc.strerror}') from None
    if parsed.scheme not in ("http", "https"):
        raise CertificateError(f'cannot fetch "{cert}": unsupported protocol scheme')
    request = urllib.request.Request(cert, headers={"Accept": "application/x-pem-file, */*"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise CertificateError(f'cannot fetch "{cert}": {exc.code} {exc.reason}') from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror
        raise CertificateError(f'cannot fetch "{cert}": {reason}') from None


def obtain_certificate(cert: str | None, proxy: Controller | None) -> tuple[bytes, str]:
    """The certificate bytes as obtained (unparsed) and a description of where they came from."""
    if cert:
        return read_cert_arg(cert), cert
    if proxy is None:
        raise CertificateError("no certificate: give --cert FILE|URL or a cluster to fetch it from")
    return proxy.certificate(), f"controller {proxy.namespace}/{proxy.name}"
