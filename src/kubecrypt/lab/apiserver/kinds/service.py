"""core/v1 Service: stored for the service proxy (the Sealed Secrets controller is reached
through ``services/<name>:<port>/proxy``) and for the posture audit. No cluster IPs are
allocated and no kube-proxy runs."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver.columns import AGE, NAME, col, get, text
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.resources import RW, Resource


def _ports(o: dict[str, Any]) -> str:
    return ",".join(f"{text(p.get('port'))}/{text(p.get('protocol') or 'TCP')}"
                    for p in get(o, "spec", "ports") or [] if isinstance(p, dict))


class ServiceStrategy(Strategy):
    columns = (NAME, col("Type", lambda o: text(get(o, "spec", "type") or "ClusterIP")),
               col("Ports", _ports), AGE)
    top_fields = fields("spec", "status")

    def on_create(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")


STRATEGY = ServiceStrategy()

SERVICES = Resource("", "v1", "services", "service", "Service", True, False, RW, ("svc",),
                    categories=("all",), strategy=STRATEGY)
RESOURCES = (SERVICES,)
