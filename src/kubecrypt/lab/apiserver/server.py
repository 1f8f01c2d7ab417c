"""Running the lab API server: etcd store, encryption, controllers, HTTPS listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path

from kubecrypt import httpserver
from kubecrypt.lab.apiserver.app import App
from kubecrypt.lab.apiserver.controllers import Controllers
from kubecrypt.lab.apiserver.encryption import Encryption
from kubecrypt.lab.apiserver.errors import ApiError
from kubecrypt.lab.apiserver.objects import Objects
from kubecrypt.lab.apiserver.resources import NAMESPACES
from kubecrypt.lab.apiserver.rest import Rest
from kubecrypt.lab.store import Store, StoreUnavailable

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
log = logging.getLogger("kubecrypt.lab.apiserver")


@dataclass
class ServerConfig:
    etcd_endpoints: list[str]
    token: str
    tls_cert: Path
    tls_key: Path
    host: str = "127.0.0.1"
    port: int = 6443
    encryption_provider_config: Path | None = None
    client_ca: Path | None = None  # kube-apiserver's --client-ca-file: x509 client auth


class LabServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.encryption = Encryption(config.encryption_provider_config)
        self.store = Store(config.etcd_endpoints)
        self.objects = Objects(self.store, self.encryption)
        self.controllers = Controllers(self.objects)
        self.rest = Rest(self.objects, self.controllers)
        self.controllers.rest = self.rest
        self.app = App(self.rest, config.token, f"{config.host}:{config.port}", self.metrics)
        self._server: httpserver.HTTPServer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def metrics(self) -> str:
        lines = ["# TYPE apiserver_encryption_config_controller_automatic_reloads_total counter"]
        for status, n in sorted(self.encryption.reloads.items()):
            lines.append("apiserver_encryption_config_controller_automatic_reloads_total"
                         f'{{status="{status}"}} {n}')
        lines.append(f'kubecrypt_lab_encryption_config_info{{hash="{self.encryption.config_hash}"}}'
                     " 1")
        for op, seconds in sorted(self.objects.transform_seconds.items()):
            lines.append(f'kubecrypt_lab_transform_seconds_total{{op="{op}"}} {seconds:.6f}')
        lines.append(f"kubecrypt_lab_watches {self.objects.watches}")
        lines.append(f"kubecrypt_lab_requests_total {self.app.requests}")
        lines.append(f"kubecrypt_lab_request_seconds_total {self.app.request_seconds:.6f}")
        return "\n".join(lines) + "\n"

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        if self.config.client_ca:
            # Optional, as kube-apiserver: token and anonymous clients connect without one.
            ctx.load_verify_locations(self.config.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def start(self) -> None:
        await self.store.open()
        self._server = await httpserver.start(self.app, self.config.host, self.config.port,
                                        self._ssl())
        self._tasks.append(asyncio.ensure_future(self.encryption.watch_file()))
        self._tasks.append(asyncio.ensure_future(self._resume()))

    async def _resume(self) -> None:
        while True:
            try:
                await self._bootstrap()
                self.app.bootstrapped = True
                await self.controllers.resume()
                return
            except StoreUnavailable as exc:
                log.warning("waiting for etcd: %s", exc)
                await asyncio.sleep(1)

    async def _bootstrap(self) -> None:
        """The namespaces kube-apiserver creates at start-up."""
        for name in SYSTEM_NAMESPACES:
            try:
                await self.rest.create(NAMESPACES, None, {"metadata": {"name": name}}, {})
            except ApiError as exc:
                if exc.code != 409:
                    raise

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.controllers.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        await self.store.close()
        self.encryption.close()


async def run(config: ServerConfig) -> None:
    server = LabServer(config)
    await server.start()
    log.info("serving on https://%s:%d", config.host, config.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
