"""sops' tree from a YAML text with comments, as sops 3.11 builds it: go-yaml v3's nodes (each
with the head, line and foot comments ``yaml_comments`` assigns, moved between keys and values
as decode.go moves them), walked as sops' stores/yaml/store.go walks them. Every comment line
becomes a ``Comment`` item where sops puts it: a key's head and line comments before the key,
a scalar value's after them, a collection's own head and line comments first inside it and its
foot comment last, a key's foot comment after the value. An alias is walked again from its
anchor, comments included, as sops walks ``node.Alias``."""

from __future__ import annotations

from typing import Any

from yaml import events as ev

from kubecrypt.sops.errors import CouldNotReadInput
from kubecrypt.sops.stores.yaml_comments import Comments
from kubecrypt.sops.stores.yaml_resolve import (
    complex_key,
    resolve_plain,
    resolve_tagged,
    unique_key,
)
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment

_PREFIX = "Error unmarshaling input YAML: "


class Node:
    __slots__ = ("alias", "content", "ev", "foot", "head", "kind", "line")

    def __init__(self, kind: str, e: Any, c: Comments) -> None:
        self.kind = kind  # "doc", "map", "seq", "scalar", "alias"
        self.ev = e
        self.head, self.line, self.foot = c
        self.content: list[Node] = []
        self.alias: Node | None = None


class _Decoder:
    """decode.go's parser: nodes from events, comments moved as go-yaml moves them."""

    def __init__(self, events: list[Any], comments: list[Comments]) -> None:
        self.events = events
        self.comments = comments
        self.i = 0
        self.anchors: dict[str, Node] = {}

    def _next(self) -> tuple[Any, Comments]:
        i = self.i
        self.i += 1
        return self.events[i], self.comments[i]

    def documents(self) -> list[Node]:
        out: list[Node] = []
        self._next()  # StreamStart
        while not isinstance(self.events[self.i], ev.StreamEndEvent):
            e, c = self._next()  # DocumentStart
            doc = Node("doc", e, c)
            self.anchors = {}
            doc.content.append(self.parse())
            _, end = self._next()  # DocumentEnd
            doc.foot = end[2]
            out.append(doc)
        return out

    def parse(self) -> Node:
        e, c = self._next()
        if isinstance(e, ev.ScalarEvent):
            n = Node("scalar", e, c)
        elif isinstance(e, ev.AliasEvent):
            n = Node("alias", e, c)
            n.alias = self.anchors.get(e.anchor or "")
            if n.alias is None:
                raise CouldNotReadInput(f"{_PREFIX}unknown anchor '{e.anchor}' referenced")
            return n
        elif isinstance(e, ev.SequenceStartEvent):
            n = Node("seq", e, c)
            if e.anchor:
                self.anchors[e.anchor] = n
            while not isinstance(self.events[self.i], ev.SequenceEndEvent):
                n.content.append(self.parse())
            _, end = self._next()
            n.line, n.foot = end[1], end[2]
            return n
        else:
            n = Node("map", e, c)
            if e.anchor:
                self.anchors[e.anchor] = n
            self._mapping(n, not e.flow_style)
            return n
        if e.anchor:
            self.anchors[e.anchor] = n
        return n

    def _mapping(self, n: Node, block: bool) -> None:
        content = n.content
        while not isinstance(self.events[self.i], ev.MappingEndEvent):
            k = self.parse()
            content.append(k)
            if block and k.foot and len(content) > 2:
                # a foot comment met before this key belongs to the previous entry
                content[-3].foot, k.foot = k.foot, ""
            v = self.parse()
            content.append(v)
            if not k.foot and v.foot:
                k.foot, v.foot = v.foot, ""
        _, end = self._next()
        n.line, n.foot = end[1], end[2]
        if block and n.foot and len(content) > 1:
            content[-2].foot, n.foot = n.foot, ""


def _scalar(e: Any) -> object:
    if e.style or (e.tag and e.tag != "!"):
        return resolve_tagged(e.value, e.tag) if e.tag and e.tag != "!" else e.value
    return resolve_plain(e.value)


def _comments(text: str, into: list[Any], is_map: bool) -> None:
    if text:
        for ln in text.split("\n"):
            if ln:
                into.append((Comment(ln[1:]), None) if is_map else Comment(ln[1:]))


class _Walker:
    """sops' stores/yaml/store.go: nodeToTreeValue and appendYamlNodeToTreeBranch."""

    def __init__(self, unique: str | None) -> None:
        self.unique = unique  # as yaml.load_documents: "document", "top" or None
        self.root: Node | None = None  # the top mapping of the first document

    def value(self, n: Node, handled: bool) -> object:
        if n.kind == "seq":
            out: list[Any] = []
            if not handled:
                _comments(n.head, out, False)
                _comments(n.line, out, False)
            for item in n.content:
                _comments(item.head, out, False)
                _comments(item.line, out, False)
                out.append(self.value(item, True))
                _comments(item.foot, out, False)
            if not handled:
                _comments(n.foot, out, False)
            return out
        if n.kind == "map":
            return self.branch(n, Branch(), handled)
        if n.kind == "alias":
            assert n.alias is not None
            return self.value(n.alias, False)
        return _scalar(n.ev)

    def branch(self, n: Node, b: Branch, handled: bool) -> Branch:
        if not handled:
            _comments(n.head, b, True)
            _comments(n.line, b, True)
        if n.kind == "doc":
            for item in n.content:
                self.branch(item, b, False)
        elif n.kind == "seq":
            raise CouldNotReadInput(
                f"{_PREFIX}YAML documents that are sequences are not supported; the top "
                "level must be a mapping.")
        elif n.kind == "scalar":
            if n.ev.style or resolve_plain(n.ev.value) is not None:
                raise CouldNotReadInput(
                    f"{_PREFIX}YAML documents that are values are not supported; the top "
                    "level must be a mapping.")
            return b  # an empty document: sops returns before the node's foot comment
        elif n.kind == "map":
            self._pairs(n, b)
        elif n.kind == "alias":
            assert n.alias is not None
            self.branch(n.alias, b, False)
        if not handled:
            _comments(n.foot, b, True)
        return b

    def _pairs(self, n: Node, b: Branch) -> None:
        seen: dict[tuple[bool, str], int] = {}
        unique = self.root is not None and (self.unique == "document" or n is self.root)
        c = n.content
        for i in range(0, len(c), 2):
            key, val = c[i], c[i + 1]
            _comments(key.head, b, True)
            _comments(key.line, b, True)
            simple = val.kind in ("scalar", "alias")
            if simple:
                _comments(val.head, b, True)
                _comments(val.line, b, True)
            if unique:
                unique_key(seen, key.ev)
            target = key.alias if key.kind == "alias" else key
            if target is None or target.kind != "scalar":
                raise complex_key(unique)
            k = _scalar(target.ev)
            if isinstance(k, float) and k != k:
                k = ".nan"
            b.append((k, self.value(val, simple)))
            if simple:
                _comments(val.foot, b, True)
            _comments(key.foot, b, True)


def load(events: list[Any], comments: list[Comments], unique: str | None = None) -> list[Branch]:
    """sops' tree of each document; ``unique`` as in ``yaml.load_documents``."""
    w = _Walker(unique)
    out = []
    for i, doc in enumerate(_Decoder(events, comments).documents()):
        top = doc.content[0] if doc.content else None
        w.root = top if i == 0 and unique and top is not None and top.kind == "map" else None
        out.append(w.branch(doc, Branch(), False))
    return out
