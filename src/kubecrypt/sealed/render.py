"""Writing objects exactly as kubeseal does.

JSON: Kubernetes pretty JSON (``json.MarshalIndent``, two spaces, HTML-escaped), fields in Go
struct order, map keys sorted. YAML: sigs.k8s.io/yaml, i.e. go-yaml v2 over that JSON: keys in
go-yaml's "natural" order at every level, strings double-quoted whenever YAML 1.1 would read them
as something else, literal blocks for multi-line strings, lines folded at 80 columns."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

import yaml

# --- Go struct field orders ------------------------------------------------------------------
# (field, omitempty, nested schema); unknown fields are dropped, as decoding into Go structs does.
Schema = list[tuple[str, bool, Any]]
MAP = "map"  # a Go map: keys sorted, values kept

OWNER_REFERENCE: Schema = [
    ("apiVersion", False, None), ("kind", False, None), ("name", False, None),
    ("uid", False, None), ("controller", True, None), ("blockOwnerDeletion", True, None),
]
OBJECT_META: Schema = [
    ("name", True, None), ("generateName", True, None), ("namespace", True, None),
    ("selfLink", True, None), ("uid", True, None), ("resourceVersion", True, None),
    ("generation", True, None), ("creationTimestamp", True, None),
    ("deletionTimestamp", True, None), ("deletionGracePeriodSeconds", True, None),
    ("labels", True, MAP), ("annotations", True, MAP),
    ("ownerReferences", True, [OWNER_REFERENCE]), ("finalizers", True, None),
    ("managedFields", True, None),
]
SECRET: Schema = [
    ("kind", True, None), ("apiVersion", True, None), ("metadata", False, OBJECT_META),
    ("immutable", True, None), ("data", True, MAP), ("stringData", True, MAP),
    ("type", True, None),
]
TEMPLATE: Schema = [
    ("metadata", False, OBJECT_META), ("type", True, None), ("immutable", True, None),
    ("data", True, MAP),
]
CONDITION: Schema = [
    ("type", False, None), ("status", False, None), ("lastUpdateTime", True, None),
    ("lastTransitionTime", True, None), ("reason", True, None), ("message", True, None),
]
STATUS: Schema = [("observedGeneration", True, None), ("conditions", True, [CONDITION])]
SPEC: Schema = [("template", False, TEMPLATE), ("data", True, None), ("encryptedData", False, MAP)]
SEALED_SECRET: Schema = [
    ("kind", True, None), ("apiVersion", True, None), ("metadata", False, OBJECT_META),
    ("spec", False, SPEC), ("status", True, STATUS),
]
LIST: Schema = [
    ("kind", True, None), ("apiVersion", True, None), ("metadata", False, {"resourceVersion"}),
    ("items", False, [SECRET]),
]


def _empty(value: Any) -> bool:
    # Every bool in these structs is a *bool in Go, so ``false`` is kept; int64 0 is omitted.
    if isinstance(value, bool):
        return False
    return value is None or value == "" or value == {} or value == [] or value == 0


def ordered(obj: Any, schema: Any) -> Any:
    """Reorders (and prunes) ``obj`` as encoding/json would marshal the Go struct."""
    if schema is MAP:
        return None if obj is None else {k: obj[k] for k in sorted(obj)}
    if isinstance(schema, list) and schema and not isinstance(schema[0], tuple):
        return None if obj is None else [ordered(item, schema[0]) for item in obj]
    if isinstance(schema, set):
        return {k: obj[k] for k in sorted(obj) if k in schema and not _empty(obj[k])} if obj else {}
    if not isinstance(schema, list):
        return obj
    src = obj or {}
    out: dict[str, Any] = {}
    for name, omitempty, sub in schema:
        value = src.get(name)
        if omitempty and _empty(value):
            continue
        out[name] = ordered(value, sub) if sub is not None else value
    return out


# --- JSON ------------------------------------------------------------------------------------

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                 "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")


def to_json(obj: Any) -> str:
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], text) + "\n"


# --- YAML (go-yaml v2) -----------------------------------------------------------------------


def _go_key_less(a: str, b: str) -> bool:
    """go-yaml v2 ``keyList.Less``: letters after non-letters, digit runs compared as numbers."""
    ar, br = a, b
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            continue
        al, bl = ar[i].isalpha(), br[i].isalpha()
        if al and bl:
            return ar[i] < br[i]
        if al or bl:
            return bl
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdecimal():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdecimal():
            an = an * 10 + ord(ar[ai]) - 48  # Go: rune - '0'
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdecimal():
            bn = bn * 10 + ord(br[bi]) - 48
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ar[i] < br[i]
    return len(ar) < len(br)


def _go_key_cmp(a: str, b: str) -> int:
    return -1 if _go_key_less(a, b) else (1 if _go_key_less(b, a) else 0)


_BOOL_NULL = {
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
    "OFF", "true", "True", "TRUE", "false", "False", "FALSE", "", "~", "null", "Null", "NULL",
    ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
    "-.INF", "<<",
}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_BASE60_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}"
    r"(?:(?:[Tt]|[ \t]+)\d{1,2}:\d{2}:\d{2}(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d{1,2}(?::\d{2})?))?)?$"
)
_GO_INT = re.compile(
    r"^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$"
)
_GO_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def _go_plain_is_str(s: str) -> bool:
    """True when go-yaml v2's ``resolve`` reads the plain scalar ``s`` back as a string."""
    if s in _BOOL_NULL:
        return False
    first = s[0]
    if first == ".":
        return not _GO_FLOAT.match(s)
    if first.isdigit() or first in "+-":
        if _TIMESTAMP.match(s):
            return False
        plain = s.replace("_", "")
        if _GO_INT.match(plain):
            return False
        if _YAML_FLOAT.match(plain):
            return False
        if re.match(r"^-?0b[01]+$", plain):
            return False
    return not _BASE60_FLOAT.match(s)


def _go_string_style(s: str) -> str | None:
    if "\n" in s:
        return "|"
    if _go_plain_is_str(s):
        return None  # plain if the emitter's analysis allows, else single, else double quotes
    return '"'


class _GoDumper(yaml.emitter.Emitter, yaml.serializer.Serializer, yaml.representer.Representer,
                yaml.resolver.BaseResolver):
    def __init__(self, stream: Any, **kwargs: Any) -> None:
        yaml.emitter.Emitter.__init__(
            self, stream, canonical=False, indent=2, width=80, allow_unicode=True, line_break="\n"
        )
        yaml.serializer.Serializer.__init__(self, explicit_start=False, explicit_end=False)
        yaml.representer.Representer.__init__(self, default_style=None, default_flow_style=False,
                                              sort_keys=False)
        yaml.resolver.BaseResolver.__init__(self)


_STR = "tag:yaml.org,2002:str"


def _repr_str(dumper: _GoDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar(_STR, data, style=_go_string_style(data))


def _repr_plain(text: Callable[[Any], str]) -> Callable[[_GoDumper, Any], yaml.Node]:
    return lambda dumper, data: dumper.represent_scalar(_STR, text(data), style=None)


def _repr_dict(dumper: _GoDumper, data: dict[str, Any]) -> yaml.Node:
    keys = sorted(data, key=cmp_to_key(lambda x, y: _go_key_cmp(str(x), str(y))))
    items = [(k, data[k]) for k in keys]
    return dumper.represent_mapping("tag:yaml.org,2002:map", items)


_GoDumper.add_representer(str, _repr_str)
_GoDumper.add_representer(bool, _repr_plain(lambda b: "true" if b else "false"))
_GoDumper.add_representer(int, _repr_plain(str))
_GoDumper.add_representer(float, _repr_plain(lambda f: repr(f)))
_GoDumper.add_representer(type(None), _repr_plain(lambda _: "null"))
_GoDumper.add_representer(dict, _repr_dict)


def to_yaml(obj: Any) -> str:
    """One document as kubeseal prints it: ``---`` then go-yaml's rendering of the JSON."""
    body = yaml.dump(obj, Dumper=_GoDumper)
    return "---\n" + body


def render(obj: Any, output_format: str) -> str:
    return to_yaml(obj) if output_format == "yaml" else to_json(obj)


__all__ = ["LIST", "SEALED_SECRET", "SECRET", "ordered", "render", "to_json", "to_yaml"]
