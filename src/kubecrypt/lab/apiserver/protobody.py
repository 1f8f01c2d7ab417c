"""Protobuf request bodies of the kinds kubectl >= 1.32 sends as protobuf (its typed clients:
``create serviceaccount|token|role|rolebinding|clusterrole|clusterrolebinding``, ``auth can-i``,
``auth whoami``) beyond the ones the storage codec decodes (Secret, ConfigMap, Namespace,
Lease). Field numbers from k8s.io/api ``*/v1/generated.proto``; the answer is JSON."""

from __future__ import annotations

from typing import Any

from kubecrypt.errors import EncodingError
from kubecrypt.storage import codec, wire
from kubecrypt.storage.objectmeta import decode_map, decode_object_meta

Kind = str | tuple[str, "Schema"]  # "str" "int" "bool" "strs" "meta" "map" | (msg|msgs)
Schema = dict[int, tuple[str, Kind]]

_OBJECT_REF: Schema = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"),
                       4: ("uid", "str"), 5: ("apiVersion", "str"),
                       6: ("resourceVersion", "str"), 7: ("fieldPath", "str")}
_RULE: Schema = {1: ("verbs", "strs"), 2: ("apiGroups", "strs"), 3: ("resources", "strs"),
                 4: ("resourceNames", "strs"), 5: ("nonResourceURLs", "strs")}
_SELECTOR_REQ: Schema = {1: ("key", "str"), 2: ("operator", "str"), 3: ("values", "strs")}
_SELECTOR: Schema = {1: ("matchLabels", "map"), 2: ("matchExpressions", ("msgs", _SELECTOR_REQ))}
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
        3: ("aggregationRule", ("msg", {1: ("clusterRoleSelectors", ("msgs", _SELECTOR))}))},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {
        1: ("metadata", "meta"), 2: ("subjects", ("msgs", _SUBJECT)),
        3: ("roleRef", ("msg", _ROLE_REF))},
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {
        1: ("metadata", "meta"), 2: ("subjects", ("msgs", _SUBJECT)),
        3: ("roleRef", ("msg", _ROLE_REF))},
}


def _message(buf: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, _, v in wire.iter_fields(buf):
        if n not in schema:
            continue
        name, kind = schema[n]
        if kind == "int" and isinstance(v, int):
            out[name] = wire.as_int64(v)
        elif kind == "bool" and isinstance(v, int):
            out[name] = bool(v)
        elif not isinstance(v, bytes):
            continue
        elif kind == "str":
            if v:
                out[name] = v.decode()
        elif kind == "strs":
            out.setdefault(name, []).append(v.decode())
        elif kind == "meta":
            out[name] = decode_object_meta(v)
        elif kind == "map":
            key, value = decode_map(v)
            out.setdefault(name, {})[key] = value.decode()
        elif isinstance(kind, tuple) and kind[0] == "msg":
            out[name] = _message(v, kind[1])
        elif isinstance(kind, tuple) and kind[0] == "msgs":
            out.setdefault(name, []).append(_message(v, kind[1]))
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
