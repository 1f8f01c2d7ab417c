"""The API server's service proxy, for the Sealed Secrets controller:
``/api/v1/namespaces/<ns>/services/[<scheme>:]<name>[:<port>]/proxy/<path>`` (what kubeseal and
``kubecrypt seal --fetch-cert`` call).

In a cluster the proxy goes through the Service's endpoints to a pod. The lab has no pods: its
"pods" are processes on the loopback, so the chosen Service port's numeric ``targetPort`` is
taken as a port on 127.0.0.1. A named ``targetPort`` cannot be resolved and answers 503."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote, urlencode

import h11

from kubecrypt.httpserver import Request, Response
from kubecrypt.lab.apiserver import errors
from kubecrypt.lab.apiserver.resources import SERVICES

_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?$")
_TIMEOUT = 30.0
# Hop-by-hop and framing headers are the proxy's business, not the backend's.
_DROP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
         "authorization", "upgrade", "te", "trailer", "proxy-authorization"}


def matches(path: str) -> bool:
    return _PATH.match(path) is not None


def _choose_port(service: dict[str, Any], port: str) -> dict[str, Any] | None:
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    if not port:
        unnamed = [p for p in ports if not p.get("name")]
        return (unnamed or ports)[0] if ports else None
    for p in ports:
        if p.get("name") == port or str(p.get("port")) == port:
            return p
    return None


def _unavailable(message: str) -> errors.ApiError:
    return errors.ApiError(503, "ServiceUnavailable", message)


async def forward(rest: Any, req: Request, path: str) -> Response:
    m = _PATH.match(path)
    assert m is not None
    namespace, target, rest_path = m.group(1), m.group(2), m.group(3) or "/"
    parts = target.split(":")
    if len(parts) == 3:
        _, name, port = parts  # scheme:name:port (scheme http or https; the lab speaks http)
    elif len(parts) == 2:
        name, port = parts
    else:
        name, port = target, ""
    service = await rest.get(SERVICES, namespace, name)
    chosen = _choose_port(service, port)
    if chosen is None:
        raise _unavailable(f'no endpoints available for service "{target}"')
    backend = chosen.get("targetPort", chosen.get("port"))
    if not isinstance(backend, int) or isinstance(backend, bool):
        raise _unavailable(f'no endpoints available for service "{target}" (the lab resolves '
                           "only numeric targetPorts, as 127.0.0.1:<targetPort>)")
    url = quote(rest_path) + (f"?{urlencode(req.query)}" if req.query else "")
    try:
        return await asyncio.wait_for(_roundtrip(backend, req, url), _TIMEOUT)
    except (TimeoutError, OSError, h11.ProtocolError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise _unavailable(f"error trying to reach service: dial tcp 127.0.0.1:{backend}: "
                           f"{reason}") from None


async def _roundtrip(port: int, req: Request, url: str) -> Response:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        conn = h11.Connection(h11.CLIENT)
        headers = [(k, v) for k, v in req.headers.items() if k not in _DROP]
        headers += [("host", f"127.0.0.1:{port}"), ("connection", "close"),
                    ("content-length", str(len(req.body))), ("x-forwarded-for", "127.0.0.1")]
        writer.write(conn.send(h11.Request(method=req.method, target=url, headers=headers)))
        if req.body:
            writer.write(conn.send(h11.Data(data=req.body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        status, out_headers, body = 502, [], bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                out_headers = [(k.decode(), v.decode("latin-1")) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        content_type = next((v for k, v in out_headers if k.lower() == "content-type"),
                            "application/octet-stream")
        extra = [(k, v) for k, v in out_headers
                 if k.lower() not in _DROP and k.lower() not in ("content-type", "date")]
        return Response(status, bytes(body), content_type, extra)
    finally:
        writer.close()
