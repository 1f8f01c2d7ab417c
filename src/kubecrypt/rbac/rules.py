"""PolicyRule matching, exactly as kube-apiserver's RBAC authorizer does it
(plugin/pkg/auth/authorizer/rbac/rbac.go ``RuleAllows`` and pkg/apis/rbac/v1
evaluation_helpers.go). Rules are plain dicts as the API returns them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubecrypt.rbac.attributes import Attributes

VERB_ALL = "*"
API_GROUP_ALL = "*"
RESOURCE_ALL = "*"
NON_RESOURCE_ALL = "*"

Rule = Mapping[str, Any]


def _list(rule: Rule, key: str) -> list[str]:
    return list(rule.get(key) or [])


def verb_matches(rule: Rule, verb: str) -> bool:
    return any(v in (VERB_ALL, verb) for v in _list(rule, "verbs"))


def api_group_matches(rule: Rule, group: str) -> bool:
    return any(g in (API_GROUP_ALL, group) for g in _list(rule, "apiGroups"))


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    for r in _list(rule, "resources"):
        if r in (RESOURCE_ALL, combined):
            return True
        # "*/status" matches the status subresource of every resource; nothing else is a glob.
        if subresource and len(r) == len(subresource) + 2 and r.startswith("*/") and r.endswith(
            subresource
        ):
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    names = _list(rule, "resourceNames")
    # An empty list allows every name; a list never matches a request without a name (list,
    # create, watch without a field selector), as upstream.
    return not names or name in names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for u in _list(rule, "nonResourceURLs"):
        if u in (NON_RESOURCE_ALL, path):
            return True
        if u.endswith("*") and path.startswith(u.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    if attrs.resource_request:
        combined = attrs.resource
        if attrs.subresource:
            combined = f"{attrs.resource}/{attrs.subresource}"
        return (
            verb_matches(rule, attrs.verb)
            and api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, combined, attrs.subresource)
            and resource_name_matches(rule, attrs.name)
        )
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)
