"""ObjectMeta, Time, OwnerReference and ManagedFieldsEntry in kube-apiserver's protobuf form.

Field numbers from kubernetes/apimachinery pkg/apis/meta/v1/generated.proto. gogo-protobuf's
non-pointer fields are always written, even when empty; pointer fields only when set; maps sorted
by key bytes. Objects are the Kubernetes JSON form (dicts) on the Python side."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import EncodingError
from kubecrypt.storage import wire
from kubecrypt.storage.wire import field_bytes, field_str, field_varint


def sorted_map(field: int, items: dict[str, Any], encode_value: Any) -> bytes:
    out = []
    for k in sorted(items, key=lambda s: s.encode()):
        out.append(field_bytes(field, field_str(1, k) + field_bytes(2, encode_value(items[k]))))
    return b"".join(out)


def str_value(v: Any) -> bytes:
    return str(v).encode()


def decode_map(val: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for n, _, v in wire.iter_fields(val):
        if n == 1 and isinstance(v, bytes):
            key = v.decode()
        elif n == 2 and isinstance(v, bytes):
            value = v
    return key, value


# ------------------------------------------------------------------------------ Time


def parse_time(s: str | datetime) -> int:
    if isinstance(s, datetime):  # YAML loaders turn unquoted timestamps into datetimes
        return int((s if s.tzinfo else s.replace(tzinfo=UTC)).timestamp())
    try:
        return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
    except ValueError:
        from kubecrypt.errors import EncodingError

        raise EncodingError(
            f"invalid timestamp {s!r}: expected RFC 3339 such as 2024-06-01T12:00:00Z"
        ) from None


def format_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_time(s: str | datetime | None) -> bytes:
    """A set Time writes seconds and nanos (always 0: protobuf drops sub-second precision)."""
    if not s:
        return b""
    return field_varint(1, parse_time(s)) + field_varint(2, 0)


def decode_time(buf: bytes) -> str | None:
    seconds = None
    for n, _, v in wire.iter_fields(buf):
        if n == 1 and isinstance(v, int):
            seconds = wire.as_int64(v)
    return None if seconds is None else format_time(seconds)


def encode_micro_time(s: str | datetime) -> bytes:
    """MicroTime keeps microseconds: seconds and nanos (a multiple of 1000), both always written."""
    if isinstance(s, datetime):
        t = s if s.tzinfo else s.replace(tzinfo=UTC)
    else:
        try:
            t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            from kubecrypt.errors import EncodingError

            raise EncodingError(f"invalid timestamp {s!r}: expected RFC 3339 with microseconds") from None
    seconds = int(t.timestamp() // 1)
    return field_varint(1, seconds) + field_varint(2, t.microsecond * 1000)


def decode_micro_time(buf: bytes) -> str:
    seconds = nanos = 0
    for n, _, v in wire.iter_fields(buf):
        if n == 1 and isinstance(v, int):
            seconds = wire.as_int64(v)
        elif n == 2 and isinstance(v, int):
            nanos = v
    t = datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------------------ ObjectMeta


def _owner_ref(ref: dict[str, Any]) -> bytes:
    out = field_str(1, ref.get("kind", "")) + field_str(3, ref.get("name", ""))
    out += field_str(4, ref.get("uid", "")) + field_str(5, ref.get("apiVersion", ""))
    if ref.get("controller") is not None:
        out += field_varint(6, int(bool(ref["controller"])))
    if ref.get("blockOwnerDeletion") is not None:
        out += field_varint(7, int(bool(ref["blockOwnerDeletion"])))
    return out


def _decode_owner_ref(buf: bytes) -> dict[str, Any]:
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    ref: dict[str, Any] = {}
    for n, _, v in wire.iter_fields(buf):
        if n in names and isinstance(v, bytes):
            ref[names[n]] = v.decode()
        elif n in (6, 7) and isinstance(v, int):
            ref["controller" if n == 6 else "blockOwnerDeletion"] = bool(v)
    return {
        k: ref[k]
        for k in ("apiVersion", "blockOwnerDeletion", "controller", "kind", "name", "uid")
        if k in ref
    }


def _managed_field(entry: dict[str, Any]) -> bytes:
    out = field_str(1, entry.get("manager", "")) + field_str(2, entry.get("operation", ""))
    out += field_str(3, entry.get("apiVersion", ""))
    if entry.get("time"):
        out += field_bytes(4, encode_time(entry["time"]))
    out += field_str(6, entry.get("fieldsType", ""))
    if entry.get("fieldsV1") is not None:
        raw = json.dumps(entry["fieldsV1"], separators=(",", ":"), ensure_ascii=False).encode()
        out += field_bytes(7, field_bytes(1, raw))
    out += field_str(8, entry.get("subresource", ""))
    return out


def _decode_managed_field(buf: bytes) -> dict[str, Any]:
    names = {1: "manager", 2: "operation", 3: "apiVersion", 6: "fieldsType", 8: "subresource"}
    entry: dict[str, Any] = {}
    for n, _, v in wire.iter_fields(buf):
        if not isinstance(v, bytes):
            continue
        if n in names:
            entry[names[n]] = v.decode()
        elif n == 4:
            entry["time"] = decode_time(v)
        elif n == 7:
            for n2, _, raw in wire.iter_fields(v):
                if n2 == 1 and isinstance(raw, bytes):
                    # Keep the stored key order: re-encoding must reproduce the same bytes.
                    entry["fieldsV1"] = (
                        safeparse.load_json(raw, "managedFields.fieldsV1", error=EncodingError)
                        if raw
                        else {}
                    )
    if not entry.get("subresource"):
        entry.pop("subresource", None)
    return entry


def encode_object_meta(meta: dict[str, Any]) -> bytes:
    out = [
        field_str(1, meta.get("name", "")),
        field_str(2, meta.get("generateName", "")),
        field_str(3, meta.get("namespace", "")),
        field_str(4, meta.get("selfLink", "")),
        field_str(5, meta.get("uid", "")),
        field_str(6, meta.get("resourceVersion", "")),
        field_varint(7, int(meta.get("generation", 0) or 0)),
        field_bytes(8, encode_time(meta.get("creationTimestamp"))),
    ]
    if meta.get("deletionTimestamp"):
        out.append(field_bytes(9, encode_time(meta["deletionTimestamp"])))
    if meta.get("deletionGracePeriodSeconds") is not None:
        out.append(field_varint(10, int(meta["deletionGracePeriodSeconds"])))
    out.append(sorted_map(11, meta.get("labels") or {}, str_value))
    out.append(sorted_map(12, meta.get("annotations") or {}, str_value))
    for ref in meta.get("ownerReferences") or []:
        out.append(field_bytes(13, _owner_ref(ref)))
    for fin in meta.get("finalizers") or []:
        out.append(field_str(14, fin))
    for entry in meta.get("managedFields") or []:
        out.append(field_bytes(17, _managed_field(entry)))
    return b"".join(out)


_META_STRINGS = {
    1: "name",
    2: "generateName",
    3: "namespace",
    4: "selfLink",
    5: "uid",
    6: "resourceVersion",
}


def decode_object_meta(buf: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {"creationTimestamp": None}
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for n, _, v in wire.iter_fields(buf):
        if n in _META_STRINGS and isinstance(v, bytes):
            if v:
                meta[_META_STRINGS[n]] = v.decode()
        elif n == 7 and isinstance(v, int):
            if v:
                meta["generation"] = wire.as_int64(v)
        elif n in (8, 9) and isinstance(v, bytes):
            t = decode_time(v)
            if n == 8:
                meta["creationTimestamp"] = t
            elif t:
                meta["deletionTimestamp"] = t
        elif n == 10 and isinstance(v, int):
            meta["deletionGracePeriodSeconds"] = wire.as_int64(v)
        elif n in (11, 12) and isinstance(v, bytes):
            k, val = decode_map(v)
            (labels if n == 11 else annotations)[k] = val.decode()
        elif n == 13 and isinstance(v, bytes):
            meta.setdefault("ownerReferences", []).append(_decode_owner_ref(v))
        elif n == 14 and isinstance(v, bytes):
            meta.setdefault("finalizers", []).append(v.decode())
        elif n == 17 and isinstance(v, bytes):
            meta.setdefault("managedFields", []).append(_decode_managed_field(v))
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta
