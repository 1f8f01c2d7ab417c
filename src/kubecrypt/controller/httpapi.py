"""The controller's HTTP API (``--listen-addr``): ``/healthz``, ``/v1/cert.pem``,
``/v1/verify``, ``/v1/rotate``; and ``/metrics`` on ``--listen-metrics-addr``."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubecrypt.controller.config import Config
from kubecrypt.controller.keymanager import KeyManager
from kubecrypt.controller.metrics import Metrics
from kubecrypt.controller.ratelimit import GCRA
from kubecrypt.httpserver import HTTPServer, Limits, Request, Response, start
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.errors import UnsealError
from kubecrypt.sealed.keys import certificate_pem
from kubecrypt.sealed.objects import SEALED_KIND
from kubecrypt.sealed.provenance import cert_fingerprint, stamp
from kubecrypt.sealed.seal import reencrypt, rotate_like_controller
from kubecrypt.sealed.unseal import unseal

log = logging.getLogger("kubecrypt.controller.http")
TEXT = "text/plain; charset=utf-8"
INSTRUMENTED = ("/v1/verify", "/v1/rotate", "/v1/cert.pem")


def _text(status: int, body: str) -> Response:
    return Response(status, body.encode(), TEXT,
                    [("x-content-type-options", "nosniff")] if status >= 400 else [])


class Api:
    def __init__(self, config: Config, keys: KeyManager, metrics: Metrics) -> None:
        self.config = config
        self.keys = keys
        self.metrics = metrics
        self.limiter = GCRA(config.rate_limit, config.rate_limit_burst)
        self.servers: list[HTTPServer] = []

    async def handle(self, req: Request) -> Response:
        path = req.path
        t0 = time.perf_counter()
        response = await self._route(req, path)
        if path in INSTRUMENTED:
            self.metrics.http_requests.labels(path, str(response.status), req.method.lower()).inc()
            self.metrics.http_duration.labels(path, req.method.lower()).observe(
                time.perf_counter() - t0)
        return response

    async def _route(self, req: Request, path: str) -> Response:
        if path == "/healthz":
            return _text(200, "ok\n")
        if path == "/v1/cert.pem":
            newest = self.keys.registry.newest()
            if newest is None or newest.certificate is None:
                return _text(500, "cannot get certificate\n")
            return Response(200, certificate_pem(newest.certificate), "application/x-pem-file")
        if path == "/v1/verify":
            if req.method != "POST":
                return _text(405, "Method Not Allowed\n")
            decision = self.limiter.check(path + "|" + req.header("x-forwarded-for"))
            headers = [("X-RateLimit-Limit", str(decision.limit)),
                       ("X-RateLimit-Remaining", str(decision.remaining)),
                       ("X-RateLimit-Reset", str(math.ceil(decision.reset_after)))]
            if not decision.allowed:
                headers.append(("Retry-After", str(max(1, math.ceil(decision.retry_after)))))
                return Response(429, b"limit exceeded", TEXT, headers)
            response = await self._verify(req)
            response.headers += headers
            return response
        if path == "/v1/rotate":
            if req.method != "POST":
                return _text(405, "Method Not Allowed\n")
            return await self._rotate(req)
        return _text(404, "404 page not found\n")

    def _one(self, req: Request) -> dict[str, Any] | Response:
        try:
            docs = load_documents(req.body, "the request body")
        except Exception as exc:
            return _text(500, f"{exc}\n")
        if len(docs) != 1 or docs[0].get("kind", SEALED_KIND) != SEALED_KIND:
            return _text(500, "the request body must be one SealedSecret\n")
        return docs[0]

    async def _verify(self, req: Request) -> Response:
        doc = self._one(req)
        if isinstance(doc, Response):
            return doc
        registry = self.keys.registry
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, lambda: unseal(
                doc, registry, accept_deprecated_v1_data=self.config.accept_deprecated_v1_data))
        except UnsealError as exc:
            return _text(409, f"{exc}\n")
        except Exception as exc:
            return _text(500, f"{exc}\n")
        return Response(200, b"", TEXT)

    async def _rotate(self, req: Request) -> Response:
        doc = self._one(req)
        if isinstance(doc, Response):
            return doc
        registry = self.keys.registry
        newest = registry.newest()
        if newest is None:
            return _text(500, "cannot get certificate\n")
        rotate = rotate_like_controller if self.config.rotate_flatten_template else reencrypt
        try:
            out = await asyncio.get_running_loop().run_in_executor(
                None, rotate, doc, registry, newest.private_key.public_key())
        except Exception as exc:
            return _text(500, f"Error rotating secret: {exc}\n")
        if newest.certificate is not None:
            stamp(out, cert_fingerprint(newest.certificate))  # kubecrypt's provenance annotation
        return Response(200, json.dumps(out, indent=2).encode() + b"\n", "application/json")

    async def metrics_handler(self, req: Request) -> Response:
        if req.path == "/metrics":
            return Response(200, self.metrics.render(), "text/plain; version=0.0.4")
        return _text(404, "404 page not found\n")

    async def listen(self, host: str, port: int,
                     handler: Callable[[Request], Awaitable[Response]] | None = None) -> int:
        cfg = self.config
        limits = Limits(read_timeout=cfg.read_timeout, write_timeout=cfg.write_timeout,
                        idle_timeout=cfg.read_timeout, max_connections=cfg.max_connections)
        server = await start(handler or self.handle, host, port, None, limits)
        self.servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def close(self) -> None:
        for s in self.servers:
            s.close()
