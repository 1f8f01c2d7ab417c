"""How sops' INI store spells a value that is not a string, with Go's own formatters on sops'
tree types (``TreeBranch`` is a slice of ``TreeItem{Key, Value}`` structs, ``Comment`` a struct
of one ``Value``): ``fmt``'s ``%v`` (``stores.ValToString``'s default case: a nested value in a
section, ``b = [{c x} {d [1 1.5]}]``) and ``encoding/json`` (``EmitValue``: ``--extract`` of a
value, ``[{"Key":"c","Value":"x"}]``)."""

from __future__ import annotations

import math
import re

from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment, SopsTime, format_float_g, val_to_string

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)\Z")


def go_v(v: object) -> str:
    """``fmt.Sprintf("%v", v)``."""
    if isinstance(v, Branch):
        return "[" + " ".join("{" + go_v(k) + " " + go_v(x) + "}" for k, x in v) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_v(x) for x in v) + "]"
    if isinstance(v, Comment):
        return "{" + v.value + "}"
    if isinstance(v, SopsTime):
        return _go_time(v)
    if isinstance(v, float) and not (math.isnan(v) or math.isinf(v)):
        return format_float_g(v)  # %v is %g: 1e+06, -0
    return val_to_string(v)


def _go_time(t: str) -> str:
    """time.Time's String(): ``2020-01-01 00:00:00 +0000 UTC``; a parsed offset has no zone
    name, so Go repeats the offset."""
    m = _RFC3339.match(t)
    if not m:
        return t
    day, clock, frac, zone = m.groups()
    frac = (frac or "").rstrip("0").rstrip(".")
    off = "+0000 UTC" if zone == "Z" else (zone.replace(":", "") + " " + zone.replace(":", ""))
    return f"{day} {clock}{frac} {off}"


def go_json(v: object, nil_mappings: bool = False) -> str:
    """``json.Marshal(v)``: compact, Go's string escapes, a mapping as its list of items. An
    empty mapping is ``[]`` as sops' YAML store makes it, ``null`` with ``nil_mappings`` (the
    JSON store leaves it a nil slice); an empty list is ``null`` from both."""
    from kubecrypt.sops.stores.json import go_string, scalar

    if isinstance(v, Branch):
        if not v and nil_mappings:
            return "null"
        return "[" + ",".join('{"Key":' + go_json(k, nil_mappings) + ',"Value":'
                              + go_json(x, nil_mappings) + "}" for k, x in v) + "]"
    if isinstance(v, list):
        return "[" + ",".join(go_json(x, nil_mappings) for x in v) + "]" if v else "null"
    if isinstance(v, Comment):
        return '{"Value":' + go_string(v.value) + "}"
    return scalar(v)
