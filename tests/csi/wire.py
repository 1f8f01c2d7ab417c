"""Protobuf wire format by hand, so the driver-side tests depend on neither our .proto nor our
stubs: field numbers come from the upstream service.proto (v1.6.0)."""

from __future__ import annotations

from typing import Any


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def mount_request(attributes: str, secrets: str, target_path: str, permission: str,
                  current: list[tuple[str, str]] = ()) -> bytes:  # type: ignore[assignment]
    out = b""
    for num, val in ((1, attributes), (2, secrets), (3, target_path), (4, permission)):
        if val:
            out += field_bytes(num, val.encode())
    for i, v in current:
        out += field_bytes(5, field_bytes(1, i.encode()) + field_bytes(2, v.encode()))
    return out


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def fields(data: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wt = key >> 3, key & 7
        if wt == 0:
            value, pos = _read_varint(data, pos)
        elif wt == 2:
            n, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + n], pos + n
        else:
            raise AssertionError(f"unexpected wire type {wt}")
        out.append((number, value))
    return out


def mount_response(data: bytes) -> dict[str, Any]:
    """{"versions": [(id, version)], "error": code, "files": [(path, mode, contents)]}"""
    out: dict[str, Any] = {"versions": [], "error": None, "files": []}
    for number, value in fields(data):
        if number == 1:
            f = dict(fields(value))
            out["versions"].append((f.get(1, b"").decode(), f.get(2, b"").decode()))
        elif number == 2:
            out["error"] = dict(fields(value)).get(1, b"").decode()
        elif number == 3:
            f = dict(fields(value))
            out["files"].append((f.get(1, b"").decode(), f.get(2, 0), f.get(3, b"")))
    return out


def call(channel: Any, method: str, body: bytes, timeout: float = 20) -> bytes:
    fn = channel.unary_unary(f"/v1alpha1.CSIDriverProvider/{method}",
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return bytes(fn(body, timeout=timeout))
