"""Protocol-buffer wire format, just the parts Kubernetes' storage needs.

Written out rather than generated because byte equality with kube-apiserver depends on its
gogo-protobuf marshallers' rules (fields always emitted even when empty, maps sorted by key),
which generated Python classes do not reproduce."""

from __future__ import annotations

from collections.abc import Iterator

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class WireError(ValueError):
    pass


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 negatives are ten-byte varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def field_bytes(field: int, data: bytes) -> bytes:
    return tag(field, LEN) + varint(len(data)) + data


def field_str(field: int, s: str) -> bytes:
    return field_bytes(field, s.encode())


def field_varint(field: int, n: int) -> bytes:
    return tag(field, VARINT) + varint(n)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint too long")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yields ``(field number, wire type, value)``; LEN values as bytes, numbers as int."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = read_varint(buf, pos)
        field, wt = key >> 3, key & 7
        if field == 0:
            raise WireError("invalid field number 0")
        if wt == VARINT:
            val, pos = read_varint(buf, pos)
            yield field, wt, val
        elif wt == LEN:
            ln, pos = read_varint(buf, pos)
            if pos + ln > n:
                raise WireError(f"field {field} runs past the end of the data")
            yield field, wt, buf[pos : pos + ln]
            pos += ln
        elif wt == I64:
            if pos + 8 > n:
                raise WireError("truncated fixed64")
            yield field, wt, int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wt == I32:
            if pos + 4 > n:
                raise WireError("truncated fixed32")
            yield field, wt, int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wt}")


def as_int64(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n
