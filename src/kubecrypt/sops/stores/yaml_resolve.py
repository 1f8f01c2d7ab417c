"""YAML scalar typing as go-yaml v3 does it (resolve.go): YAML 1.2 core types plus timestamps,
Go's ``ParseInt(s, 0, 64)`` for integers, and the 1.1 booleans that v3 no longer decodes but
still quotes on output; and its check for a key repeated in one mapping."""

from __future__ import annotations

import math
import re
from typing import Any

from yaml import events as ev

from kubecrypt.sops.errors import CouldNotReadInput, ErrorEncryptingTree
from kubecrypt.sops.values import SopsTime, parse_timestamp

_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUES = {"true", "True", "TRUE"}
_FALSES = {"false", "False", "FALSE"}
_INF = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NINF = {"-.inf", "-.Inf", "-.INF"}
_NAN = {".nan", ".NaN", ".NAN"}
_OLD_BOOLS = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
              "n", "N", "no", "No", "NO", "off", "Off", "OFF"}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")
_GO_INT = re.compile(
    r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")

INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1

MERGE = "<<"


def _go_int(s: str) -> int | None:
    if not _GO_INT.match(s):
        return None
    sign = -1 if s[0] == "-" else 1
    body = s.lstrip("+-")
    if len(body) > 1 and body[0] == "0" and body[1] in "xXoObB":
        v = int(body[2:], {"x": 16, "o": 8, "b": 2}[body[1].lower()])
    elif len(body) > 1 and body[0] == "0":
        v = int(body, 8)
    else:
        v = int(body)
    v *= sign
    if INT64_MIN <= v <= UINT64_MAX:
        return v
    return None


def _go_float(s: str) -> float | None:
    """Go's ``strconv.ParseFloat``: a number beyond float64's range is an error (go-yaml then
    keeps the scalar a string, ``1e400``), where Python's float() gives infinity."""
    v = float(s)
    return None if math.isinf(v) else v


def resolve_plain(s: str) -> object:
    """The value of an untagged plain scalar."""
    if s in _NULLS:
        return None
    c = s[0]
    if c in "tTfF":
        if s in _TRUES:
            return True
        if s in _FALSES:
            return False
        return s
    if c == "." or (c in "+-" and len(s) > 1 and s[1] == "."):
        if s in _INF:
            return math.inf
        if s in _NINF:
            return -math.inf
        if s in _NAN:
            return math.nan
        if _FLOAT.match(s):
            f = _go_float(s)
            return s if f is None else f
        return s
    if c.isdigit() or c in "+-":
        t = parse_timestamp(s)
        if t is not None:
            return t
        plain = s.replace("_", "")
        i = _go_int(plain)
        if i is not None:
            return i
        if _FLOAT.match(plain):
            f = _go_float(plain)
            return s if f is None else f
        return s
    return s


def _short_tag_of(v: object) -> str:
    if v is None:
        return "!!null"
    if isinstance(v, bool):
        return "!!bool"
    if isinstance(v, int):
        return "!!int"
    if isinstance(v, float):
        return "!!float"
    return "!!timestamp" if isinstance(v, SopsTime) else "!!str"


def resolve_tagged(s: str, tag: str) -> object:
    short = tag.replace("tag:yaml.org,2002:", "!!")
    if short == "!!str":
        return s
    if short in ("!!int", "!!float", "!!bool", "!!null", "!!timestamp"):
        v = resolve_plain(s) if s else None
        found = _short_tag_of(v)
        if short == "!!float" and found == "!!int":
            return float(v)  # type: ignore[arg-type]
        if found != short:
            # go-yaml v3 (resolve.go) refuses a tag its value does not resolve to, and sops
            # with it (exit 2): `!!bool yes` is the string "yes" in YAML 1.2.
            raise CouldNotReadInput(
                f"Error unmarshaling input YAML: cannot decode {found} `{s}` as a {short}; "
                "remove the tag or quote the value.")
        return v
    if short == "!!binary":
        import base64
        import binascii

        try:
            return base64.b64decode("".join(s.split()), validate=True).decode(
                "utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            raise CouldNotReadInput(
                "Error unmarshaling input YAML: !!binary value contains invalid base64 data."
            ) from None
    # Any other tag (`!foo`, `!e!x` under %TAG, `!<tag:x>`): go-yaml v3 resolves only the
    # core tags, so sops reads the scalar as the string it spells (`!foo 1` is "1").
    return s


def needs_quotes(s: str) -> bool:
    """A string that would read back as another type (or as a 1.1 bool/base-60 number)."""
    if s in _OLD_BOOLS or _BASE60.match(s):
        return True
    v = resolve_plain(s) if s else None
    return not (isinstance(v, str) and not isinstance(v, SopsTime))


def complex_key(go_map: bool) -> CouldNotReadInput | ErrorEncryptingTree:
    """A mapping or list as a key (an alias to one): where sops first decodes the mapping into
    a Go map of string keys (``go_map``: where repeated keys are refused) that fails, exit 2;
    elsewhere (a later document) its tree walk refuses it, exit 23."""
    if go_map:
        return CouldNotReadInput(
            "Error unmarshaling input YAML: cannot unmarshal a mapping or list into a string "
            "key; a mapping key must be a scalar.")
    return ErrorEncryptingTree(
        "Error encrypting tree: Error walking tree: Tree contains a non-string key (a mapping "
        "or list); use a scalar key.")


def unique_key(seen: dict[tuple[bool, str], int], e: Any) -> None:
    """go-yaml v3's uniqueKeys check (decode.go ``d.mapping``): two keys of one mapping clash
    when they are nodes of one kind with the same text (``a`` and ``"a"`` do, an alias
    ``*x`` and the scalar it names do not), whatever they resolve to."""
    alias = isinstance(e, ev.AliasEvent)
    line = e.start_mark.line + 1
    if not alias and not isinstance(e, ev.ScalarEvent):
        # sops decodes this mapping into a Go map of string keys first (exit 2)
        kind = "!!seq" if isinstance(e, ev.SequenceStartEvent) else "!!map"
        raise CouldNotReadInput(
            f"Error unmarshaling input YAML: line {line}: cannot unmarshal {kind} into string; "
            "a mapping key must be a scalar.")
    ident = (alias, e.anchor if alias else e.value)
    if ident in seen:
        raise CouldNotReadInput(
            f'Error unmarshaling input YAML: line {line}: mapping key "{ident[1]}" already '
            f"defined at line {seen[ident]}; rename or remove one of them.")
    seen[ident] = line
