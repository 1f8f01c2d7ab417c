"""The RBAC authorizer over bindings: subjects, namespaces, aggregation, reasons, who-can."""

from __future__ import annotations

from typing import Any

import pytest

from kubecrypt.errors import ConfigError
from kubecrypt.rbac import Attributes, Policy, bootstrap_objects, forbidden_status
from kubecrypt.userinfo import UserInfo, service_account_user


def role(ns: str, name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Role", "metadata": {"namespace": ns, "name": name}, "rules": list(rules)}


def crole(name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None,
          selectors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}},
                           "rules": list(rules) if rules else None}
    if selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def rb(ns: str, name: str, kind: str, ref: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "RoleBinding", "metadata": {"namespace": ns, "name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": ref},
            "subjects": list(subjects)}


def crb(name: str, ref: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ref},
            "subjects": list(subjects)}


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def sa(name: str, ns: str | None = None) -> dict[str, str]:
    out = {"kind": "ServiceAccount", "name": name}
    if ns is not None:
        out["namespace"] = ns
    return out


READ_SECRETS = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}
ALICE = UserInfo("alice", groups=("dev", "system:authenticated"))
APP = service_account_user("team-a", "app", "uid-1")
OTHER_APP = service_account_user("team-b", "app", "uid-2")


def get_secrets(u: UserInfo, ns: str = "team-a", name: str = "") -> Attributes:
    return Attributes(user=u, verb="get", resource="secrets", namespace=ns, name=name)


POLICY = Policy.from_objects([
    role("team-a", "secret-reader", READ_SECRETS),
    role("team-a", "one-secret", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                                  "resourceNames": ["db"]}),
    crole("ns-reader", READ_SECRETS),
    rb("team-a", "alice-reads", "Role", "secret-reader", user("alice")),
    rb("team-a", "sa-same-ns", "Role", "one-secret", sa("app")),
    rb("team-a", "all-sas-of-b", "ClusterRole", "ns-reader", group("system:serviceaccounts:team-b")),
    rb("team-c", "explicit-sa", "ClusterRole", "ns-reader", sa("app", "team-a")),
    rb("team-d", "dangling", "Role", "gone", user("alice")),
    crb("dangling-cluster", "nope", group("dev")),
])

CASES = [
    ("user-via-rolebinding", get_secrets(ALICE), True,
     'RBAC: allowed by RoleBinding "alice-reads/team-a" of Role "secret-reader" to User "alice"'),
    ("user-other-namespace", get_secrets(ALICE, "team-b"), False,
     'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'),
    ("sa-defaulted-namespace-resource-name", get_secrets(APP, name="db"), True,
     'RBAC: allowed by RoleBinding "sa-same-ns/team-a" of Role "one-secret" to '
     'ServiceAccount "app/team-a"'),
    ("sa-other-name", get_secrets(APP, name="api"), False, ""),
    ("sa-list-with-resource-names", Attributes(user=APP, verb="list", resource="secrets",
                                               namespace="team-a"), False, ""),
    ("sa-group-subject", get_secrets(OTHER_APP), True,
     'RBAC: allowed by RoleBinding "all-sas-of-b/team-a" of ClusterRole "ns-reader" to '
     'Group "system:serviceaccounts:team-b"'),
    ("clusterrole-in-rolebinding-is-namespaced", get_secrets(OTHER_APP, "team-b"), False, ""),
    ("sa-explicit-namespace", get_secrets(APP, "team-c"), True,
     'RBAC: allowed by RoleBinding "explicit-sa/team-c" of ClusterRole "ns-reader" to '
     'ServiceAccount "app/team-a"'),
    ("two-missing-roles", get_secrets(ALICE, "team-d"), False,
     'RBAC: [clusterrole.rbac.authorization.k8s.io "nope" not found, '
     'role.rbac.authorization.k8s.io "gone" not found]'),
    ("cluster-scope-ignores-rolebindings", Attributes(user=ALICE, verb="list", resource="secrets"),
     False, 'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'),
]


@pytest.mark.parametrize(("attrs", "allowed", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_authorize(attrs: Attributes, allowed: bool, reason: str) -> None:
    decision = POLICY.authorize(attrs)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    ok, why = decision  # unpacks like upstream's (decision, reason)
    assert (ok, why) == (allowed, reason)


def test_sa_subject_without_namespace_in_clusterrolebinding_matches_nobody() -> None:
    p = Policy.from_objects([crole("r", READ_SECRETS), crb("b", "r", sa("app"))])
    assert not p.authorize(get_secrets(APP)).allowed
    assert p.subjects_who_can("get", "secrets", "team-a") == []


def test_aggregation_selectors_and_chain() -> None:
    objs = [
        crole("base", {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
              labels={"tier": "a"}),
        crole("extra", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
              labels={"tier": "b", "team": "x"}),
        crole("excluded", {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
              labels={"tier": "b", "team": "y"}),
        crole("mid", selectors=[{"matchLabels": {"tier": "a"}},
                                {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b"]},
                                                      {"key": "team", "operator": "NotIn", "values": ["y"]}]}],
              labels={"up": "yes"}),
        crole("top", selectors=[{"matchExpressions": [{"key": "up", "operator": "Exists"}]}]),
        crb("bind", "top", user("alice")),
    ]
    p = Policy.from_objects(objs)
    assert [r["resources"] for r in p.cluster_roles["mid"]["rules"]] == [["pods"], ["secrets"]]
    assert p.cluster_roles["top"]["rules"] == p.cluster_roles["mid"]["rules"]
    assert p.authorize(get_secrets(ALICE)).allowed
    nodes = Attributes(user=ALICE, verb="get", resource="nodes")
    assert not p.authorize(nodes).allowed
    assert objs[3]["rules"] is None  # the input is not modified


def test_bad_selector_operator_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown operator"):
        Policy.from_objects([crole("x", labels={"a": "b"}),
                             crole("y", selectors=[{"matchExpressions": [{"key": "a", "operator": "Is"}]}])])


BOOT = Policy.from_objects([
    *bootstrap_objects(),
    rb("team-a", "viewers", "ClusterRole", "view", user("viewer")),
    rb("team-a", "editors", "ClusterRole", "edit", user("editor")),
    rb("team-a", "admins", "ClusterRole", "admin", user("admin")),
    crb("vault-reviewer", "system:auth-delegator", sa("vault", "vault")),
])


def can(u: str | UserInfo, verb: str, resource: str, ns: str = "team-a", *, group: str = "",
        sub: str = "") -> bool:
    usr = u if isinstance(u, UserInfo) else UserInfo(u, groups=("system:authenticated",))
    return BOOT.authorize(Attributes(user=usr, verb=verb, resource=resource, api_group=group,
                                     namespace=ns, subresource=sub)).allowed


BOOT_CASES = [
    ("view-cannot-get-secrets", "viewer", "get", "secrets", "", "", False),
    ("view-gets-configmaps", "viewer", "get", "configmaps", "", "", True),
    ("view-lists-deployments", "viewer", "list", "deployments", "apps", "", True),
    ("view-cannot-exec", "viewer", "create", "pods", "", "exec", False),
    ("edit-gets-secrets", "editor", "get", "secrets", "", "", True),
    ("edit-creates-secrets", "editor", "create", "secrets", "", "", True),
    ("edit-execs", "editor", "create", "pods", "", "exec", True),
    ("edit-creates-tokens", "editor", "create", "serviceaccounts", "", "token", True),
    ("edit-cannot-bind", "editor", "create", "rolebindings", "rbac.authorization.k8s.io", "", False),
    ("admin-binds", "admin", "create", "rolebindings", "rbac.authorization.k8s.io", "", True),
    ("admin-reads-secrets", "admin", "watch", "secrets", "", "", True),
    ("admin-gets-secrets", "admin", "get", "secrets", "", "", True),
    ("nobody-else", "stranger", "get", "secrets", "", "", False),
]


@pytest.mark.parametrize(("who", "verb", "resource", "group", "sub", "want"),
                         [c[1:] for c in BOOT_CASES], ids=[c[0] for c in BOOT_CASES])
def test_bootstrap_roles(who: str, verb: str, resource: str, group: str, sub: str,
                         want: bool) -> None:
    assert can(who, verb, resource, group=group, sub=sub) is want


def test_bootstrap_cluster_admin_auth_delegator_and_discovery() -> None:
    masters = UserInfo("root", groups=("system:masters", "system:authenticated"))
    assert can(masters, "delete", "nodes", "")
    assert BOOT.authorize(Attributes.non_resource(masters, "get", "/metrics")).allowed
    vault = service_account_user("vault", "vault")
    assert can(vault, "create", "tokenreviews", "", group="authentication.k8s.io")
    assert not can("editor", "create", "tokenreviews", "", group="authentication.k8s.io")
    assert not can("admin", "get", "secrets", "team-b")
    anyone = UserInfo("x", groups=("system:authenticated",))
    assert BOOT.authorize(Attributes.non_resource(anyone, "get", "/apis/apps/v1")).allowed
    assert can(anyone, "create", "selfsubjectaccessreviews", "", group="authorization.k8s.io")
    assert not BOOT.authorize(Attributes.non_resource(anyone, "get", "/metrics")).allowed


def test_subjects_who_can_get_secrets() -> None:
    grants = BOOT.subjects_who_can("get", "secrets", "team-a")
    seen = {(g.subject.kind, g.subject.name, g.binding.kind, g.binding.name) for g in grants}
    assert seen == {
        ("Group", "system:masters", "ClusterRoleBinding", "cluster-admin"),
        ("User", "editor", "RoleBinding", "editors"),
        ("User", "admin", "RoleBinding", "admins"),
    }
    cluster = [g for g in grants if g.cluster_wide]
    assert [g.rule["resources"] for g in cluster] == [["*"]]
    # elsewhere only the cluster-wide grant applies; anywhere includes every namespace
    assert {g.subject.name for g in BOOT.subjects_who_can("get", "secrets", "team-b")} == {
        "system:masters"}
    assert {g.binding.name for g in BOOT.subjects_who_can("list", "secrets")} == {
        "cluster-admin", "editors", "admins"}


def test_subjects_who_can_subresource_and_sa_namespace() -> None:
    p = Policy.from_objects([
        role("team-a", "exec", {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}),
        rb("team-a", "b", "Role", "exec", sa("ci")),
    ])
    [g] = p.subjects_who_can("create", "pods", "team-a", subresource="exec")
    assert (g.subject.kind, g.subject.name, g.subject.namespace) == ("ServiceAccount", "ci", "team-a")
    assert g.namespace == "team-a" and not g.cluster_wide
    assert p.subjects_who_can("create", "pods", "team-a") == []


FORBIDDEN = [
    ("namespaced-list",
     Attributes(user=APP, verb="list", resource="secrets", namespace="team-a"), "",
     'secrets is forbidden: User "system:serviceaccount:team-a:app" cannot list resource '
     '"secrets" in API group "" in the namespace "team-a"'),
    ("named-grouped",
     Attributes(user=ALICE, verb="get", resource="deployments", api_group="apps", namespace="x",
                name="web"), "",
     'deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" in '
     'API group "apps" in the namespace "x"'),
    ("cluster-scope-with-reason",
     Attributes(user=ALICE, verb="create", resource="serviceaccounts", subresource="token",
                name="app"), 'RBAC: role.rbac.authorization.k8s.io "r" not found',
     'serviceaccounts "app" is forbidden: User "alice" cannot create resource '
     '"serviceaccounts/token" in API group "" at the cluster scope: '
     'RBAC: role.rbac.authorization.k8s.io "r" not found'),
    ("non-resource", Attributes.non_resource(ALICE, "get", "/metrics"), "",
     'forbidden: User "alice" cannot get path "/metrics"'),
]


@pytest.mark.parametrize(("attrs", "reason", "message"), [c[1:] for c in FORBIDDEN],
                         ids=[c[0] for c in FORBIDDEN])
def test_forbidden_status(attrs: Attributes, reason: str, message: str) -> None:
    status = forbidden_status(attrs, reason)
    assert status["message"] == message
    assert (status["code"], status["reason"], status["status"]) == (403, "Forbidden", "Failure")
