"""Who a request is from, as kube-apiserver's authenticators hand it on (k8s.io/apiserver
``pkg/authentication/user``): a name, a UID, groups and "extra" values.

A leaf module shared by the token verifier (``satoken``), the RBAC evaluator (``rbac``) and the
lab, so none of them has to import another for the type."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
SYSTEM_PRIVILEGED_GROUP = "system:masters"
ANONYMOUS = "system:anonymous"

SERVICE_ACCOUNT_USERNAME_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
SERVICE_ACCOUNT_GROUP_PREFIX = "system:serviceaccounts:"


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, hash=False)

    def to_api(self) -> dict[str, object]:
        """The authentication.k8s.io/v1 UserInfo object (Go ``omitempty`` on every field)."""
        out: dict[str, object] = {}
        if self.name:
            out["username"] = self.name
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def service_account_username(namespace: str, name: str) -> str:
    """``system:serviceaccount:<ns>:<name>`` (apiserver ``serviceaccount.MakeUsername``)."""
    return f"{SERVICE_ACCOUNT_USERNAME_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """``serviceaccount.MakeGroupNames``: every SA is in both of these groups."""
    return (ALL_SERVICE_ACCOUNTS_GROUP, SERVICE_ACCOUNT_GROUP_PREFIX + namespace)


def split_service_account_username(username: str) -> tuple[str, str] | None:
    """(namespace, name) for ``system:serviceaccount:<ns>:<name>``, else None (exactly four
    colon-separated parts, as apiserver's ``SplitUsername`` and OpenBao both require)."""
    if not username.startswith(SERVICE_ACCOUNT_USERNAME_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_USERNAME_PREFIX) :].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def service_account_user(
    namespace: str, name: str, uid: str = "", *, authenticated: bool = True
) -> UserInfo:
    """The user a ServiceAccount token authenticates as, with the group the authenticated-group
    adder appends (kube-apiserver wraps every authenticator in it)."""
    groups = service_account_groups(namespace)
    if authenticated:
        groups += (ALL_AUTHENTICATED,)
    return UserInfo(service_account_username(namespace, name), uid, groups)
