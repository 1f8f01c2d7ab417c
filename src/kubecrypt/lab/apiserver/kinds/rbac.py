"""rbac.authorization.k8s.io/v1 Roles, ClusterRoles (aggregation is the controllers' job),
RoleBindings and ClusterRoleBindings (upstream: pkg/registry/rbac/*/strategy.go and
pkg/apis/rbac/validation). The lab's authorizer reads them through ``kubecrypt.rbac``."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver import validation
from kubecrypt.lab.apiserver.columns import AGE, NAME, col, get, text
from kubecrypt.lab.apiserver.errors import Cause
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.resources import RW, Resource

GROUP = "rbac.authorization.k8s.io"
_CREATED = col("Created At", lambda o: text(get(o, "metadata", "creationTimestamp")), "date")
_SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


def _rules(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        if not isinstance(rule, dict):
            causes.append(validation.required(f"rules[{i}]"))
            continue
        if not rule.get("verbs"):
            causes.append(validation.required(f"rules[{i}].verbs", "verbs must contain at least "
                                              "one value"))
        if rule.get("nonResourceURLs") and obj.get("kind") == "Role":
            causes.append(validation.invalid(f"rules[{i}].nonResourceURLs",
                                             rule["nonResourceURLs"],
                                             "namespaced rules cannot apply to non-resource URLs"))
        if not rule.get("nonResourceURLs") and not rule.get("resources"):
            causes.append(validation.required(f"rules[{i}].resources",
                                              "resource rules must supply at least one resource"))
    return causes


class RoleStrategy(Strategy):
    columns = (NAME, _CREATED)
    name_check = staticmethod(validation.path_segment_problems)
    top_fields = fields("rules", "aggregationRule")

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        if obj.get("aggregationRule"):
            return []  # rules are the aggregation controller's
        return _rules(obj)


def _role(o: dict[str, Any]) -> str:
    return f"{text(get(o, 'roleRef', 'kind'))}/{text(get(o, 'roleRef', 'name'))}"


class BindingStrategy(Strategy):
    columns = (NAME, col("Role", _role), AGE)
    name_check = staticmethod(validation.path_segment_problems)
    top_fields = fields("subjects", "roleRef")

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        causes: list[Cause] = []
        ref = obj.get("roleRef")
        if not isinstance(ref, dict) or not ref.get("name"):
            causes.append(validation.required("roleRef.name"))
        elif ref.get("kind") not in (("Role", "ClusterRole") if obj.get("kind") == "RoleBinding"
                                     else ("ClusterRole",)):
            causes.append(Cause("FieldValueNotSupported", "roleRef.kind",
                                f'Unsupported value: "{text(ref.get("kind"))}"'))
        elif ref.get("apiGroup") != GROUP:
            causes.append(Cause("FieldValueNotSupported", "roleRef.apiGroup",
                                f'Unsupported value: "{text(ref.get("apiGroup"))}": supported '
                                f'values: "{GROUP}"'))
        for i, s in enumerate(obj.get("subjects") or []):
            if not isinstance(s, dict) or s.get("kind") not in _SUBJECT_KINDS:
                kind = text(get(s, "kind")) if isinstance(s, dict) else ""
                causes.append(Cause("FieldValueNotSupported", f"subjects[{i}].kind",
                                    f'Unsupported value: "{kind}": supported values: '
                                    '"ServiceAccount", "User", "Group"'))
            elif not s.get("name"):
                causes.append(validation.required(f"subjects[{i}].name"))
            elif s["kind"] == "ServiceAccount" and obj.get("kind") == "ClusterRoleBinding" \
                    and not s.get("namespace"):
                causes.append(validation.required(f"subjects[{i}].namespace"))
        if old is not None and old.get("roleRef") != obj.get("roleRef"):
            causes.append(validation.invalid("roleRef", text(obj.get("roleRef")),
                                             "cannot change roleRef"))
        return causes


ROLE = RoleStrategy()
BINDING = BindingStrategy()
ROLES = Resource(GROUP, "v1", "roles", "role", "Role", True, False, RW, strategy=ROLE)
CLUSTER_ROLES = Resource(GROUP, "v1", "clusterroles", "clusterrole", "ClusterRole", False, False,
                         RW, strategy=ROLE)
ROLE_BINDINGS = Resource(GROUP, "v1", "rolebindings", "rolebinding", "RoleBinding", True, False,
                         RW, strategy=BINDING)
CLUSTER_ROLE_BINDINGS = Resource(GROUP, "v1", "clusterrolebindings", "clusterrolebinding",
                                 "ClusterRoleBinding", False, False, RW, strategy=BINDING)
RESOURCES = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
