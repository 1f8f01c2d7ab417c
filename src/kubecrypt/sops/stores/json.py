"""JSON store (sops stores/json/store.go): order kept, tab indentation by default, strings
escaped like Go's encoder (``<``, ``>``, ``&`` as ``\\u003c``...). Integers stay exact (as sops
3.13 does; 3.11 wrote them as floats, and both decrypt alike since the MAC and the value use the
same decimal text)."""

from __future__ import annotations

import json as _json
import math
import re
import sys
from typing import TYPE_CHECKING

from kubecrypt import safeparse
from kubecrypt.sops.deep import RECURSION_LIMIT, SOPS_MAX_DEPTH
from kubecrypt.sops.errors import CouldNotReadInput, ErrorDumpingTree, MetadataNotFound
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment, SopsTime, format_float_json

if TYPE_CHECKING:
    from collections.abc import Callable

_RAW_BYTE = re.compile("[\udc80-\udcff]")


def go_string(s: str) -> str:
    out = _json.dumps(s, ensure_ascii=False)
    if not out.isascii() and _RAW_BYTE.search(out):
        # A byte that is not UTF-8 (kept by surrogateescape): Go's encoder writes the escape
        # ``\ufffd`` for each one (a real U+FFFD stays as it is).
        out = _RAW_BYTE.sub(r"\\ufffd", out)
    if "<" in out or ">" in out or "&" in out:
        out = out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if "\u2028" in out or "\u2029" in out:
        out = out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return out


def _pairs(pairs: list[tuple[str, object]]) -> Branch:
    return Branch(pairs)


def _int(s: str) -> int | float:
    v = int(s)
    if v == 0 and s.startswith("-"):
        return -0.0  # Go's float64 keeps the sign of "-0"
    # Integers that fit int64 stay exact (sops 3.13); larger ones are float64 as in Go, and
    # one beyond float64 is Go's "cannot unmarshal number" (float() would raise OverflowError).
    return v if -(2**63) <= v < 2**63 else go_float(s)


def go_float(s: str) -> float:
    """A JSON number as Go's decoder reads it into a float64: one beyond its range is an
    error, where Python's float() gives infinity."""
    v = float(s)
    if math.isinf(v):
        raise ValueError(f"cannot unmarshal number {s} into a float64")
    return v


def _constant(s: str) -> float:
    # Python reads NaN, Infinity and -Infinity; they are not JSON, and Go's decoder refuses them.
    raise ValueError(f"invalid character {s[0]!r} looking for beginning of value")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogates(v: object) -> object:
    """Go's decoder turns a lone surrogate escape (``"\\ud800"``) into U+FFFD; Python keeps it
    as a code point that cannot be written as UTF-8 (and that surrogateescape would read as a
    raw byte)."""
    if isinstance(v, str):
        return _SURROGATE.sub("\ufffd", v)
    if isinstance(v, Branch):
        return Branch((_no_surrogates(k), _no_surrogates(x)) for k, x in v)
    if isinstance(v, list):
        return [_no_surrogates(x) for x in v]
    return v


def loads_like_go(text: str, object_pairs_hook: Callable[[list[tuple[str, object]]], object],
                  parse_int: Callable[[str], object]) -> object:
    """``json.loads`` refusing what Go's decoder refuses (NaN, Infinity, a number beyond
    float64) and turning lone surrogate escapes into U+FFFD as Go does."""
    doc = _json.loads(text, object_pairs_hook=object_pairs_hook, parse_int=parse_int,
                      parse_float=go_float, parse_constant=_constant)
    return _no_surrogates(doc) if _SURROGATE_ESCAPE.search(text) else doc


class _TooDeep(CouldNotReadInput):
    pass


def parse(text: str, plain: bool = False) -> object:
    try:
        return safeparse.bounded(lambda: loads_like_go(text, _pairs, _int),
                                 "Error unmarshalling input json: the input", _TooDeep,
                                 SOPS_MAX_DEPTH)
    except ValueError as exc:
        raise CouldNotReadInput(f"Error unmarshalling input json: {exc}") from None
    except _TooDeep:
        if sys.getrecursionlimit() < RECURSION_LIMIT:
            # Run without the deep runner's stack (no room for it): the interpreter's own limit
            # stopped the parser, not sops' 10,000 levels; the runner says so in one sentence.
            raise RecursionError from None
        # Go's encoding/json stops at 10,000 levels: sops reads a deeper plain file token by
        # token, then fails writing it (exit 4); an encrypted one fails as it is read.
        deeper = f"exceeded max depth of {SOPS_MAX_DEPTH}; flatten the document"
        if plain:
            raise ErrorDumpingTree(
                f"Could not marshal tree: Error marshaling to json: {deeper}") from None
        raise CouldNotReadInput(f"Error unmarshalling input json: {deeper}") from None


class _Writer:
    def __init__(self, indent: str) -> None:
        self.ind = indent
        self.out: list[str] = []

    def value(self, v: object, depth: int) -> None:
        out = self.out
        if isinstance(v, Branch):
            items = [(k, x) for k, x in v if not isinstance(k, Comment)]
            if not items:
                out.append("{}")
                return
            pad = "\n" + self.ind * (depth + 1)
            out.append("{")
            for n, (k, x) in enumerate(items):
                out.append(pad + go_string(str(k)) + ": ")
                self.value(x, depth + 1)
                if n + 1 < len(items):
                    out.append(",")
            out.append("\n" + self.ind * depth + "}")
        elif isinstance(v, list):
            vals = [x for x in v if not isinstance(x, Comment)]
            if not vals:
                out.append("[]")
                return
            pad = "\n" + self.ind * (depth + 1)
            out.append("[")
            for n, x in enumerate(vals):
                out.append(pad)
                self.value(x, depth + 1)
                if n + 1 < len(vals):
                    out.append(",")
            out.append("\n" + self.ind * depth + "]")
        else:
            out.append(scalar(v))


def scalar(v: object) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, SopsTime):
        return '"' + str(v) + '"'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ErrorDumpingTree(f"Error dumping file: json: unsupported value: {v}")
        return format_float_json(v)
    if isinstance(v, bytes):
        import base64

        return '"' + base64.b64encode(v).decode() + '"'
    return go_string(str(v))


def dumps(v: object, indent: str = "\t") -> str:
    w = _Writer(indent)
    w.value(v, 0)
    return "".join(w.out)


class JSONStore(Store):
    name = "json"

    @property
    def _ind(self) -> str:
        return " " * self.indent if self.indent else "\t"

    def _load(self, data: bytes, plain: bool = False) -> Branch:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CouldNotReadInput("Error unmarshalling input json: not valid UTF-8") from None
        doc = parse(text, plain)
        if not isinstance(doc, Branch):
            raise CouldNotReadInput(
                "Error unmarshalling input json: the top level must be an object.")
        return doc

    def load_plain(self, data: bytes) -> list[Branch]:
        return [self._load(data, plain=True)]

    def load_encrypted(self, data: bytes) -> tuple[list[Branch], object]:
        doc = self._load(data)
        meta = doc.get("sops")
        if meta is None:
            raise MetadataNotFound()
        return [Branch((k, v) for k, v in doc if k != "sops")], meta

    def emit_plain(self, branches: list[Branch]) -> bytes:
        if len(branches) != 1:
            raise ErrorDumpingTree(
                "Error dumping file: a JSON file holds one document; use YAML for several.")
        return (dumps(branches[0], self._ind) + "\n").encode()

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        doc = Branch([*(branches[0] if branches else []), ("sops", metadata)])
        return self.emit_plain([doc])

    def emit_value(self, value: object, *, json_tree: bool = False) -> bytes:
        # ``--extract`` of a non-string value: sops writes it without a trailing newline
        return dumps(value, self._ind).encode()


STORE_CLASS = JSONStore
