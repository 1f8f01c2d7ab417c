"""Protobuf request bodies of the kinds kubectl >= 1.32 sends as protobuf (its typed clients:
``create serviceaccount|token|role|rolebinding|clusterrole|clusterrolebinding|deployment|job|
cronjob|service``, ``auth can-i``, ``auth whoami``) beyond the ones the storage codec decodes
(Secret, ConfigMap, Namespace, Lease). Field numbers from k8s.io/api ``*/v1/generated.proto``
(the workload schemas are in ``protoschemas``); the answer is JSON.

A field a schema does not know is refused (``UnknownField``) unless it holds only zero values:
dropping a set field would store another object than the client sent, and the client can always
send JSON instead."""

from __future__ import annotations

from typing import Any

from kubecrypt.errors import EncodingError
from kubecrypt.lab.apiserver.protoschemas import SELECTOR, WORKLOADS, Schema
from kubecrypt.storage import codec, wire
from kubecrypt.storage.objectmeta import decode_map, decode_object_meta

_OBJECT_REF: Schema = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"),
                       4: ("uid", "str"), 5: ("apiVersion", "str"),
                       6: ("resourceVersion", "str"), 7: ("fieldPath", "str")}
_RULE: Schema = {1: ("verbs", "strs"), 2: ("apiGroups", "strs"), 3: ("resources", "strs"),
                 4: ("resourceNames", "strs"), 5: ("nonResourceURLs", "strs")}
_SUBJECT: Schema = {1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"),
                    4: ("namespace", "str")}
_ROLE_REF: Schema = {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")}
_RESOURCE_ATTRS: Schema = {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"),
                           4: ("version", "str"), 5: ("resource", "str"),
                           6: ("subresource", "str"), 7: ("name", "str")}
_NON_RESOURCE_ATTRS: Schema = {1: ("path", "str"), 2: ("verb", "str")}

SCHEMAS: dict[tuple[str, str], Schema] = {
    ("v1", "ServiceAccount"): {
        1: ("metadata", "meta"), 2: ("secrets", ("msgs", _OBJECT_REF)),
        3: ("imagePullSecrets", ("msgs", {1: ("name", "str")})),
        4: ("automountServiceAccountToken", "bool")},
    ("authentication.k8s.io/v1", "TokenRequest"): {
        1: ("metadata", "meta"),
        2: ("spec", ("msg", {1: ("audiences", "strs"),
                             3: ("boundObjectRef", ("msg", {1: ("kind", "str"),
                                                            2: ("apiVersion", "str"),
                                                            3: ("name", "str"),
                                                            4: ("uid", "str")})),
                             4: ("expirationSeconds", "int")}))},
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", "meta")},
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", "meta"),
        2: ("spec", ("msg", {1: ("resourceAttributes", ("msg", _RESOURCE_ATTRS)),
                             2: ("nonResourceAttributes", ("msg", _NON_RESOURCE_ATTRS))}))},
    ("rbac.authorization.k8s.io/v1", "Role"): {1: ("metadata", "meta"),
                                               2: ("rules", ("msgs", _RULE))},
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {
        1: ("metadata", "meta"), 2: ("rules", ("msgs", _RULE)),
        3: ("aggregationRule", ("msg", {1: ("clusterRoleSelectors", ("msgs", SELECTOR))}))},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {
        1: ("metadata", "meta"), 2: ("subjects", ("msgs", _SUBJECT)),
        3: ("roleRef", ("msg", _ROLE_REF))},
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {
        1: ("metadata", "meta"), 2: ("subjects", ("msgs", _SUBJECT)),
        3: ("roleRef", ("msg", _ROLE_REF))},
    **WORKLOADS,
}


class UnknownField(EncodingError):
    """A field the schema does not know, set to something other than its zero value: dropping
    it would store a different object than the client sent."""


def _is_zero(v: int | bytes, depth: int = 0) -> bool:
    """Whether an unknown field holds only zero values. gogo-protobuf writes every plain
    (non-pointer) Go field, set or not: empty strings, 0, false and empty nested structs such as
    ``status``. Those say nothing, so they may be skipped; anything else may not."""
    if isinstance(v, int) or not v:
        return v in (0, b"")
    if depth > 8:
        return False
    try:
        return all(_is_zero(inner, depth + 1) for _, _, inner in wire.iter_fields(v))
    except wire.WireError:
        return False


def _scalar(kind: str, v: int | bytes, path: str) -> Any:
    if isinstance(v, int):
        if kind in ("int", "int0", "ints"):
            return wire.as_int64(v)
        if kind in ("bool", "bool0"):
            return bool(v)
    elif kind == "str":
        return v.decode()
    elif kind == "qty":  # resource.Quantity: field 1 is its canonical string
        return _message(v, {1: ("string", "str")}, path).get("string", "")
    elif kind == "intstr":  # IntOrString: type (0 int, 1 string), intVal, strVal
        f = _message(v, {1: ("type", "int0"), 2: ("intVal", "int0"), 3: ("strVal", "str")}, path)
        return f.get("strVal", "") if f.get("type") == 1 else f.get("intVal", 0)
    raise EncodingError(f"field {path} has the wrong protobuf wire type")


def _message(buf: bytes, schema: Schema, path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, _, v in wire.iter_fields(buf):
        if n not in schema:
            if _is_zero(v):
                continue
            raise UnknownField(f"field number {n} of {path or 'the object'}")
        name, kind = schema[n]
        at = f"{path}.{name}" if path and name else name or path
        if kind == "skip":
            continue
        if isinstance(kind, tuple):
            if not isinstance(v, bytes):
                raise EncodingError(f"field {at} has the wrong protobuf wire type")
            inner = _message(v, kind[1], at)
            if kind[0] == "inline":
                out.update(inner)
            elif kind[0] == "msg":
                out[name] = inner
            else:
                out.setdefault(name, []).append(inner)
        elif kind == "strs":
            out.setdefault(name, []).append(_scalar("str", v, at))
        elif kind == "ints" and isinstance(v, bytes):  # packed
            values = out.setdefault(name, [])
            pos = 0
            while pos < len(v):
                x, pos = wire.read_varint(v, pos)
                values.append(wire.as_int64(x))
        elif kind == "ints":
            out.setdefault(name, []).append(_scalar(kind, v, at))
        elif kind == "meta" and isinstance(v, bytes):
            out[name] = decode_object_meta(v)
        elif kind in ("map", "qtys") and isinstance(v, bytes):
            key, value = decode_map(v)
            out.setdefault(name, {})[key] = (value.decode() if kind == "map"
                                             else _scalar("qty", value, f"{at}[{key}]"))
        else:
            value = _scalar(kind, v, at)
            if value or kind in ("int", "bool"):
                out[name] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The object in a ``k8s\\x00`` protobuf envelope (JSON form); raises EncodingError."""
    kind = codec.decode_envelope_kind(body)
    if kind is None:
        raise EncodingError("not a Kubernetes protobuf body (no k8s\\x00 envelope)")
    schema = SCHEMAS.get(kind)
    if schema is None:
        return codec.decode(body)
    raw = b""
    try:
        for n, _, v in wire.iter_fields(body[len(codec.MAGIC):]):
            if n == 2 and isinstance(v, bytes):
                raw = v
        obj = _message(raw, schema)
    except (wire.WireError, UnicodeDecodeError) as exc:
        raise EncodingError(f"malformed protobuf body: {exc}") from None
    obj["apiVersion"], obj["kind"] = kind
    return obj


def decodable(api_version: str, kind: str) -> bool:
    return (api_version, kind) in SCHEMAS or (api_version, kind) in {
        ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Namespace"),
        ("coordination.k8s.io/v1", "Lease")}
