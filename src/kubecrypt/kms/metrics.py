"""Prometheus metrics for the plugin: calls, errors and latency per API and method.

Each server gets its own registry, so tests can run several servers in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

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

    def serve(self, host: str, port: int) -> int:
        """Serves ``/metrics`` on host:port (port 0 picks one) and returns the port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._http = server
        return int(server.server_address[1])

    def close(self) -> None:
        server = self._http
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            self._http = None
