"""The request attributes an authorizer decides on (k8s.io/apiserver
``pkg/authorization/authorizer.AttributesRecord``), and kube-apiserver's 403 text for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubecrypt.userinfo import UserInfo


@dataclass(frozen=True)
class Attributes:
    """One request: a resource request (``resource`` set) or a non-resource one (``path``)."""

    user: UserInfo
    verb: str
    resource: str = ""
    api_group: str = ""
    namespace: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True

    @classmethod
    def non_resource(cls, user: UserInfo, verb: str, path: str) -> Attributes:
        return cls(user=user, verb=verb, path=path, resource_request=False)


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters.forbiddenMessage (k8s.io/apiserver endpoints/handlers/responsewriters)."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f"User {_q(user)} cannot {attrs.verb} path {_q(attrs.path)}"
    resource = attrs.resource
    if attrs.subresource:
        resource += "/" + attrs.subresource
    if attrs.namespace:
        return (
            f"User {_q(user)} cannot {attrs.verb} resource {_q(resource)} in API group "
            f"{_q(attrs.api_group)} in the namespace {_q(attrs.namespace)}"
        )
    return (
        f"User {_q(user)} cannot {attrs.verb} resource {_q(resource)} in API group "
        f"{_q(attrs.api_group)} at the cluster scope"
    )


def forbidden_status(attrs: Attributes, reason: str = "") -> dict[str, Any]:
    """The 403 Status kube-apiserver answers a denied request with (ForbiddenStatusError, then
    apierrors.NewForbidden): ``secrets is forbidden: User "x" cannot list resource ...``."""
    msg = _sanitize(forbidden_message(attrs))
    err = f"{msg}: {reason}" if reason else msg
    group, resource = attrs.api_group, attrs.resource
    qualified = f"{resource}.{group}" if group else resource
    if not group and not resource:
        message = f"forbidden: {err}"
    elif not attrs.name:
        message = f"{qualified} is forbidden: {err}"
    else:
        message = f"{qualified} {_q(attrs.name)} is forbidden: {err}"
    details: dict[str, Any] = {}
    if attrs.name:
        details["name"] = attrs.name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }


def _sanitize(text: str) -> str:
    # responsewriters' sanitizer: nothing in an error may look like HTML.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _q(s: str) -> str:
    """Go's %q for the strings that occur here (names, paths): double quotes, \\ and " escaped."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


go_quote = _q
