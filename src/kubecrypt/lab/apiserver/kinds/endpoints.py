"""core/v1 Endpoints: the addresses behind a Service, as the endpoints controller would write
them (the lab writes them for the services it proxies to local processes)."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver.columns import AGE, NAME, col, get, text
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.resources import RW, Resource


def _endpoints(o: dict[str, Any]) -> str:
    out = [f"{text(get(a, 'ip'))}:{text(get(p, 'port'))}"
           for s in o.get("subsets") or [] if isinstance(s, dict)
           for a in s.get("addresses") or [] for p in s.get("ports") or []]
    return ",".join(out) or "<none>"


class EndpointsStrategy(Strategy):
    columns = (NAME, col("Endpoints", _endpoints), AGE)
    top_fields = fields("subsets")


STRATEGY = EndpointsStrategy()
RESOURCES = (Resource("", "v1", "endpoints", "endpoints", "Endpoints", True, False, RW, ("ep",),
                      strategy=STRATEGY),)
