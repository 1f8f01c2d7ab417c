"""Prometheus metrics for the plugin (calls, errors and latency per API and method) and a
``/healthz`` endpoint on the same listener, for HTTP probes.

Each server gets its own registry, so tests can run several servers in one process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

# Sub-millisecond buckets: a local wrap takes tens of microseconds, Vault about a millisecond.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "kubecrypt_kms_calls", "KMS plugin RPCs handled.", ["api", "method"],
            registry=self.registry,
        )
        self.errors = Counter(
            "kubecrypt_kms_errors", "KMS plugin RPCs that failed, by gRPC status code.",
            ["api", "method", "code"], registry=self.registry,
        )
        self.latency = Histogram(
            "kubecrypt_kms_latency_seconds", "KMS plugin RPC latency in the backend and server.",
            ["api", "method"], buckets=BUCKETS, registry=self.registry,
        )
        self._http: object | None = None

    def serve(self, host: str, port: int, health: Callable[[], str | None] | None = None) -> int:
        """Serves ``/metrics`` (and ``/healthz`` when ``health`` is given: it returns ``None``
        when healthy, else the reason) on host:port; port 0 picks one. Returns the port."""
        metrics_app = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/healthz" and health is not None:
                problem = health()
                status = "200 OK" if problem is None else "503 Service Unavailable"
                start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
                return [(problem or "ok").encode() + b"\n"]
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]

        server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
        self._http = server
        return int(server.server_address[1])

    def close(self) -> None:
        server = self._http
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            self._http = None


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds
        pass
