"""The one HTTP transport to the API server, for lightkube's clients and for raw calls (the
service proxy, discovery) alike: TLS as the kubeconfig says (CA, ``insecure-skip-tls-verify``,
``tls-server-name``, client certificates), the proxy (``proxy-url``, else ``HTTPS_PROXY`` and
``NO_PROXY`` as Go reads them), and the credentials of credentials.py on every request, renewed
and retried once on a 401.

It is a transport (not an ``httpx.Auth``) so that one object carries everything: lightkube builds
its own httpx client from a ``SingleConfig`` and only lets a transport through."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import ssl
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import httpx2

from kubecrypt import __version__
from kubecrypt.kube.config import ClusterConfig
from kubecrypt.kube.credentials import Credential, Credentials
from kubecrypt.kube.errors import KubeConfigError

USER_AGENT = f"kubecrypt/{__version__}"


def ssl_context(cfg: ClusterConfig, client_cert: tuple[bytes, bytes] | None = None
                ) -> ssl.SSLContext:
    if cfg.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif cfg.ca_pem:
        try:
            ctx = ssl.create_default_context(cadata=cfg.ca_pem.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            raise KubeConfigError(f"the certificate authority of {cfg.source or cfg.server} is "
                                  "not a PEM certificate; fix certificate-authority(-data)") \
                from None
    else:
        ctx = ssl.create_default_context()  # the system's roots, as kubectl
    cert = client_cert or ((cfg.client_cert_pem, cfg.client_key_pem)
                           if cfg.client_cert_pem and cfg.client_key_pem else None)
    if cert:
        _load_client_cert(ctx, cert[0], cert[1], cfg)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, cert: bytes, key: bytes, cfg: ClusterConfig) -> None:
    # ssl loads client keys only from files: a private 0700 directory, removed at once.
    tmp = tempfile.mkdtemp(prefix="kubecrypt-")
    try:
        cert_file, key_file = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        for path, content in ((cert_file, cert), (key_file, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        ctx.load_cert_chain(str(cert_file), str(key_file))
    except ssl.SSLError:
        raise KubeConfigError(f"the client certificate or key of {cfg.who} is not valid PEM or "
                              "they do not match; fix client-certificate/client-key") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def proxy_for(cfg: ClusterConfig) -> str | None:
    """``proxy-url``, else the environment's proxy as Go's ``ProxyFromEnvironment`` picks it
    (which never proxies localhost or loopback addresses)."""
    if cfg.proxy_url:
        return cfg.proxy_url
    url = urllib.parse.urlsplit(cfg.server)
    host = url.hostname or ""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    proxies = urllib.request.getproxies_environment()
    # Undocumented in typeshed but public in CPython: NO_PROXY by host and domain suffix.
    if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(url.scheme) or None


class _Base:
    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg
        self.credentials = Credentials(cfg)
        self._proxy = proxy_for(cfg)

    def _decorate(self, request: httpx2.Request, cred: Credential) -> None:
        if cred.authorization:
            request.headers["Authorization"] = cred.authorization
        extra = self.credentials.headers
        if extra and "impersonate-user" not in request.headers:
            # httpx's Headers can only set; Impersonate-Group repeats once per group, as
            # client-go sends it, so the headers are rebuilt with the extra ones appended.
            plain = [(k, v) for k, v in request.headers.multi_items()
                     if k.lower() != "accept-encoding" or "accept-encoding" not in dict(extra)]
            request.headers = httpx2.Headers(plain + extra)
        request.headers["User-Agent"] = USER_AGENT  # not httpx's, so the audit log names us
        if self.cfg.tls_server_name:
            request.extensions["sni_hostname"] = self.cfg.tls_server_name


class KubeTransport(_Base, httpx2.BaseTransport):
    def __init__(self, cfg: ClusterConfig) -> None:
        super().__init__(cfg)
        self._inner: dict[object, httpx2.HTTPTransport] = {}

    def _transport(self, cred: Credential) -> httpx2.HTTPTransport:
        key = cred.client_cert
        if key not in self._inner:
            self._inner[key] = httpx2.HTTPTransport(
                verify=ssl_context(self.cfg, cred.client_cert), proxy=self._proxy,
                trust_env=False)
        return self._inner[key]

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        cred = self.credentials.current()
        self._decorate(request, cred)
        response = self._transport(cred).handle_request(request)
        if response.status_code == 401 and self.credentials.renewable:
            response.close()
            cred = self.credentials.current(rejected=cred)
            self._decorate(request, cred)
            response = self._transport(cred).handle_request(request)
        return response

    def close(self) -> None:
        for inner in self._inner.values():
            inner.close()


class AsyncKubeTransport(_Base, httpx2.AsyncBaseTransport):
    def __init__(self, cfg: ClusterConfig) -> None:
        super().__init__(cfg)
        self._inner: dict[object, httpx2.AsyncHTTPTransport] = {}

    def _transport(self, cred: Credential) -> httpx2.AsyncHTTPTransport:
        key = cred.client_cert
        if key not in self._inner:
            self._inner[key] = httpx2.AsyncHTTPTransport(
                verify=ssl_context(self.cfg, cred.client_cert), proxy=self._proxy,
                trust_env=False)
        return self._inner[key]

    async def _current(self, rejected: Credential | None = None) -> Credential:
        if rejected is None:
            cached = self.credentials.cached()
            if cached is not None:
                return cached
        # An exec plugin or a file read must not block the event loop.
        return await asyncio.to_thread(self.credentials.current, rejected)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        cred = await self._current()
        self._decorate(request, cred)
        response = await self._transport(cred).handle_async_request(request)
        if response.status_code == 401 and self.credentials.renewable:
            await response.aclose()
            cred = await self._current(rejected=cred)
            self._decorate(request, cred)
            response = await self._transport(cred).handle_async_request(request)
        return response

    async def aclose(self) -> None:
        for inner in self._inner.values():
            await inner.aclose()
