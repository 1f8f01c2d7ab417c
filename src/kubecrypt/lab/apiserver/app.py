"""The request pipeline: authentication, routing, content negotiation and Status errors."""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any

from kubecrypt.errors import EncryptError
from kubecrypt.httpserver import Request, Response
from kubecrypt.lab.apiserver import (
    authz,
    discovery,
    errors,
    routes,
    scale,
    serviceproxy,
    strategy,
    table,
)
from kubecrypt.lab.apiserver.authz import Authorizer
from kubecrypt.lab.apiserver.etcdstore import StoreUnavailable
from kubecrypt.lab.apiserver.kinds.reviews import (
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_REVIEWS,
    TOKEN_REVIEWS,
)
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.lab.apiserver.rest import Rest, decode_body
from kubecrypt.lab.apiserver.tokens import Tokens
from kubecrypt.lab.apiserver.watch import Watch
from kubecrypt.logsafe import escape
from kubecrypt.satoken import (
    JWKS_PATH,
    OPENID_CONFIG_PATH,
    Authenticated,
    Rejected,
    TokenReviewError,
)
from kubecrypt.userinfo import ALL_AUTHENTICATED, ANONYMOUS, SYSTEM_PRIVILEGED_GROUP, UserInfo

log = logging.getLogger("kubecrypt.lab.apiserver")
access = logging.getLogger("kubecrypt.lab.access")

# kube-apiserver lets anonymous callers read these (system:public-info-viewer); the lab also
# serves its OIDC discovery documents to anyone (a cluster binds
# system:service-account-issuer-discovery for that), so OpenBao's JWT method can fetch them.
PUBLIC = {"/version", "/healthz", "/livez", "/readyz", OPENID_CONFIG_PATH, JWKS_PATH}
ADMIN = UserInfo("admin", "admin", (SYSTEM_PRIVILEGED_GROUP, ALL_AUTHENTICATED))
ANONYMOUS_USER = UserInfo(ANONYMOUS, "", ("system:unauthenticated",))


def _json(obj: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n",
                    content_type)


def _error(exc: errors.ApiError) -> Response:
    return _json(exc.status(), exc.code)


class App:
    def __init__(self, rest: Rest, token: str, server_address: str,
                 metrics: Any = None, tokens: Tokens | None = None,
                 authorizer: Authorizer | None = None) -> None:
        self.authorizer = authorizer
        self.rest = rest
        self.token = token.encode()
        self.tokens = tokens
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

    async def _authenticate(self, req: Request) -> UserInfo | bool | None:
        """The user; False: a token no authenticator accepts; None: none given (anonymous).
        The static token file's token is the admin (system:masters); ServiceAccount tokens are
        checked by ``tokens`` (signature, time, API audience, live SA and bound objects)."""
        if req.client_cn:
            # x509 comes first, as in kube-apiserver: the user is the certificate's CN.
            return UserInfo(req.client_cn, "", (ALL_AUTHENTICATED,))
        auth = req.header("authorization")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        if hmac.compare_digest(token.encode(), self.token):
            return ADMIN
        if self.tokens is not None:
            result = await self.tokens.authenticate(token)
            if isinstance(result, Authenticated):
                return result.user
            if isinstance(result, Rejected):
                log.info("bearer token rejected: %s", result.reason)
        return False

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
        try:
            authn = await self._authenticate(req)
        except StoreUnavailable as exc:
            return _error(errors.unavailable(str(exc)))
        if authn is False or (authn is None and path not in PUBLIC):
            return _error(errors.unauthorized())
        user = authn if isinstance(authn, UserInfo) else ANONYMOUS_USER
        try:
            if self.authorizer is not None and authn is not None:
                user = await self.authorizer.impersonate(req, user)
                if path not in PUBLIC:
                    await self.authorizer.check(authz.attributes(req, path, user))
            return await self._dispatch(req, path, user)
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

    async def _dispatch(self, req: Request, path: str, user: UserInfo) -> Response:
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
        if self.tokens is not None and path == OPENID_CONFIG_PATH:
            return Response(200, self.tokens.openid_configuration(), "application/json")
        if self.tokens is not None and path == JWKS_PATH:
            return Response(200, self.tokens.jwks(), "application/jwk-set+json")
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
        if target.resource.virtual or target.subresource == "token":
            return await self._create_only(req, target, user)
        return await self._resource(req, target)

    async def _create_only(self, req: Request, t: routes.Target, user: UserInfo) -> Response:
        """TokenRequest and the reviews: POST only, nothing stored."""
        if req.method != "POST" or (t.name is not None and t.subresource != "token"):
            raise errors.method_not_allowed(req.method)
        if t.resource is SELF_SUBJECT_ACCESS_REVIEWS or t.resource.plural == \
                "subjectaccessreviews":
            body = decode_body(t.resource, req.body, req.header("content-type"))
            return _json(await self.access_review(t.resource, body, user), 201)
        if self.tokens is None:
            raise errors.ApiError(503, "ServiceUnavailable", "the lab runs without a service "
                                  "account signing key")
        body = decode_body(t.resource, req.body, req.header("content-type"))
        if t.subresource == "token":
            assert t.namespace is not None and t.name is not None
            return _json(await self.tokens.request(t.namespace, t.name, body), 201)
        if t.resource is TOKEN_REVIEWS:
            try:
                return _json(await self.tokens.review(body), 201)
            except TokenReviewError as exc:
                raise errors.ApiError(exc.code, exc.reason, str(exc)) from exc
        if t.resource is SELF_SUBJECT_REVIEWS:
            return _json({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                          "metadata": {"creationTimestamp": strategy.now()},
                          "status": {"userInfo": user.to_api()}}, 201)
        return _json(await self.access_review(t.resource, body, user), 201)

    async def access_review(self, res: Resource, body: Any, user: UserInfo) -> dict[str, Any]:
        if res is not SELF_SUBJECT_ACCESS_REVIEWS or self.authorizer is None:
            raise errors.ApiError(405, "MethodNotAllowed", f"the lab does not serve "
                                  f"{res.qualified}; use selfsubjectaccessreviews")
        return await self.authorizer.access_review(body, user)

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
        if t.subresource == "scale":
            return await self._scale(req, t)
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

    async def _scale(self, req: Request, t: routes.Target) -> Response:
        res, ns, name = t.resource, t.namespace, t.name
        assert name is not None
        if req.method == "GET":
            return _json(await scale.get(self.rest, res, ns, name))
        if req.method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(req.method)
        body = decode_body(res, req.body, req.header("content-type"))
        if req.method == "PUT":
            return _json(await scale.update(self.rest, res, ns, name, body, req.query))
        return _json(await scale.patch_scale(self.rest, res, ns, name, body,
                                             req.header("content-type"), req.query))

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
