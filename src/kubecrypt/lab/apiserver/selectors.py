"""``fieldSelector`` and ``labelSelector`` as lists and watches apply them
(upstream: apimachinery/pkg/fields and pkg/labels)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubecrypt.lab.apiserver.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_FIELDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name", ""),
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get("namespace", ""),
}


def _field(*path: str) -> Callable[[dict[str, Any]], str]:
    def get(o: dict[str, Any]) -> str:
        value: Any = o
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    return get


_KIND_FIELDS: dict[str, dict[str, Callable[[dict[str, Any]], str]]] = {
    "Secret": {"type": lambda o: o.get("type", "")},
    "Namespace": {"status.phase": lambda o: (o.get("status") or {}).get("phase", "")},
    # pkg/registry/core/event/strategy.go ToSelectableFields: what kubectl describe asks for.
    "Event": {
        **{f"involvedObject.{f}": _field("involvedObject", f) for f in (
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": _field("reason"),
        "reportingComponent": _field("reportingComponent"),
        "source": _field("source", "component"),
        "type": _field("type"),
    },
}


def field_selector(text: str, kind: str) -> Matcher:
    checks: list[tuple[Callable[[dict[str, Any]], str], str, bool]] = []
    fields = {**_FIELDS, **_KIND_FIELDS.get(kind, {})}
    for clause in filter(None, (c.strip() for c in text.split(","))):
        m = re.fullmatch(r"([^!=]+?)\s*(==|!=|=)\s*(.*)", clause)
        if not m:
            raise bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{clause}\'')
        name, op, value = m.groups()
        if name not in fields:
            raise bad_request(f'"{name}" is not a known field selector: only '
                              f'"{", ".join(sorted(fields))}"')
        checks.append((fields[name], value, op == "!="))
    return lambda obj: all((get(obj) == v) != neg for get, v, neg in checks)


def _split_requirements(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


Requirement = Callable[[dict[str, str]], bool]


def _in_set(key: str, values: set[str], negate: bool) -> Requirement:
    return lambda labels: (labels.get(key) in values) != negate


def _exists(key: str, negate: bool) -> Requirement:
    return lambda labels: (key in labels) != negate


def label_selector(text: str) -> Matcher:
    reqs: list[Requirement] = []
    for req in _split_requirements(text):
        m = re.fullmatch(r"(\S+?)\s+(in|notin)\s+\((.*)\)", req)
        if m:
            values = {v.strip() for v in m.group(3).split(",")}
            reqs.append(_in_set(m.group(1), values, m.group(2) == "notin"))
            continue
        m = re.fullmatch(r"([^!=<>\s]+)\s*(==|!=|=)\s*([^!=\s]*)", req)
        if m:
            reqs.append(_in_set(m.group(1), {m.group(3)}, m.group(2) == "!="))
            continue
        m = re.fullmatch(r"(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)", req)
        if m:
            reqs.append(_exists(m.group(2), bool(m.group(1))))
            continue
        raise bad_request(f"unable to parse requirement: found '{req}', expected: "
                          "'=', '!=', '==', 'in', notin'")

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


def matcher(query: dict[str, str], kind: str) -> Matcher:
    fs = field_selector(query["fieldSelector"], kind) if query.get("fieldSelector") else None
    ls = label_selector(query["labelSelector"]) if query.get("labelSelector") else None
    if fs is None and ls is None:
        return lambda obj: True
    return lambda obj: (fs is None or fs(obj)) and (ls is None or ls(obj))
