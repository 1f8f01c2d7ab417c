"""ClusterRole aggregation, as the clusterrole-aggregation controller computes it
(pkg/controller/clusterroleaggregation): an aggregated role's rules are the rules of every
other ClusterRole matching any of its ``aggregationRule.clusterRoleSelectors``, selectors in
order, matching roles by name, each rule once. The controller converges over several passes
when aggregated roles feed each other (view -> edit -> admin); here we iterate to that fixpoint."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from kubecrypt.rbac.selectors import selector_matches


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _selectors(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    rule = obj.get("aggregationRule")
    if rule is None:
        return None
    return list(rule.get("clusterRoleSelectors") or [])


def aggregate(cluster_roles: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """ClusterRoles by name, with the rules of aggregated roles filled in (copies; the input is
    left alone). Roles without an aggregationRule keep their rules as written."""
    roles = {_name(r): copy.deepcopy(r) for r in cluster_roles}
    by_name = sorted(roles)
    for _ in range(len(roles) + 1):
        changed = False
        for name in by_name:
            role = roles[name]
            selectors = _selectors(role)
            if selectors is None:
                continue
            rules: list[dict[str, Any]] = []
            for selector in selectors:
                for other_name in by_name:
                    if other_name == name:
                        continue
                    other = roles[other_name]
                    if not selector_matches(selector, _labels(other)):
                        continue
                    for rule in other.get("rules") or []:
                        if not any(_same_rule(rule, have) for have in rules):
                            rules.append(copy.deepcopy(rule))
            if not _same_rules(role.get("rules") or [], rules):
                role["rules"] = rules
                changed = True
        if not changed:
            break
    return roles


def _norm(rule: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    keys = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
    return tuple(tuple(rule.get(k) or ()) for k in keys)


def _same_rule(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # equality.Semantic.DeepEqual: nil and empty lists are equal, order matters.
    return _norm(a) == _norm(b)


def _same_rules(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return len(a) == len(b) and all(_same_rule(x, y) for x, y in zip(a, b, strict=True))
