"""rbac.*: who can read Secrets, computed from the real bindings with kubecrypt's RBAC evaluator
(aggregated ClusterRoles filled in as the aggregation controller does), not from rules that name
``secrets`` literally (kubescape C-0015/C-0186, trivy KSV-0041/KSV-0113).

* ``rbac.secret-readers``: subjects outside ``system:`` who may get, list or watch Secrets,
  cluster-wide or per namespace.
* ``rbac.cluster-binding``: the ClusterRoleBindings that grant it (every namespace at once).
* ``rbac.indirect``: who reads Secrets without a Secret rule: create pods or workloads in a
  namespace (mount any Secret), ``pods/exec``, ``serviceaccounts/token``, impersonate,
  bind/escalate.

A Group stands for its members; ServiceAccounts of ``kube-*`` namespaces are the control
plane's own and are left out, like ``system:`` users and groups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kubecrypt.doctor.report import Finding, Report, refs
from kubecrypt.rbac import Policy, bootstrap_objects
from kubecrypt.rbac.authorizer import Binding, Grant, Subject

IDS = ("rbac.secret-readers", "rbac.cluster-binding", "rbac.indirect")
READ_VERBS = ("get", "list", "watch")
RBAC_DOCS = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"

# (verb, resource, api group, subresource, what it gives)
INDIRECT: tuple[tuple[str, str, str, str, str], ...] = (
    ("create", "pods", "", "", "create pods (mount any Secret of the namespace)"),
    ("create", "deployments", "apps", "", "create deployments"),
    ("create", "statefulsets", "apps", "", "create statefulsets"),
    ("create", "daemonsets", "apps", "", "create daemonsets"),
    ("create", "replicasets", "apps", "", "create replicasets"),
    ("create", "jobs", "batch", "", "create jobs"),
    ("create", "cronjobs", "batch", "", "create cronjobs"),
    ("create", "replicationcontrollers", "", "", "create replicationcontrollers"),
    ("create", "pods", "", "exec", "pods/exec (read mounted Secrets in running pods)"),
    ("create", "serviceaccounts", "", "token",
     "serviceaccounts/token (act as any ServiceAccount of the namespace)"),
    ("impersonate", "users", "", "", "impersonate users"),
    ("impersonate", "groups", "", "", "impersonate groups"),
    ("impersonate", "serviceaccounts", "", "", "impersonate serviceaccounts"),
    ("bind", "clusterroles", "rbac.authorization.k8s.io", "", "bind clusterroles"),
    ("bind", "roles", "rbac.authorization.k8s.io", "", "bind roles"),
    ("escalate", "clusterroles", "rbac.authorization.k8s.io", "", "escalate clusterroles"),
    ("escalate", "roles", "rbac.authorization.k8s.io", "", "escalate roles"),
)


def is_system(subject: Subject) -> bool:
    if subject.kind == "ServiceAccount":
        return subject.namespace.startswith("kube-")
    return subject.name.startswith("system:")


def policy(objects: dict[str, list[dict[str, Any]]]) -> Policy:
    """The cluster's RBAC objects, plus the default ClusterRoles and bindings the dump lacks
    (every cluster has them; a partial dump should still resolve ``edit`` or ``view``)."""
    have = {(o.get("kind"), (o.get("metadata") or {}).get("name"))
            for kind in ("ClusterRole", "ClusterRoleBinding") for o in objects.get(kind, [])}
    defaults = [o for o in bootstrap_objects()
                if (o["kind"], o["metadata"]["name"]) not in have]
    every = [o for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
             for o in objects.get(kind, [])]
    return Policy.from_objects(every + defaults)


@dataclass
class _Access:
    subject: Subject
    binding: Binding
    what: list[str]
    rules: list[dict[str, Any]]


def _bkey(b: Binding) -> tuple[str, str, str]:
    return (b.kind, b.namespace, b.name)


def _scope(b: Binding) -> str:
    return "every namespace" if b.kind == "ClusterRoleBinding" else f"namespace {b.namespace}"


def _binding_name(b: Binding) -> str:
    if b.kind == "ClusterRoleBinding":
        return f"ClusterRoleBinding {b.name}"
    return f"RoleBinding {b.namespace}/{b.name}"


def _collect(grants: list[tuple[str, Grant]]) -> list[_Access]:
    by: dict[tuple[Subject, tuple[str, str, str]], _Access] = {}
    for what, g in grants:
        if is_system(g.subject):
            continue
        a = by.setdefault((g.subject, _bkey(g.binding)), _Access(g.subject, g.binding, [], []))
        if what not in a.what:
            a.what.append(what)
        if g.rule not in a.rules:
            a.rules.append(g.rule)
    return sorted(by.values(), key=lambda a: (a.binding.kind != "ClusterRoleBinding",
                                               a.subject.kind, a.subject.name,
                                               a.binding.namespace, a.binding.name))


def _rule_text(rules: list[dict[str, Any]]) -> str:
    parts = []
    for r in rules[:3]:
        parts.append(f"verbs {','.join(r.get('verbs') or [])} on "
                     f"{','.join(r.get('resources') or [])}")
    return "; ".join(parts)


def run(report: Report, objects: dict[str, list[dict[str, Any]]]) -> None:
    pol = policy(objects)
    direct = _collect([(verb, g) for verb in READ_VERBS
                       for g in pol.subjects_who_can(verb, "secrets", None)])
    read_ref = refs(cis="5.1.2", kubescape=["C-0015", "C-0186"], trivy=["KSV-0041", "KSV-0113"],
                    docs=RBAC_DOCS)
    readers = []
    for a in direct:
        cluster = a.binding.kind == "ClusterRoleBinding"
        aggregated = pol.cluster_roles.get(a.binding.role_name, {}).get("aggregationRule")
        via = f"{a.binding.role_kind} {a.binding.role_name}" + (
            " (aggregated: its rules come from the ClusterRoles its selectors match)"
            if aggregated and a.binding.role_kind == "ClusterRole" else "")
        readers.append(Finding(
            "rbac.secret-readers", "high" if cluster else "medium",
            f"{a.subject.kind} {_subject_name(a.subject)}",
            f"may {','.join(a.what)} secrets in {_scope(a.binding)} through "
            f"{_binding_name(a.binding)} to {via} ({_rule_text(a.rules)})",
            "grant Secret access per namespace and per name (resourceNames) only to the "
            "workloads that need it; remove list/watch, which return every value", read_ref))
    report.record("rbac.secret-readers", readers,
                  "no subject outside system: may read Secrets")

    by_crb: dict[str, list[_Access]] = defaultdict(list)
    for a in direct:
        if a.binding.kind == "ClusterRoleBinding":
            by_crb[a.binding.name].append(a)
    report.record("rbac.cluster-binding", [Finding(
        "rbac.cluster-binding", "high", f"ClusterRoleBinding {name}",
        f"binds {accesses[0].binding.role_kind} {accesses[0].binding.role_name} in every "
        "namespace to "
        f"{', '.join(f'{a.subject.kind} {_subject_name(a.subject)}' for a in accesses)}, "
        f"which lets them {','.join(sorted({w for a in accesses for w in a.what}))} every Secret",
        "replace it with RoleBindings in the namespaces that need it", read_ref)
        for name, accesses in sorted(by_crb.items())],
        "no ClusterRoleBinding grants Secret reads outside system:")

    readers_of = {(a.subject, _bkey(a.binding)) for a in direct}
    indirect = _collect([
        (what, g) for verb, resource, group, sub, what in INDIRECT
        for g in pol.subjects_who_can(verb, resource, None, api_group=group, subresource=sub)])
    findings = []
    for a in indirect:
        if (a.subject, _bkey(a.binding)) in readers_of:
            continue  # it reads Secrets directly through this binding: said above
        cluster = a.binding.kind == "ClusterRoleBinding"
        findings.append(Finding(
            "rbac.indirect", "high" if cluster else "medium",
            f"{a.subject.kind} {_subject_name(a.subject)}",
            f"can read Secrets indirectly in {_scope(a.binding)}: {'; '.join(a.what)}, through "
            f"{_binding_name(a.binding)} to {a.binding.role_kind} {a.binding.role_name}",
            "treat these verbs as Secret access: grant them only where the subject may read "
            "every Secret of the namespace; use admission policy to limit which Secrets pods "
            "mount", refs(cis=["5.1.2", "5.1.13"], kubescape=["C-0259", "C-0282"],
                          docs=RBAC_DOCS + "#workload-creation")))
    report.record("rbac.indirect", findings,
                  "no subject outside system: can read Secrets indirectly")


def _subject_name(s: Subject) -> str:
    return f"{s.namespace}/{s.name}" if s.kind == "ServiceAccount" else s.name
