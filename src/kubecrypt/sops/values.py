"""The scalar values of a sops tree and their plaintext bytes (the bytes that are encrypted and
fed to the MAC), exactly as sops 3.11.0 encodes them (sops.go, aes/cipher.go)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import TypeGuard

Scalar = str | int | float | bool | bytes | None


class Comment:
    """A comment item; ``value`` is the text after ``#`` (leading space kept). Immutable and
    hashable. A plain class, not a dataclass: ``dataclasses`` imports ``inspect`` (and ``ast``,
    ``dis``, ``tokenize``), several milliseconds of every ``kubecrypt sops`` start."""

    __slots__ = ("value",)
    __match_args__ = ("value",)
    value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: Comment is immutable")

    def __reduce__(self) -> tuple[type[Comment], tuple[str, ...]]:  # copy, deepcopy, pickle
        return Comment, (self.value,)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Comment):
            return NotImplemented
        return self.value == other.value

    def __hash__(self) -> int:
        return hash((self.value,))

    def __repr__(self) -> str:
        return f"Comment(value={self.value!r})"


class HeldComment(Comment):
    """An encrypted comment of a list written as a comment (``#ENC[...]``), not as a list
    element as sops 3.11 writes it: under ``encrypted_comment_regex`` an element would end, at
    decryption, the run of comments that marked what follows, so the file would fail its MAC
    (``tree._walk_list_comments``; docs/sops.md)."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type[Comment], tuple[str, ...]]:
        return HeldComment, (self.value,)


class SopsTime(str):
    """A timestamp, held as Go's RFC 3339 (nano) text, the form sops encrypts and re-emits."""

    __slots__ = ()


def is_string(v: object) -> TypeGuard[str]:
    """A string value of the tree: a timestamp is a ``time.Time`` in sops, not a string."""
    return isinstance(v, str) and not isinstance(v, SopsTime)


# ---------------------------------------------------------------- number formatting (Go's strconv)

def _digits(v: float) -> tuple[str, int]:
    """Shortest round-trip digits of abs(v) and the decimal exponent of the first digit."""
    from decimal import Decimal  # floats are rare; keep start-up lean

    _, digits, exp = Decimal(repr(abs(v))).normalize().as_tuple()
    ds = "".join(map(str, digits))
    assert isinstance(exp, int)
    return ds, len(ds) + exp - 1


def _special(v: float, nan: str, inf: str, ninf: str) -> str:
    """The spelling of NaN, infinities and (signed) zero, or "" for any other number."""
    if math.isnan(v):
        return nan
    if math.isinf(v):
        return inf if v > 0 else ninf
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    return ""


def format_float_f(v: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    special = _special(v, "NaN", "+Inf", "-Inf")
    if special:
        return special
    from decimal import Decimal

    return format(Decimal(repr(v)).normalize(), "f")


def _format_e(v: float, short_exp: bool) -> str:
    ds, exp = _digits(v)
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    e = f"{abs(exp):02d}" if not short_exp else str(abs(exp))
    return ("-" if v < 0 else "") + mant + "e" + ("-" if exp < 0 else "+") + e


def format_float_g(v: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` as go-yaml emits floats, with YAML's inf/nan."""
    special = _special(v, ".nan", ".inf", "-.inf")
    if special:
        return special
    _, exp = _digits(v)
    # Go uses eprec = 6 for the shortest form: exponent notation from 1e+06 up.
    if exp < -4 or exp >= 6:
        return _format_e(v, short_exp=False)
    return format_float_f(v)


def val_to_string(v: object) -> str:
    """sops' ``stores.ValToString``: how INI values and ``exec-env`` variables spell a
    non-string scalar (``%G`` floats with at least one decimal, ``<nil>`` for null, a
    timestamp as RFC 3339 in whole seconds); a string as it is."""
    if isinstance(v, SopsTime):  # Go's time.RFC3339: the fraction of a second is dropped
        return re.sub(r"\.\d+(?=Z\Z|[+-]\d\d:\d\d\Z)", "", v)
    if isinstance(v, str):
        return v
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        special = _special(v, "NaN", "+Inf", "-Inf")
        if special in ("0", "-0"):
            return special + ".0"
        if special:
            return special
        _, exp = _digits(v)
        if exp < -4 or exp >= 6:
            return _format_e(v, short_exp=False).upper()
        text = format_float_f(v)
        return text if "." in text else text + ".0"
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    return str(v)


def format_float_json(v: float) -> str:
    """Go's encoding/json float64 form (ES6 style: exponent below 1e-6 and from 1e21)."""
    if math.isnan(v) or math.isinf(v):
        raise ValueError("json: unsupported value: " + format_float_f(v))
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        return _format_e(v, short_exp=True)
    return format_float_f(v)


# ---------------------------------------------------------------- timestamps

_TS_RFC3339 = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")
# Compiled on first use (re caches them): most files never hold such a timestamp.
_TS_SPACE = r"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?\Z"
_TS_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})\Z"


def _rfc3339nano(g: list[int], frac: str, off: int) -> str:
    y, mo, d, h, mi, s = g
    datetime(y, mo, d, h, mi, s)  # range check, raises ValueError
    if off != 0 and abs(off) >= 24 * 60:
        raise ValueError("offset out of range")
    frac = frac[:10].rstrip("0") if frac else ""
    if frac == ".":
        frac = ""
    if off == 0:
        zone = "Z"
    else:
        zone = ("+" if off > 0 else "-") + f"{abs(off) // 60:02d}:{abs(off) % 60:02d}"
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"


def parse_timestamp(text: str) -> SopsTime | None:
    """The timestamp forms go-yaml v3 recognises in plain scalars, or ``None``."""
    if not text or not text[0].isdigit() or len(text) < 8:
        return None
    try:
        m = _TS_RFC3339.match(text)
        if m:
            z = m.group(8)
            off = 0 if z == "Z" else (1 if z[0] == "+" else -1) * (int(z[1:3]) * 60 + int(z[4:6]))
            g = [int(x) for x in m.groups()[:6]]
            return SopsTime(_rfc3339nano(g, m.group(7) or "", off))
        m = re.match(_TS_SPACE, text)
        if m:
            g = [int(x) for x in m.groups()[:6]]
            return SopsTime(_rfc3339nano(g, m.group(7) or "", 0))
        m = re.match(_TS_DATE, text)
        if m:
            y, mo, d = (int(x) for x in m.groups())
            return SopsTime(_rfc3339nano([y, mo, d, 0, 0, 0], "", 0))
    except ValueError:
        return None
    return None


def now_rfc3339() -> str:
    """UTC now, whole seconds: the ``lastmodified`` form (fractions would break the MAC's AAD)."""
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_lastmodified(text: str) -> str:
    """Go parses ``lastmodified`` as RFC 3339 and re-formats it (fractions dropped) as AAD."""
    m = _TS_RFC3339.match(text.strip())
    if not m:
        raise ValueError(f'parsing time "{text}" as RFC 3339 failed')
    z = m.group(8)
    off = 0 if z == "Z" else (1 if z[0] == "+" else -1) * (int(z[1:3]) * 60 + int(z[4:6]))
    g = [int(x) for x in m.groups()[:6]]
    return _rfc3339nano(g, "", off)


# ---------------------------------------------------------------- plaintext bytes and type tags

def encode_value(v: object) -> tuple[bytes, str]:
    """(plaintext bytes, ``type:`` tag) of a value, as sops writes it."""
    if isinstance(v, Comment):
        return v.value.encode("utf-8", "surrogateescape"), "comment"
    if isinstance(v, SopsTime):
        return str(v).encode(), "time"
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape"), "str"
    if isinstance(v, bool):
        return (b"True" if v else b"False"), "bool"
    if isinstance(v, int):
        return str(v).encode(), "int"
    if isinstance(v, float):
        return format_float_f(v).encode(), "float"
    if isinstance(v, bytes):
        return v, "bytes"
    raise TypeError(f"cannot encrypt a value of type {type(v).__name__}")


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def decode_value(data: bytes, vtype: str) -> object:
    """Inverse of :func:`encode_value`; raises ``ValueError`` for an unknown tag or bad text."""
    if vtype == "str":
        return data.decode("utf-8", "surrogateescape")
    if vtype == "int":
        return int(data.decode())
    if vtype == "float":
        return float(data.decode())
    if vtype == "bool":
        t = data.decode()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        raise ValueError(f'strconv.ParseBool: parsing "{t}": invalid syntax')
    if vtype == "time":
        ts = parse_timestamp(data.decode())
        if ts is None:
            raise ValueError(f'parsing time "{data.decode()}" failed')
        return ts
    if vtype == "bytes":
        return data
    if vtype == "comment":
        return Comment(data.decode("utf-8", "surrogateescape"))
    raise ValueError(f"Unknown datatype: {vtype}")


def mac_bytes(v: object) -> bytes:
    """Bytes a value contributes to the MAC (same as its plaintext bytes; ``""`` adds nothing)."""
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    return encode_value(v)[0]
