"""PolicyRule matching, case by case, as upstream's evaluation helpers decide."""

from __future__ import annotations

import pytest

from kubecrypt.rbac import Attributes, rule_allows
from kubecrypt.userinfo import UserInfo

U = UserInfo("alice")


def res(verb: str, resource: str, *, group: str = "", sub: str = "", name: str = "",
        ns: str = "default") -> Attributes:
    return Attributes(user=U, verb=verb, resource=resource, api_group=group, subresource=sub,
                      name=name, namespace=ns)


def url(verb: str, path: str) -> Attributes:
    return Attributes.non_resource(U, verb, path)


SECRETS_GET = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
CASES = [
    ("exact", SECRETS_GET, res("get", "secrets"), True),
    ("other-verb", SECRETS_GET, res("list", "secrets"), False),
    ("other-group", SECRETS_GET, res("get", "secrets", group="apps"), False),
    ("other-resource", SECRETS_GET, res("get", "configmaps"), False),
    ("verb-star", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]},
     res("delete", "secrets"), True),
    ("group-star", {"apiGroups": ["*"], "resources": ["deployments"], "verbs": ["get"]},
     res("get", "deployments", group="apps"), True),
    ("resource-star", {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]},
     res("get", "secrets"), True),
    ("resource-star-covers-subresource", {"apiGroups": [""], "resources": ["*"], "verbs": ["create"]},
     res("create", "pods", sub="exec"), True),
    ("plain-resource-not-subresource", {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
     res("create", "pods", sub="exec"), False),
    ("subresource-exact", {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
     res("create", "pods", sub="exec"), True),
    ("subresource-not-parent", {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]},
     res("get", "pods"), False),
    ("star-slash-subresource", {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["update"]},
     res("update", "deployments", group="apps", sub="status"), True),
    ("star-slash-other-subresource", {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["update"]},
     res("update", "pods", sub="exec"), False),
    ("star-slash-not-the-resource", {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["update"]},
     res("update", "pods"), False),
    ("resource-name-match", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                             "resourceNames": ["db"]}, res("get", "secrets", name="db"), True),
    ("resource-name-other", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                             "resourceNames": ["db"]}, res("get", "secrets", name="api"), False),
    ("resource-names-never-list", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"],
                                   "resourceNames": ["db"]}, res("list", "secrets"), False),
    ("url-exact", {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, url("get", "/healthz"), True),
    ("url-prefix-star", {"nonResourceURLs": ["/apis/*"], "verbs": ["get"]},
     url("get", "/apis/apps/v1"), True),
    ("url-prefix-star-needs-prefix", {"nonResourceURLs": ["/apis/*"], "verbs": ["get"]},
     url("get", "/api"), False),
    ("url-all", {"nonResourceURLs": ["*"], "verbs": ["get"]}, url("get", "/metrics"), True),
    ("url-rule-not-resource", {"nonResourceURLs": ["*"], "verbs": ["*"]}, res("get", "secrets"), False),
    ("resource-rule-not-url", {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
     url("get", "/healthz"), False),
    ("null-lists", {"apiGroups": None, "resources": None, "verbs": None}, res("get", "secrets"), False),
]


@pytest.mark.parametrize(("rule", "attrs", "want"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rule_allows(rule: dict, attrs: Attributes, want: bool) -> None:
    assert rule_allows(attrs, rule) is want
