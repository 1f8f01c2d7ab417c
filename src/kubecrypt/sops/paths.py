"""Tree paths in sops' syntax, ``["data"]["password"][0]``: parsing, ``--extract``, ``set`` and
``unset`` (sops cmd/sops/set.go, unset.go; tree.go ``Set``/``Unset``)."""

from __future__ import annotations

import re

from kubecrypt import safeparse
from kubecrypt.sops.deep import SOPS_MAX_DEPTH
from kubecrypt.sops.errors import InvalidSetFormat, InvalidTreePathFormat, SopsError
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import is_string

_COMPONENT = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(-?\d+))\s*\]""")

PathPart = str | int


def parse_path(text: str) -> list[PathPart]:
    out: list[PathPart] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _COMPONENT.match(text, pos)
        if not m:
            raise InvalidTreePathFormat(
                f"Invalid tree path format {text!r}: use keys like [\"data\"][\"password\"] "
                "and list positions like [0].")
        if m.group(3) is not None:
            out.append(int(m.group(3)))
        else:
            out.append(m.group(1) if m.group(1) is not None else m.group(2))
        pos = m.end()
    return out


def _describe(path: list[PathPart]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f'["{p}"]' for p in path)


def extract(branches: list[Branch], path: list[PathPart]) -> object:
    cur: object = branches[0] if branches else Branch()
    for p in path:
        if isinstance(cur, Branch) and isinstance(p, str):
            found = [v for k, v in cur if k == p]
            if not found:
                raise SopsError(f"Error walking tree: component [{p!r}] not found")
            cur = found[0]
        elif isinstance(cur, list) and isinstance(p, int):
            items = [x for x in cur if not _is_comment(x)]
            if not 0 <= p < len(items):  # sops panics on a negative index; refuse it
                raise SopsError(f"Error walking tree: index {p} out of range")
            cur = items[p]
        else:
            raise SopsError(f"Error walking tree: component {p!r} does not fit the tree")
    return cur


def _is_comment(x: object) -> bool:
    from kubecrypt.sops.values import Comment

    return isinstance(x, Comment)


def json_value(text: str) -> object:
    """A ``set`` value: JSON, objects become branches; numbers become floats as in sops 3.11."""
    from kubecrypt.sops.stores.json import go_float, loads_like_go

    try:
        # sops 3.11 decodes every JSON number of a set value as float64 ("-0" keeps its sign).
        v = safeparse.bounded(lambda: loads_like_go(text, Branch, go_float),
                              "Value for set", InvalidSetFormat, SOPS_MAX_DEPTH)
    except ValueError as exc:
        raise InvalidSetFormat(f"Value for set is not valid JSON: {exc}") from None
    if isinstance(v, list) and not isinstance(v, Branch):  # sops: only objects and scalars
        raise InvalidSetFormat("Invalid --set value format: a JSON array cannot be set (as in "
                               "sops); set its elements one by one, or set an object.")

    return v


def set_value(branches: list[Branch], path: list[PathPart], value: object) -> bool:
    """Sets (creating mappings on the way); returns whether the tree changed."""
    if not path:
        raise InvalidTreePathFormat("The path for set must name at least one key.")
    if not branches:
        branches.append(Branch())
    cur: object = branches[0]
    for n, p in enumerate(path):
        last = n == len(path) - 1
        if isinstance(cur, Branch) and isinstance(p, str):
            for i, (k, v) in enumerate(cur):
                if k == p:
                    if last:
                        if v == value and type(v) is type(value):
                            return False
                        cur[i] = (k, value)
                        return True
                    if not isinstance(v, (Branch, list)):  # sops replaces a scalar on the way
                        v = Branch() if isinstance(path[n + 1], str) else []
                        cur[i] = (k, v)
                    cur = v
                    break
            else:
                new: object = value if last else (
                    Branch() if isinstance(path[n + 1], str) else [])
                cur.append((p, new))
                if last:
                    return True
                cur = new
        elif isinstance(cur, list) and isinstance(p, int):
            idx = [i for i, x in enumerate(cur) if not _is_comment(x)]
            if p >= len(idx):  # sops appends for any index past the end (sops.go set)
                new = value if last else (Branch() if isinstance(path[n + 1], str) else [])
                cur.append(new)
                if last:
                    return True
                cur = new
                continue
            if not 0 <= p < len(idx):
                raise InvalidTreePathFormat(f"Index {p} is out of range at {_describe(path[:n])}.")
            if last:
                if cur[idx[p]] == value:
                    return False
                cur[idx[p]] = value
                return True
            if not isinstance(cur[idx[p]], (Branch, list)):  # as above
                cur[idx[p]] = Branch() if isinstance(path[n + 1], str) else []
            cur = cur[idx[p]]
        else:
            raise InvalidTreePathFormat(
                f"Path {_describe(path)} does not fit the tree at {_describe(path[:n + 1])}.")
    return True


def unset_value(branches: list[Branch], path: list[PathPart]) -> bool:
    """Removes a key or list element; returns False when it was not there."""
    if not path or not branches:
        return False
    try:
        parent = extract(branches, path[:-1]) if len(path) > 1 else branches[0]
    except SopsError:
        return False
    p = path[-1]
    if isinstance(parent, Branch) and isinstance(p, str):
        for i, (k, _) in enumerate(parent):
            if k == p:
                del parent[i]
                return True
        return False
    if isinstance(parent, list) and isinstance(p, int):
        idx = [i for i, x in enumerate(parent) if not _is_comment(x)]
        if 0 <= p < len(idx):
            del parent[idx[p]]
            return True
    return False


def extract_bytes(branches: list[Branch], path_text: str, out_store: Store,
                  in_fmt: str = "yaml") -> bytes:
    """``--extract`` as sops' decrypt.go does it: a mapping is written as a whole file of the
    output format (so an INI key=value mapping fails, exit 4, as in sops), a string raw, any
    other value by the output store's value writer (YAML: ``1\n``). ``in_fmt`` is the format
    the encrypted file was read as (its empty mappings are typed by that store in sops)."""
    v = extract(branches, parse_path(path_text))
    if isinstance(v, Branch):
        return out_store.emit_plain([v])
    if is_string(v) or isinstance(v, bytes):
        return scalar_bytes(v)
    # a timestamp is a time.Time in sops, not a string
    return out_store.emit_value(v, json_tree=in_fmt == "json")


def scalar_bytes(v: object) -> bytes:
    """A scalar as sops prints it raw (``--extract``, ``exec-env``)."""
    if isinstance(v, bytes):
        return v
    if v is None:
        return b"null"
    if isinstance(v, bool):
        return b"true" if v else b"false"
    if isinstance(v, float):
        from kubecrypt.sops.values import format_float_g

        return format_float_g(v).encode()
    return str(v).encode("utf-8", "surrogateescape")
