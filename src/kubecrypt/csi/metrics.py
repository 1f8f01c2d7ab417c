"""Prometheus metrics for the provider (RPCs, errors by code, latency) on the KMS plugin's
``/metrics`` + ``/healthz`` listener."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from kubecrypt.kms.metrics import Metrics

BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProviderMetrics(Metrics):
    """Its own registry with only the provider's series; ``serve``/``close`` are the plugin's."""

    def __init__(self) -> None:  # the KMS series are not created: they would read as zeros
        self.registry = CollectorRegistry()
        self._http = None
        self.rpcs = Counter("kubecrypt_csi_requests", "Provider RPCs handled.", ["method"],
                            registry=self.registry)
        self.failures = Counter("kubecrypt_csi_errors", "Mounts that failed, by error code.",
                                ["method", "code"], registry=self.registry)
        self.duration = Histogram("kubecrypt_csi_duration_seconds", "Provider RPC duration.",
                                  ["method"], buckets=BUCKETS, registry=self.registry)
