"""Kubernetes storage encoding of Secret, ConfigMap and Namespace.

kube-apiserver stores built-in objects as ``k8s\\x00`` followed by a ``runtime.Unknown``
(1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType; the last two always
written, empty). Custom resources are stored as JSON. Upstream:
apimachinery pkg/runtime/serializer/protobuf/protobuf.go and core/v1 generated.proto."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import EncodingError
from kubecrypt.storage import wire
from kubecrypt.storage.objectmeta import (
    decode_map,
    decode_micro_time,
    decode_object_meta,
    decode_time,
    encode_micro_time,
    encode_object_meta,
    encode_time,
    sorted_map,
    str_value,
)
from kubecrypt.storage.wire import field_bytes, field_str, field_varint

MAGIC = b"k8s\x00"


def _b64(v: Any) -> bytes:
    try:
        return base64.b64decode(str(v), validate=True)
    except (binascii.Error, ValueError):
        raise EncodingError("a data value is not valid base64") from None


# ------------------------------------------------------------------------------ Secret


def _encode_secret(obj: dict[str, Any]) -> bytes:
    data = {k: _b64(v) for k, v in (obj.get("data") or {}).items()}
    # The apiserver merges stringData into data before storing; stringData itself is never stored.
    for k, v in (obj.get("stringData") or {}).items():
        data[k] = str(v).encode()
    out = field_bytes(1, encode_object_meta(obj.get("metadata") or {}))
    out += sorted_map(2, data, lambda b: b)
    out += field_str(3, obj.get("type") or "")
    if obj.get("immutable") is not None:
        out += field_varint(5, int(bool(obj["immutable"])))
    return out


def _decode_secret(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret"}
    data: dict[str, str] = {}
    for n, _, v in wire.iter_fields(raw):
        if n == 1 and isinstance(v, bytes):
            obj["metadata"] = decode_object_meta(v)
        elif n == 2 and isinstance(v, bytes):
            k, val = decode_map(v)
            data[k] = base64.b64encode(val).decode()
        elif n == 3 and isinstance(v, bytes):
            if v:
                obj["type"] = v.decode()
        elif n == 5 and isinstance(v, int):
            obj["immutable"] = bool(v)
    if data:
        obj["data"] = data
    return obj


# ------------------------------------------------------------------------------ ConfigMap


def _encode_configmap(obj: dict[str, Any]) -> bytes:
    out = field_bytes(1, encode_object_meta(obj.get("metadata") or {}))
    out += sorted_map(2, obj.get("data") or {}, str_value)
    out += sorted_map(
        3, {k: _b64(v) for k, v in (obj.get("binaryData") or {}).items()}, lambda b: b
    )
    if obj.get("immutable") is not None:
        out += field_varint(4, int(bool(obj["immutable"])))
    return out


def _decode_configmap(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap"}
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for n, _, v in wire.iter_fields(raw):
        if n == 1 and isinstance(v, bytes):
            obj["metadata"] = decode_object_meta(v)
        elif n == 2 and isinstance(v, bytes):
            k, val = decode_map(v)
            data[k] = val.decode()
        elif n == 3 and isinstance(v, bytes):
            k, val = decode_map(v)
            binary[k] = base64.b64encode(val).decode()
        elif n == 4 and isinstance(v, int):
            obj["immutable"] = bool(v)
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


# ------------------------------------------------------------------------------ Namespace


def _encode_condition(c: dict[str, Any]) -> bytes:
    return (
        field_str(1, c.get("type", ""))
        + field_str(2, c.get("status", ""))
        + field_bytes(4, encode_time(c.get("lastTransitionTime")))
        + field_str(5, c.get("reason", ""))
        + field_str(6, c.get("message", ""))
    )


def _encode_namespace(obj: dict[str, Any]) -> bytes:
    spec = b"".join(field_str(1, f) for f in (obj.get("spec") or {}).get("finalizers") or [])
    status_obj = obj.get("status") or {}
    status = field_str(1, status_obj.get("phase", ""))
    status += b"".join(
        field_bytes(2, _encode_condition(c)) for c in status_obj.get("conditions") or []
    )
    return (
        field_bytes(1, encode_object_meta(obj.get("metadata") or {}))
        + field_bytes(2, spec)
        + field_bytes(3, status)
    )


def _decode_condition(buf: bytes) -> dict[str, Any]:
    names = {1: "type", 2: "status", 5: "reason", 6: "message"}
    c: dict[str, Any] = {}
    for n, _, v in wire.iter_fields(buf):
        if n in names and isinstance(v, bytes) and v:
            c[names[n]] = v.decode()
        elif n == 4 and isinstance(v, bytes):
            c["lastTransitionTime"] = decode_time(v)
    return c


def _decode_namespace(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "spec": {}, "status": {}}
    for n, _, v in wire.iter_fields(raw):
        if not isinstance(v, bytes):
            continue
        if n == 1:
            obj["metadata"] = decode_object_meta(v)
        elif n == 2:
            fins = [
                f.decode() for n2, _, f in wire.iter_fields(v) if n2 == 1 and isinstance(f, bytes)
            ]
            if fins:
                obj["spec"]["finalizers"] = fins
        elif n == 3:
            for n2, _, v2 in wire.iter_fields(v):
                if n2 == 1 and isinstance(v2, bytes) and v2:
                    obj["status"]["phase"] = v2.decode()
                elif n2 == 2 and isinstance(v2, bytes):
                    obj["status"].setdefault("conditions", []).append(_decode_condition(v2))
    return obj


# ------------------------------------------------------------------------------ Lease

# coordination.k8s.io/v1 LeaseSpec: every field is a pointer, written only when set.
_LEASE_STR = {1: "holderIdentity", 6: "strategy", 7: "preferredHolder"}
_LEASE_INT = {2: "leaseDurationSeconds", 5: "leaseTransitions"}
_LEASE_TIME = {3: "acquireTime", 4: "renewTime"}


def _encode_lease(obj: dict[str, Any]) -> bytes:
    spec = obj.get("spec") or {}
    out = b""
    for num in range(1, 8):
        name = _LEASE_STR.get(num) or _LEASE_INT.get(num) or _LEASE_TIME[num]
        value = spec.get(name)
        if value is None:
            continue
        if num in _LEASE_STR:
            out += field_str(num, str(value))
        elif num in _LEASE_INT:
            out += field_varint(num, int(value))
        else:
            out += field_bytes(num, encode_micro_time(value))
    return field_bytes(1, encode_object_meta(obj.get("metadata") or {})) + field_bytes(2, out)


def _decode_lease(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {}}
    for n, _, v in wire.iter_fields(raw):
        if n == 1 and isinstance(v, bytes):
            obj["metadata"] = decode_object_meta(v)
        elif n == 2 and isinstance(v, bytes):
            for n2, _, v2 in wire.iter_fields(v):
                if n2 in _LEASE_STR and isinstance(v2, bytes):
                    obj["spec"][_LEASE_STR[n2]] = v2.decode()
                elif n2 in _LEASE_INT and isinstance(v2, int):
                    obj["spec"][_LEASE_INT[n2]] = wire.as_int64(v2)
                elif n2 in _LEASE_TIME and isinstance(v2, bytes):
                    obj["spec"][_LEASE_TIME[n2]] = decode_micro_time(v2)
    return obj


_KINDS: dict[
    tuple[str, str], tuple[Callable[[dict[str, Any]], bytes], Callable[[bytes], dict[str, Any]]]
] = {
    ("v1", "Secret"): (_encode_secret, _decode_secret),
    ("v1", "ConfigMap"): (_encode_configmap, _decode_configmap),
    ("v1", "Namespace"): (_encode_namespace, _decode_namespace),
    ("coordination.k8s.io/v1", "Lease"): (_encode_lease, _decode_lease),
}
SUPPORTED = ", ".join(f"{gv} {kind}" for gv, kind in _KINDS)


# ------------------------------------------------------------------------------ envelope


def encode(obj: dict[str, Any]) -> bytes:
    """The bytes kube-apiserver stores (before encryption) for a Secret, ConfigMap, Namespace or Lease."""
    if not isinstance(obj, dict):
        raise EncodingError("expected a Kubernetes object (a mapping with apiVersion and kind)")
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    codec = _KINDS.get((api_version, kind))
    if codec is None:
        raise EncodingError(
            f"cannot encode {api_version or '?'}/{kind or '?'}: only {SUPPORTED} have a protobuf "
            "storage form here"
        )
    raw = codec[0](obj)
    type_meta = field_str(1, api_version) + field_str(2, kind)
    unknown = field_bytes(1, type_meta) + field_bytes(2, raw) + field_str(3, "") + field_str(4, "")
    return MAGIC + unknown


def decode(data: bytes) -> dict[str, Any]:
    """The object, in Kubernetes JSON form, from stored (decrypted) bytes: protobuf or JSON."""
    if data.startswith(b"{"):
        obj = safeparse.load_json(data, "the stored JSON value", error=EncodingError)
        if not isinstance(obj, dict):
            raise EncodingError("the stored JSON is not an object")
        return obj
    if not data.startswith(MAGIC):
        if data.startswith(b"k8s:enc:"):
            raise EncodingError(
                "the value is still encrypted; decrypt it first (kubecrypt atrest decrypt or etcd get)"
            )
        raise EncodingError(
            "not a Kubernetes storage value: expected the k8s\\x00 protobuf prefix or JSON"
        )
    api_version = kind = ""
    raw: bytes | None = None
    try:
        for n, _, v in wire.iter_fields(data[len(MAGIC) :]):
            if n == 1 and isinstance(v, bytes):
                for n2, _, v2 in wire.iter_fields(v):
                    if n2 == 1 and isinstance(v2, bytes):
                        api_version = v2.decode()
                    elif n2 == 2 and isinstance(v2, bytes):
                        kind = v2.decode()
            elif n == 2 and isinstance(v, bytes):
                raw = v
        codec = _KINDS.get((api_version, kind))
        if codec is None:
            raise EncodingError(
                f"cannot decode {api_version}/{kind}: supported kinds are {SUPPORTED}"
            )
        return codec[1](raw or b"")
    except (wire.WireError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EncodingError(f"malformed protobuf storage value: {exc}") from None


def decode_envelope_kind(data: bytes) -> tuple[str, str] | None:
    """(apiVersion, kind) of a protobuf storage value, without decoding the object."""
    if not data.startswith(MAGIC):
        return None
    try:
        for n, _, v in wire.iter_fields(data[len(MAGIC) :]):
            if n == 1 and isinstance(v, bytes):
                parts = {n2: v2 for n2, _, v2 in wire.iter_fields(v)}
                av, k = parts.get(1, b""), parts.get(2, b"")
                if isinstance(av, bytes) and isinstance(k, bytes):
                    return av.decode(), k.decode()
    except (wire.WireError, UnicodeDecodeError):
        return None
    return None
