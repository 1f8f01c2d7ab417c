"""YAML store (sops stores/yaml/store.go on go-yaml v3).

Reading uses libyaml's event stream (fast, with positions). A text with comments is read as
sops reads it: ``yaml_comments`` gives each event go-yaml's head, line and foot comments and
``yaml_tree`` builds go-yaml's nodes and walks them into sops' tree. A text without comments
(no "#" anywhere, as in most encrypted files) is built straight from the events by
``_Builder``. Anchors and aliases are expanded; a ``<<`` merge key stays an ordinary key holding
the expanded mapping."""

from __future__ import annotations

import copy
from typing import Any

from yaml import MarkedYAMLError, YAMLError
from yaml import events as ev

from kubecrypt import safeparse
from kubecrypt.sops.deep import SOPS_MAX_DEPTH
from kubecrypt.sops.errors import CouldNotReadInput, MetadataNotFound
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.stores.yaml_emit import emit_documents, emit_value
from kubecrypt.sops.stores.yaml_resolve import (
    complex_key,
    resolve_plain,
    resolve_tagged,
    unique_key,
)
from kubecrypt.sops.tree import Branch

try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]


class _Limits(safeparse.Limits):
    def too_deep(self, line: int | None) -> str:
        # go-yaml v3's scanner: block indentation and flow nesting over 10,000 levels
        where = f" (line {line})" if line else ""
        return f"Error unmarshaling input YAML: exceeded max depth of {self.max_depth}{where}"


def _events(text: str) -> list[Any]:
    p = _Parser(text)
    out: list[Any] = []
    # The same depth and alias limits as every other reader (go-yaml v3's "excessive aliasing").
    limits = _Limits("Error unmarshaling input YAML: the input", CouldNotReadInput,
                     SOPS_MAX_DEPTH)
    try:
        while p.check_event():
            e = p.get_event()
            if isinstance(e, ev.DocumentStartEvent):
                limits = _Limits(limits.source, CouldNotReadInput, SOPS_MAX_DEPTH)
                if e.version is not None and tuple(e.version) != (1, 1):
                    # go-yaml v3 (parserc.go) takes only `%YAML 1.1`; libyaml warns for 1.2
                    raise CouldNotReadInput(
                        "Error unmarshaling input YAML: found incompatible YAML document "
                        f"(%YAML {e.version[0]}.{e.version[1]}); remove the %YAML line.")
            limits.feed(e)
            out.append(e)
    except MarkedYAMLError as exc:
        raise CouldNotReadInput(f"Error unmarshaling input YAML: {_one_line(exc)}") from None
    except YAMLError as exc:  # a ReaderError: a control character
        raise safeparse.yaml_error(exc, limits.source, text, CouldNotReadInput) from None
    finally:
        if hasattr(p, "dispose"):
            p.dispose()
    return out


def _one_line(exc: MarkedYAMLError) -> str:
    where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
    return f"{exc.problem or exc.context or 'invalid YAML'}{where}"


class _Builder:
    """sops' tree straight from libyaml's events, for a text without comments (no "#"
    anywhere, as in most encrypted files): the fast path, with nothing to place."""

    def __init__(self, events: list[Any], unique: str | None = None) -> None:
        # Which mappings refuse a repeated key (see load_documents): "document" every one of
        # the first document, "top" only its top level, None none.
        self.unique = unique
        self.check: str | None = None
        self.events = events
        self.i = 0
        self.anchors: dict[str, Any] = {}

    def next(self) -> Any:
        e = self.events[self.i]
        self.i += 1
        return e

    def node(self, e: Any) -> Any:
        if isinstance(e, ev.ScalarEvent):
            if e.style or (e.tag and e.tag != "!"):
                v = (resolve_tagged(e.value, e.tag) if e.tag and e.tag != "!"
                     else e.value)
            else:
                v = resolve_plain(e.value)
        elif isinstance(e, ev.MappingStartEvent):
            v = self.mapping(self.check == "document")
        elif isinstance(e, ev.SequenceStartEvent):
            v = self.sequence()
        elif isinstance(e, ev.AliasEvent):
            if e.anchor not in self.anchors:
                raise CouldNotReadInput(
                    f"Error unmarshaling input YAML: unknown anchor '{e.anchor}' referenced")
            return copy.deepcopy(self.anchors[e.anchor])
        else:  # pragma: no cover - the parser guarantees node events here
            raise CouldNotReadInput(f"Error unmarshaling input YAML: unexpected {e}")
        if getattr(e, "anchor", None):
            self.anchors[e.anchor] = v
        return v

    def mapping(self, unique: bool = False) -> Branch:
        b = Branch()
        seen: dict[tuple[bool, str], int] = {}
        while True:
            e = self.next()
            if isinstance(e, ev.MappingEndEvent):
                return b
            if unique:
                unique_key(seen, e)
            k = self.node(e)
            if isinstance(k, (Branch, list)):
                raise complex_key(unique)
            if isinstance(k, float) and k != k:
                k = ".nan"
            b.append((k, self.node(self.next())))

    def sequence(self) -> list[Any]:
        lst: list[Any] = []
        while True:
            e = self.next()
            if isinstance(e, ev.SequenceEndEvent):
                return lst
            lst.append(self.node(e))

    def documents(self) -> list[Branch]:
        docs: list[Branch] = []
        self.next()  # StreamStart
        while True:
            e = self.next()
            if isinstance(e, ev.StreamEndEvent):
                break
            # DocumentStart
            self.anchors = {}
            self.check = None if docs else self.unique
            root_ev = self.next()
            if isinstance(root_ev, ev.MappingStartEvent):
                b = self.mapping(self.check is not None)
            elif isinstance(root_ev, ev.ScalarEvent) and resolve_plain(root_ev.value) is None \
                    and not root_ev.style:
                b = Branch()
            elif isinstance(root_ev, ev.SequenceStartEvent):
                raise CouldNotReadInput(
                    "Error unmarshaling input YAML: YAML documents that are sequences are not "
                    "supported; the top level must be a mapping.")
            else:
                raise CouldNotReadInput(
                    "Error unmarshaling input YAML: YAML documents that are values are not "
                    "supported; the top level must be a mapping.")
            self.next()  # DocumentEnd
            docs.append(b)
        return docs


def load_documents(text: str, unique: str | None = None) -> list[Branch]:
    """The documents of ``text``. A key repeated in one mapping is refused where sops 3.11
    refuses it (``unique``): in a plain file anywhere in the first document ("document": sops
    first decodes that document into a Go map, which checks every mapping), in an encrypted
    file only at the first document's top level ("top": sops decodes that one into its
    metadata struct). Elsewhere go-yaml's nodes keep both entries, and so does the tree."""
    events = _events(text)
    if "#" in text:
        # Only a text with comments needs go-yaml's comment model (imported on demand).
        from kubecrypt.sops.stores import yaml_tree
        from kubecrypt.sops.stores.yaml_comments import event_comments

        return yaml_tree.load(events, event_comments(text, events), unique)
    return _Builder(events, unique).documents()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CouldNotReadInput(
            "Error unmarshaling input YAML: the file is not valid UTF-8.") from None


class YAMLStore(Store):
    name = "yaml"

    def load_plain(self, data: bytes) -> list[Branch]:
        text = _decode(data)
        docs = load_documents(text, "document")
        if not docs and text:
            # sops first decodes the file into a map, which fails on a stream without any
            # document (blank lines or comments only) before it looks at anything else.
            raise CouldNotReadInput(
                "Error unmarshalling file: EOF; the YAML file holds only comments or blank "
                "lines, add at least one key.")
        return docs

    def load_encrypted(self, data: bytes) -> tuple[list[Branch], object]:
        docs = load_documents(_decode(data), "top")
        meta: object = None
        out: list[Branch] = []
        for d in docs:
            keep = Branch()
            for k, v in d:
                if k == "sops":
                    if meta is None:
                        meta = v
                else:
                    keep.append((k, v))
            out.append(keep)
        if meta is None:
            raise MetadataNotFound()
        return out, meta

    def emit_plain(self, branches: list[Branch]) -> bytes:
        return emit_documents(branches, self.indent or 4).encode("utf-8", "surrogateescape")

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        docs = [Branch([*b, ("sops", metadata)]) for b in branches] or [
            Branch([("sops", metadata)])]
        return emit_documents(docs, self.indent or 4, encrypted=True).encode(
            "utf-8", "surrogateescape")

    def emit_value(self, value: object, *, json_tree: bool = False) -> bytes:
        return emit_value(value, self.indent or 4).encode("utf-8", "surrogateescape")


STORE_CLASS = YAMLStore
