"""Authorization as kube-apiserver's chain does it with ``--authorization-mode RBAC``: members of
``system:masters`` are always allowed (the privileged-group authorizer), everyone else by the
RBAC evaluator in ``kubecrypt.rbac`` over the Roles, ClusterRoles and bindings in etcd (cached,
dropped on every RBAC write). Also the request attributes (k8s.io/apiserver RequestInfo),
impersonation (``kubectl --as``) and SelfSubjectAccessReview (``kubectl auth can-i``)."""

from __future__ import annotations

from typing import Any

from kubecrypt.httpserver import Request
from kubecrypt.lab.apiserver import errors, routes, serviceproxy
from kubecrypt.lab.apiserver.kinds.rbac import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    GROUP,
    ROLE_BINDINGS,
    ROLES,
)
from kubecrypt.lab.apiserver.objects import Objects
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.rbac import Attributes, Decision, Policy, forbidden_status
from kubecrypt.userinfo import (
    ALL_AUTHENTICATED,
    SYSTEM_PRIVILEGED_GROUP,
    UserInfo,
    service_account_user,
    split_service_account_username,
)

_COLLECTION_VERBS = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
_OBJECT_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete",
                 "POST": "create"}


def _all(_: dict[str, Any]) -> bool:
    return True


def attributes(req: Request, path: str, user: UserInfo) -> Attributes:
    """RequestInfo: a resource request (verb, group, resource, subresource, namespace, name)
    or a non-resource one (the path and the lower-cased method)."""
    proxy = serviceproxy.parse(path)
    if proxy is not None:
        namespace, name = proxy
        return Attributes(user=user, verb=_OBJECT_VERBS.get(req.method, req.method.lower()),
                          resource="services", subresource="proxy", namespace=namespace,
                          name=name)
    t = routes.parse(path)
    if t is None:
        return Attributes.non_resource(user, req.method.lower(), path)
    if t.name is None:
        verb = _COLLECTION_VERBS.get(req.method, req.method.lower())
        if verb == "list" and req.query.get("watch") in ("true", "1"):
            verb = "watch"
    else:
        verb = _OBJECT_VERBS.get(req.method, req.method.lower())
    namespace = t.namespace or ""
    if t.resource.plural == "namespaces" and not t.resource.group and t.name:
        namespace = t.name  # RequestInfo sets the namespace of a namespace to its name
    return Attributes(user=user, verb=verb, resource=t.resource.plural,
                      api_group=t.resource.group, namespace=namespace,
                      subresource=t.subresource, name=t.name or "")


class Authorizer:
    def __init__(self, objects: Objects, mode: str = "AlwaysAllow") -> None:
        self.objects = objects
        self.mode = mode
        self._policy: Policy | None = None

    def changed(self, res: Resource) -> None:
        if res.group == GROUP:
            self._policy = None

    async def _load(self) -> Policy:
        if self._policy is None:
            lists = []
            for res in (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS):
                items, _, _ = await self.objects.list(res, None, _all)
                lists.append(items)
            self._policy = Policy(roles=lists[0], cluster_roles=lists[1],
                                  role_bindings=lists[2], cluster_role_bindings=lists[3])
        return self._policy

    async def authorize(self, attrs: Attributes) -> Decision:
        if SYSTEM_PRIVILEGED_GROUP in attrs.user.groups:
            return Decision(True, "")
        if self.mode != "RBAC":
            return Decision(True, "")
        return (await self._load()).authorize(attrs)

    async def check(self, attrs: Attributes) -> None:
        """Raises kube-apiserver's 403 when the request is denied."""
        decision = await self.authorize(attrs)
        if not decision.allowed:
            status = forbidden_status(attrs, decision.reason)
            raise errors.ApiError(403, "Forbidden", status["message"], status["details"])

    async def impersonate(self, req: Request, user: UserInfo) -> UserInfo:
        """``Impersonate-User``/``-Group``/``-Uid``: the requester must be allowed to
        impersonate each of them (verb ``impersonate``)."""
        name = req.header("impersonate-user")
        groups = [g.strip() for g in req.header("impersonate-group").split(",") if g.strip()]
        if not name:
            if groups:
                raise errors.bad_request("requested [Impersonate-Group] without impersonating "
                                         "a user")
            return user
        sa = split_service_account_username(name)
        checks = [Attributes(user=user, verb="impersonate", resource="serviceaccounts",
                             namespace=sa[0], name=sa[1]) if sa else
                  Attributes(user=user, verb="impersonate", resource="users", name=name)]
        checks += [Attributes(user=user, verb="impersonate", resource="groups", name=g)
                   for g in groups]
        for attrs in checks:
            await self.check(attrs)
        if sa is not None:
            base = service_account_user(sa[0], sa[1])
            return UserInfo(base.name, req.header("impersonate-uid"),
                            tuple(dict.fromkeys((*base.groups, *groups))))
        all_groups = tuple(dict.fromkeys((*groups, ALL_AUTHENTICATED)))
        return UserInfo(name, req.header("impersonate-uid"), all_groups)

    async def access_review(self, body: Any, user: UserInfo) -> dict[str, Any]:
        """SelfSubjectAccessReview: may ``user`` do what the spec describes?"""
        spec = (body or {}).get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise errors.bad_request("spec is required")
        res, nonres = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if bool(res) == bool(nonres):
            raise errors.invalid("SelfSubjectAccessReview", "", [errors.Cause(
                "FieldValueInvalid", "spec.resourceAttributes",
                "Invalid value: \"\": exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified")], "authorization.k8s.io")
        if res:
            if not isinstance(res, dict):
                raise errors.bad_request("spec.resourceAttributes must be an object")
            attrs = Attributes(user=user, verb=str(res.get("verb") or ""),
                               resource=str(res.get("resource") or ""),
                               api_group=str(res.get("group") or ""),
                               namespace=str(res.get("namespace") or ""),
                               subresource=str(res.get("subresource") or ""),
                               name=str(res.get("name") or ""))
        else:
            if not isinstance(nonres, dict):
                raise errors.bad_request("spec.nonResourceAttributes must be an object")
            attrs = Attributes.non_resource(user, str(nonres.get("verb") or ""),
                                            str(nonres.get("path") or ""))
        decision = await self.authorize(attrs)
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
