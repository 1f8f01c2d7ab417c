"""The request pipeline: authentication, routing, content negotiation and Status errors."""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any

from kubecrypt.errors import EncryptError
from kubecrypt.httpserver import Request, Response
from kubecrypt.lab.apiserver import discovery, errors, routes, serviceproxy, strategy, table
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.lab.apiserver.rest import Rest, decode_body
from kubecrypt.lab.apiserver.watch import Watch
from kubecrypt.lab.store import StoreUnavailable
from kubecrypt.logsafe import escape

log = logging.getLogger("kubecrypt.lab.apiserver")
access = logging.getLogger("kubecrypt.lab.access")

# kube-apiserver lets anonymous callers read these (system:public-info-viewer).
PUBLIC = {"/version", "/healthz", "/livez", "/readyz"}


def _json(obj: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n",
                    content_type)


def _error(exc: errors.ApiError) -> Response:
    return _json(exc.status(), exc.code)


class App:
    def __init__(self, rest: Rest, token: str, server_address: str,
                 metrics: Any = None) -> None:
        self.rest = rest
        self.token = token.encode()
        self.server_address = server_address
        self.metrics = metrics
        self.requests = 0
        self.bootstrapped = False  # set once the system namespaces exist
        self.request_seconds = 0.0  # handler time, without the TLS and HTTP framing

    async def _not_ready(self) -> str:
        if not self.bootstrapped:
            return "poststarthook/bootstrap-namespaces failed: not finished"
        try:
            await self.rest.objects.store.revision()
        except StoreUnavailable as exc:
            return f"etcd failed: {exc}"
        return ""

    def _authenticated(self, req: Request) -> bool | None:
        """True: a valid client certificate or token; False: a wrong token; None: none given
        (anonymous). As kube-apiserver, the x509 authenticator comes first."""
        if req.client_cn:
            return True
        auth = req.header("authorization")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                  self.token)

    async def __call__(self, req: Request) -> Response:
        t0 = time.perf_counter()
        response = None
        try:
            response = await self._handle(req)
            return response
        finally:
            elapsed = time.perf_counter() - t0
            self.request_seconds += elapsed
            self.requests += 1
            # An access log as kube-apiserver's httplog: names and status, never bodies.
            # The path is decoded (%0d%0a is a CR LF) and chosen by the caller: escape it.
            access.info("%s %s %s %.1fms %s", escape(req.method), escape(req.path),
                        response.status if response else "-", elapsed * 1000,
                        escape(req.header("kubectl-command") or req.header("user-agent")[:40]))

    async def _handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        authn = self._authenticated(req)
        if authn is False or (authn is None and path not in PUBLIC):
            return _error(errors.unauthorized())
        try:
            return await self._dispatch(req, path)
        except errors.ApiError as exc:
            return _error(exc)
        except StoreUnavailable as exc:
            log.warning("etcd unavailable: %s", exc)
            return _error(errors.unavailable(str(exc)))
        except EncryptError as exc:
            return _error(errors.internal(str(exc)))
        except Exception as exc:
            log.exception("internal error on %s %s", escape(req.method), escape(req.path))
            return _error(errors.internal(type(exc).__name__))

    async def _dispatch(self, req: Request, path: str) -> Response:
        if path == "/livez":
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if path in ("/healthz", "/readyz"):
            # As kube-apiserver: not ready until etcd answers and start-up work is done.
            problem = await self._not_ready()
            if problem:
                return Response(503, f"[-]{problem}\nreadyz check failed\n".encode(),
                                "text/plain; charset=utf-8")
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return _json(discovery.VERSION)
        if path == "/metrics" and self.metrics is not None:
            return Response(200, self.metrics().encode(), "text/plain; version=0.0.4")
        if path == "/openapi/v2":
            return Response(200, b"", discovery.OPENAPI_V2_CONTENT_TYPE)
        if path in ("/api", "/apis"):
            version = discovery.aggregated_version(req.header("accept"))
            if version is not None:
                return _json(discovery.aggregated(path == "/api", version),
                             content_type=discovery.AGGREGATED.format(v=version))
            if path == "/api":
                return _json(discovery.api_versions(self.server_address))
            return _json(discovery.api_group_list())
        parts = path.strip("/").split("/")
        if (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) == 3):
            gv = parts[1] if parts[0] == "api" else f"{parts[1]}/{parts[2]}"
            found = discovery.api_resource_list(gv)
            if found is not None:
                return _json(found)
        if parts[0] == "apis" and len(parts) == 2:
            group = discovery.api_group(parts[1])
            if group is not None:
                return _json(group)
        if serviceproxy.matches(path):  # services/<name>:<port>/proxy/... (Sealed Secrets)
            return await serviceproxy.forward(self.rest, req, path)
        target = routes.parse(path)
        if target is None:
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "message": "the server could not find the "
                          "requested resource", "reason": "NotFound", "details": {},
                          "code": 404}, 404)
        return await self._resource(req, target)

    async def _resource(self, req: Request, t: routes.Target) -> Response:
        res, rest, q = t.resource, self.rest, req.query
        as_table = table.wants_table(req.header("accept"))
        ns = t.namespace
        if t.name is None:
            if req.method == "GET":
                if q.get("watch") in ("true", "1"):
                    watch = Watch(rest.objects, res, ns, q, as_table)
                    await watch.prepare()
                    ctype = table.CONTENT_TYPE if as_table else "application/json"
                    return Response(200, content_type=ctype, stream=watch.stream())
                items, meta = await rest.list(res, ns, q)
                if as_table:
                    return _json(table.table(res, items, meta), content_type=table.CONTENT_TYPE)
                return _json({"kind": res.list_kind, "apiVersion": res.group_version,
                              "metadata": meta, "items": items})
            if req.method == "POST" and (ns is not None or not res.namespaced):
                body, warnings = self._body(req, res)
                return _warn(_json(await rest.create(res, ns, body, q), 201), warnings)
            if req.method == "DELETE":
                return _json(await rest.delete_collection(res, ns, q))
            raise errors.method_not_allowed(req.method)
        if res.namespaced and ns is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested "
                                  "resource")
        if req.method == "GET":
            obj = await rest.get(res, ns, t.name)
            if as_table:
                rv = obj["metadata"].get("resourceVersion", "")
                return _json(table.table(res, [obj], {"resourceVersion": rv}),
                             content_type=table.CONTENT_TYPE)
            return _json(obj)
        if req.method == "PUT":
            body, warnings = self._body(req, res)
            return _warn(_json(await rest.update(res, ns, t.name, body, q, t.subresource)),
                         warnings)
        if req.method == "PATCH":
            body = decode_body(res, req.body, req.header("content-type"))
            obj, created = await rest.patch(res, ns, t.name, body, req.header("content-type"),
                                            q, t.subresource)
            return _json(obj, 201 if created else 200)
        if req.method == "DELETE":
            body = decode_body(res, req.body, "application/json") if req.body.strip() else None
            return _json(await rest.delete(res, ns, t.name, body, q))
        raise errors.method_not_allowed(req.method)

    def _body(self, req: Request, res: Resource) -> tuple[Any, list[str]]:
        """The decoded body, and the warnings for the unknown fields it dropped (upstream's
        default fieldValidation=Warn; Strict makes them a 400, Ignore silences them)."""
        body = decode_body(res, req.body, req.header("content-type"))
        validation = req.query.get("fieldValidation", "Warn")
        dropped = strategy.strip_unknown_fields(res, body, validation == "Strict")
        return body, [] if validation == "Ignore" else dropped


def _warn(response: Response, warnings: list[str]) -> Response:
    # kubectl prints each as "Warning: <text>"; clients that do not know the header ignore it.
    for w in warnings:
        response.headers.append(("warning", '299 - "' + w.replace('"', '\\"') + '"'))
    return response
