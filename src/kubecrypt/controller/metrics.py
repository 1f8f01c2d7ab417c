"""Prometheus metrics with upstream's names (namespace ``sealed_secrets_controller``)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

import kubecrypt

NS = "sealed_secrets_controller"


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # upstream (Go) exposes no *_created series
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        build = Gauge("build_info", "Build information.", ["revision"], namespace=NS, registry=r)
        build.labels(revision=getattr(kubecrypt, "__version__", "dev"))
        self.unseal_requests = Counter("unseal_requests", "Total number of sealed secret "
                                       "unseal requests", namespace=NS, registry=r)
        self.unseal_errors = Counter("unseal_errors", "Total number of sealed secret unseal "
                                     "errors by reason", ["reason", "namespace"], namespace=NS,
                                     registry=r)
        self.condition_info = Gauge("condition_info", "Current SealedSecret condition status. "
                                    "Values are -1 (false), 0 (unknown or absent), 1 (true)",
                                    ["namespace", "name", "condition",
                                     "ss_app_kubernetes_io_instance"], namespace=NS, registry=r)
        self.http_requests = Counter("http_requests", "Total number of HTTP requests",
                                     ["path", "code", "method"], namespace=NS, registry=r)
        self.http_duration = Histogram("http_request_duration_seconds", "HTTP request "
                                       "duration in seconds", ["path", "method"],
                                       namespace=NS, registry=r)
        self._conditions: dict[tuple[str, str], tuple[str, str, str, str]] = {}

    def set_condition(self, namespace: str, name: str, instance: str, value: float) -> None:
        labels = (namespace, name, "Synced", instance)
        old = self._conditions.get((namespace, name))
        if old is not None and old != labels:
            self.condition_info.remove(*old)
        self._conditions[(namespace, name)] = labels
        self.condition_info.labels(*labels).set(value)

    def remove_condition(self, namespace: str, name: str) -> None:
        old = self._conditions.pop((namespace, name), None)
        if old is not None:
            self.condition_info.remove(*old)

    def render(self) -> bytes:
        return generate_latest(self.registry)
