"""kube-apiserver's RBAC authorizer over plain API objects (dicts as the API returns them).

The walk is upstream's ``DefaultRuleResolver.VisitRulesFor`` (pkg/registry/rbac/validation/
rule.go): every ClusterRoleBinding first, then the RoleBindings of the request's namespace; for
each binding whose subjects include the user, the rules of its role; the first rule that allows
the request wins and names the binding in the reason. A binding whose role is missing is skipped
and its error joins the deny reason, the way upstream's aggregate error prints.

``Policy.subjects_who_can`` answers the audit's question the other way round: for a request
shape, every (subject, binding, role, rule) that grants it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubecrypt.rbac.aggregation import aggregate
from kubecrypt.rbac.attributes import Attributes
from kubecrypt.rbac.rules import rule_allows
from kubecrypt.userinfo import UserInfo, service_account_username

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __iter__(self) -> Iterator[Any]:  # ``allowed, reason = policy.authorize(attrs)``
        return iter((self.allowed, self.reason))


@dataclass(frozen=True)
class Subject:
    kind: str  # User, Group or ServiceAccount
    name: str
    namespace: str = ""  # ServiceAccounts only (defaulted from a RoleBinding's namespace)

    def describe(self) -> str:
        """upstream ``describeSubject``: ServiceAccount "name/namespace", others "name"."""
        if self.kind == "ServiceAccount":
            return f'{self.kind} "{self.name}/{self.namespace}"'
        return f'{self.kind} "{self.name}"'


@dataclass(frozen=True)
class Binding:
    kind: str  # RoleBinding or ClusterRoleBinding
    name: str
    namespace: str  # "" for a ClusterRoleBinding
    role_kind: str
    role_name: str
    subjects: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def describe(self, subject: dict[str, Any]) -> str:
        """roleBindingDescriber / clusterRoleBindingDescriber ``String()``."""
        s = _subject(subject, self.namespace).describe()
        if self.kind == "ClusterRoleBinding":
            return f'ClusterRoleBinding "{self.name}" of {self.role_kind} "{self.role_name}" to {s}'
        return (
            f'RoleBinding "{self.name}/{self.namespace}" of {self.role_kind} '
            f'"{self.role_name}" to {s}'
        )


@dataclass(frozen=True)
class Grant:
    """One way a subject gets a permission: through ``binding`` to ``role_kind/role_name``,
    whose ``rule`` allows the request. ``namespace`` is where it applies ("" = every namespace,
    from a ClusterRoleBinding)."""

    subject: Subject
    binding: Binding
    rule: dict[str, Any]

    @property
    def namespace(self) -> str:
        return self.binding.namespace

    @property
    def cluster_wide(self) -> bool:
        return self.binding.kind == "ClusterRoleBinding"


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _subject(raw: dict[str, Any], binding_namespace: str) -> Subject:
    kind, name = str(raw.get("kind", "")), str(raw.get("name", ""))
    ns = str(raw.get("namespace") or "")
    if kind == "ServiceAccount" and not ns:
        ns = binding_namespace
    return Subject(kind, name, ns if kind == "ServiceAccount" else "")


def applies_to(user: UserInfo, subject: dict[str, Any], namespace: str) -> bool:
    """upstream ``appliesToUser``. A ServiceAccount subject without a namespace takes the
    binding's; in a ClusterRoleBinding it then matches nobody."""
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_ns = subject.get("namespace") or namespace
        if not sa_ns:
            return False
        return user.name == service_account_username(sa_ns, name)
    return False


def _binding(obj: dict[str, Any], kind: str) -> Binding:
    meta, ref = _meta(obj), obj.get("roleRef") or {}
    return Binding(
        kind=kind,
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")) if kind == "RoleBinding" else "",
        role_kind=str(ref.get("kind", "")),
        role_name=str(ref.get("name", "")),
        subjects=tuple(obj.get("subjects") or ()),
    )


class RoleNotFound(Exception):
    """A binding names a role that does not exist (upstream's lister NotFound text)."""


class Policy:
    """Roles, ClusterRoles and their bindings: the state an RBAC authorizer reads.

    ClusterRoles with an aggregationRule get their rules filled in from the roles their
    selectors match, as the aggregation controller would have done."""

    def __init__(
        self,
        *,
        roles: Iterable[dict[str, Any]] = (),
        cluster_roles: Iterable[dict[str, Any]] = (),
        role_bindings: Iterable[dict[str, Any]] = (),
        cluster_role_bindings: Iterable[dict[str, Any]] = (),
    ) -> None:
        self.roles = {(str(_meta(r).get("namespace", "")), str(_meta(r).get("name", ""))): r
                      for r in roles}
        self.cluster_roles = aggregate(cluster_roles)
        self.cluster_role_bindings = [_binding(b, "ClusterRoleBinding")
                                      for b in cluster_role_bindings]
        self.role_bindings: dict[str, list[Binding]] = {}
        for b in role_bindings:
            rb = _binding(b, "RoleBinding")
            self.role_bindings.setdefault(rb.namespace, []).append(rb)

    @classmethod
    def from_objects(cls, objects: Iterable[dict[str, Any]]) -> Policy:
        """From a mixed list of rbac.authorization.k8s.io/v1 objects (a manifest, a List)."""
        sorted_: dict[str, list[dict[str, Any]]] = {
            "Role": [], "ClusterRole": [], "RoleBinding": [], "ClusterRoleBinding": []
        }
        for obj in objects:
            if obj.get("kind") in sorted_:
                sorted_[obj["kind"]].append(obj)
        return cls(
            roles=sorted_["Role"],
            cluster_roles=sorted_["ClusterRole"],
            role_bindings=sorted_["RoleBinding"],
            cluster_role_bindings=sorted_["ClusterRoleBinding"],
        )

    # ------------------------------------------------------------------ role references

    def role_rules(self, binding: Binding) -> list[dict[str, Any]]:
        """upstream ``GetRoleReferenceRules``; raises RoleNotFound with upstream's text."""
        if binding.role_kind == "Role":
            role = self.roles.get((binding.namespace, binding.role_name))
            if role is None:
                raise RoleNotFound(f'role.{RBAC_GROUP} "{binding.role_name}" not found')
            return list(role.get("rules") or [])
        if binding.role_kind == "ClusterRole":
            crole = self.cluster_roles.get(binding.role_name)
            if crole is None:
                raise RoleNotFound(f'clusterrole.{RBAC_GROUP} "{binding.role_name}" not found')
            return list(crole.get("rules") or [])
        raise RoleNotFound(f'unsupported role reference kind: "{binding.role_kind}"')

    def _bindings_for(self, namespace: str) -> Iterator[Binding]:
        yield from self.cluster_role_bindings
        if namespace:
            yield from self.role_bindings.get(namespace, [])

    # ------------------------------------------------------------------ authorize

    def authorize(self, attrs: Attributes) -> Decision:
        """(allowed, reason) with upstream's reason text: ``RBAC: allowed by ...`` when allowed;
        when denied "" or ``RBAC: <errors>`` for bindings whose role could not be found (the
        API server appends that to its 403 message)."""
        errors: list[str] = []
        for binding in self._bindings_for(attrs.namespace):
            subject = next(
                (s for s in binding.subjects if applies_to(attrs.user, s, binding.namespace)),
                None,
            )
            if subject is None:
                continue
            try:
                rules = self.role_rules(binding)
            except RoleNotFound as exc:
                errors.append(str(exc))
                continue
            for rule in rules:
                if rule_allows(attrs, rule):
                    return Decision(True, f"RBAC: allowed by {binding.describe(subject)}")
        return Decision(False, f"RBAC: {_aggregate(errors)}" if errors else "")

    def rules_for(self, user: UserInfo, namespace: str = "") -> list[dict[str, Any]]:
        """Every rule that applies to ``user`` in ``namespace`` (SelfSubjectRulesReview)."""
        out: list[dict[str, Any]] = []
        for binding in self._bindings_for(namespace):
            if any(applies_to(user, s, binding.namespace) for s in binding.subjects):
                try:
                    out.extend(self.role_rules(binding))
                except RoleNotFound:
                    continue
        return out

    # ------------------------------------------------------------------ who can

    def subjects_who_can(
        self,
        verb: str,
        resource: str,
        namespace: str | None = None,
        *,
        api_group: str = "",
        subresource: str = "",
        name: str = "",
    ) -> list[Grant]:
        """Every binding subject that may do ``verb`` on ``resource``: in ``namespace`` (its
        RoleBindings plus every ClusterRoleBinding), or with ``namespace=None`` anywhere (every
        RoleBinding in every namespace too). One Grant per (subject, binding), naming the first
        rule of the role that allows it. A ``name`` of "" asks about requests without a name
        (list, watch, create), so rules limited by resourceNames do not count for it.

        Subjects are as written in the binding (a Group stands for its members; group
        membership is the authenticator's business, not RBAC's)."""
        probe = UserInfo("")  # rule matching ignores the user
        attrs = Attributes(
            user=probe,
            verb=verb,
            resource=resource,
            api_group=api_group,
            namespace=namespace or "",
            subresource=subresource,
            name=name,
        )
        bindings: list[Binding] = list(self.cluster_role_bindings)
        if namespace is None:
            for ns in sorted(self.role_bindings):
                bindings.extend(self.role_bindings[ns])
        else:
            bindings.extend(self.role_bindings.get(namespace, []))
        grants: list[Grant] = []
        for binding in bindings:
            try:
                rules = self.role_rules(binding)
            except RoleNotFound:
                continue
            rule = next((r for r in rules if rule_allows(attrs, r)), None)
            if rule is None:
                continue
            for raw in binding.subjects:
                subject = _subject(raw, binding.namespace)
                if subject.kind == "ServiceAccount" and not subject.namespace:
                    continue  # matches nobody (see applies_to)
                grants.append(Grant(subject, binding, rule))
        return grants


def _aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one error as is; several deduplicated in brackets."""
    if len(errors) == 1:
        return errors[0]
    seen: list[str] = []
    for e in errors:
        if e not in seen:
            seen.append(e)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
