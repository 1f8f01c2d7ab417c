"""RBAC as kube-apiserver evaluates it: rules, bindings, aggregation, the default roles, and
"who can" queries for the audit. Pure functions over API objects as plain dicts; no I/O."""

from kubecrypt.rbac.attributes import Attributes, forbidden_message, forbidden_status
from kubecrypt.rbac.authorizer import Binding, Decision, Grant, Policy, Subject, applies_to
from kubecrypt.rbac.bootstrap import (
    bootstrap_cluster_role_bindings,
    bootstrap_cluster_roles,
    bootstrap_objects,
)
from kubecrypt.rbac.rules import rule_allows

__all__ = [
    "Attributes",
    "Binding",
    "Decision",
    "Grant",
    "Policy",
    "Subject",
    "applies_to",
    "bootstrap_cluster_role_bindings",
    "bootstrap_cluster_roles",
    "bootstrap_objects",
    "forbidden_message",
    "forbidden_status",
    "rule_allows",
]
