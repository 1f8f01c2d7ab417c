"""Who the requests are from: the ``Authorization`` header (bearer token, ``tokenFile``, basic
auth or an exec plugin's token), a client certificate an exec plugin returned, and the
impersonation headers. Static client certificates live in the TLS context (transport.py).

Renewal follows client-go: a ``tokenFile`` is re-read every minute and after a 401 (the kubelet
rotates service account tokens); an exec plugin runs again when its credential expires or the
server answers 401."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass

from kubecrypt.kube.config import ClusterConfig
from kubecrypt.kube.errors import CredentialError

TOKEN_FILE_TTL = 60.0
EXPIRY_SKEW = 5.0


@dataclass(frozen=True)
class Credential:
    authorization: str | None = None
    client_cert: tuple[bytes, bytes] | None = None  # from an exec plugin
    expires: float | None = None


class Credentials:
    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self._current: Credential | None = None
        self.headers = _static_headers(cfg)

    @property
    def renewable(self) -> bool:
        return bool(self.cfg.exec or self.cfg.token_file)

    def cached(self) -> Credential | None:
        """The credential if it needs no work (no plugin run, no file read)."""
        cur = self._current
        if cur is not None and (cur.expires is None or time.time() < cur.expires):
            return cur
        return None

    def current(self, rejected: Credential | None = None) -> Credential:
        """The credential to send; a new one when ``rejected`` (answered 401) is the current."""
        with self._lock:
            cur = self._current
            fresh = cur is not None and (cur.expires is None or time.time() < cur.expires)
            if cur is not None and fresh and (rejected is None or cur is not rejected):
                return cur
            self._current = self._obtain()
            return self._current

    def _obtain(self) -> Credential:
        cfg = self.cfg
        if cfg.token_file:  # client-go: the file wins over an inline token
            try:
                token = cfg.token_file.read_text().strip()
            except OSError as exc:
                raise CredentialError(f"cannot read the token file {cfg.token_file} of {cfg.who}: "
                                      f"{exc.strerror}") from None
            if not token:
                raise CredentialError(f"the token file {cfg.token_file} of {cfg.who} is empty")
            return Credential(f"Bearer {token}", expires=time.time() + TOKEN_FILE_TTL)
        if cfg.token:
            return Credential(f"Bearer {cfg.token}")
        if cfg.exec:
            got = cfg.exec.run(_cluster_info(cfg))
            cert = (got.client_cert_pem, got.client_key_pem) \
                if got.client_cert_pem and got.client_key_pem else None
            expires = got.expires - EXPIRY_SKEW if got.expires is not None else None
            return Credential(f"Bearer {got.token}" if got.token else None, cert, expires)
        if cfg.username is not None:
            basic = f"{cfg.username}:{cfg.password or ''}".encode()
            return Credential("Basic " + base64.b64encode(basic).decode())
        return Credential()


def _static_headers(cfg: ClusterConfig) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if cfg.impersonate:
        out.append(("impersonate-user", cfg.impersonate))
        out += [("impersonate-group", g) for g in cfg.impersonate_groups]
        if cfg.impersonate_uid:
            out.append(("impersonate-uid", cfg.impersonate_uid))
        for key, values in cfg.impersonate_extra.items():
            out += [(f"impersonate-extra-{key}", v) for v in values]
    if cfg.disable_compression:
        out.append(("accept-encoding", "identity"))
    return out


def _cluster_info(cfg: ClusterConfig) -> dict[str, object]:
    """``spec.cluster`` of ``KUBERNETES_EXEC_INFO`` (used when ``provideClusterInfo``)."""
    info: dict[str, object] = {"server": cfg.server}
    if cfg.tls_server_name:
        info["tls-server-name"] = cfg.tls_server_name
    if cfg.insecure:
        info["insecure-skip-tls-verify"] = True
    if cfg.ca_pem:
        info["certificate-authority-data"] = base64.b64encode(cfg.ca_pem).decode()
    if cfg.proxy_url:
        info["proxy-url"] = cfg.proxy_url
    return info
