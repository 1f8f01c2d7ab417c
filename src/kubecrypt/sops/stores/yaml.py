"""YAML store (sops stores/yaml/store.go on go-yaml v3).

Reading uses libyaml's event stream (fast, with positions). A text with comments is read as
sops reads it: ``yaml_comments`` gives each event go-yaml's head, line and foot comments and
``yaml_tree`` builds go-yaml's nodes and walks them into sops' tree. A text without comments
(no "#" anywhere, as in most encrypted files) is built straight from the events by
``_Builder``, which also keeps a simpler, position-based comment placement as a fallback should
the comment replay ever not line up with libyaml's events. Anchors and aliases are expanded; a
``<<`` merge key stays an ordinary key holding the expanded mapping."""

from __future__ import annotations

import copy
from typing import Any

from yaml import MarkedYAMLError, YAMLError
from yaml import events as ev

from kubecrypt import safeparse
from kubecrypt.sops.errors import CouldNotReadInput, MetadataNotFound
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.stores.yaml_emit import emit_documents, emit_value
from kubecrypt.sops.stores.yaml_resolve import resolve_plain, resolve_tagged, unique_key
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment

try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]


def _events(text: str) -> list[Any]:
    p = _Parser(text)
    out: list[Any] = []
    # The same depth and alias limits as every other reader (go-yaml v3's "excessive aliasing").
    limits = safeparse.Limits("Error unmarshaling input YAML: the input", CouldNotReadInput)
    try:
        while p.check_event():
            e = p.get_event()
            if isinstance(e, ev.DocumentStartEvent):
                limits = safeparse.Limits(limits.source, CouldNotReadInput)
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
    def __init__(self, text: str, events: list[Any], unique: str | None = None) -> None:
        self.text = text
        # Which mappings refuse a repeated key (see load_documents): "document" every one of
        # the first document, "top" only its top level, None none.
        self.unique = unique
        self.check: str | None = None
        self.events = events
        self.i = 0
        self.pos = 0
        self.scan_comments = "#" in text
        self.pending: list[tuple[str, int]] = []  # full-line comments: (text, column)
        self.owner: tuple[list[Any], int, bool] | None = None  # where a line comment goes
        self.anchors: dict[str, Any] = {}
        self.deferred: list[tuple[int, str]] = []  # block scalar headers holding a comment

    # ------------------------------------------------------------ comments
    def _gap(self, e: Any) -> None:
        start = e.start_mark.index
        if self.scan_comments and start > self.pos:
            gap = self.text[self.pos:start]
            if "#" in gap:
                self._comments(self.pos, gap)
        end = e.end_mark.index
        if self.scan_comments and end > start:
            # Comments inside an event's own span: after an anchor or tag of a collection
            # (``b: &x # c``) go-yaml makes them the collection's head comment; after a block
            # scalar header (``a: |- # c``) a line comment of the scalar.
            if isinstance(e, (ev.MappingStartEvent, ev.SequenceStartEvent)):
                span = self.text[start:end]
                if "#" in span:
                    self._comments(start, span, head=True)
            elif isinstance(e, ev.ScalarEvent) and e.style in ("|", ">"):
                nl = self.text.find("\n", start, end)
                header = self.text[start:nl if nl >= 0 else end]
                if "#" in header:
                    # The owner (where a line comment goes) is only known once the caller
                    # has placed this scalar: see _take_deferred.
                    self.deferred.append((start, header))
        if end > self.pos:
            self.pos = end

    def _comments(self, base: int, gap: str, head: bool = False) -> None:
        text = self.text
        off = 0
        while True:
            j = gap.find("#", off)
            if j < 0:
                return
            nl = gap.find("\n", j)
            body = gap[j + 1:] if nl < 0 else gap[j + 1:nl]
            body = body.rstrip("\r")
            absj = base + j
            line_start = text.rfind("\n", 0, absj) + 1
            col = absj - line_start
            # Only "- " indicators before it (``- # c``): a head comment of what follows.
            if not head and text[line_start:absj].strip(" \t-") and self.owner is not None:
                container, at, is_map = self.owner
                container.insert(at, (Comment(body), None) if is_map else Comment(body))
                self.owner = (container, at + 1, is_map)
            else:
                self.pending.append((body, col))
            if nl < 0:
                return
            off = nl + 1

    def _take_deferred(self) -> None:
        for base, header in self.deferred:
            self._comments(base, header)
        self.deferred = []

    def _flush(self, container: list[Any], is_map: bool, min_col: int = -1) -> None:
        if not self.pending:
            return
        keep: list[tuple[str, int]] = []
        for body, col in self.pending:
            if col >= min_col:
                container.append((Comment(body), None) if is_map else Comment(body))
            else:
                keep.append((body, col))
        self.pending = keep

    # ------------------------------------------------------------ nodes
    def next(self) -> Any:
        e = self.events[self.i]
        self.i += 1
        self._gap(e)
        return e

    def peek(self) -> Any:
        return self.events[self.i]

    def node(self, e: Any, key: bool = False) -> Any:
        if isinstance(e, ev.ScalarEvent):
            if e.style or (e.tag and e.tag != "!"):
                v = (resolve_tagged(e.value, e.tag, not e.style) if e.tag and e.tag != "!"
                     else e.value)
            else:
                v = resolve_plain(e.value)
        elif isinstance(e, ev.MappingStartEvent):
            v = self.mapping(e, self.check == "document")
        elif isinstance(e, ev.SequenceStartEvent):
            v = self.sequence(e)
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

    def mapping(self, start: Any, unique: bool = False) -> Branch:
        b = Branch()
        flow = bool(start.flow_style)
        col = -1
        seen: dict[tuple[bool, str], int] = {}
        while True:
            e = self.next()
            if isinstance(e, ev.MappingEndEvent):
                if flow and not b:
                    self.pending = []  # go-yaml drops comments inside an empty ``{}``
                self._flush(b, True, col)
                if flow:
                    self.owner = (b, 0, True)
                return b
            if col < 0:
                col = e.start_mark.column
            self._flush(b, True)
            if unique:
                unique_key(seen, e)
            k = self.node(e, key=True)
            if isinstance(k, (Branch, list)):
                raise CouldNotReadInput(
                    "Error unmarshaling input YAML: complex mapping keys are not supported")
            if isinstance(k, float) and k != k:
                k = ".nan"
            self.owner = (b, len(b), True)
            # Line comments met while reading the value are inserted before this entry.
            value_ev = self.next()
            self._take_deferred()
            b.append((k, self.node(value_ev)))

    def sequence(self, start: Any) -> list[Any]:
        lst: list[Any] = []
        flow = bool(start.flow_style)
        col = start.start_mark.column
        if not flow and (start.anchor or start.tag):
            col = self._block_column(start.start_mark.index, col)
        while True:
            e = self.next()
            if isinstance(e, ev.SequenceEndEvent):
                if flow and not lst:
                    self.pending = []  # go-yaml drops comments inside an empty ``[]``
                self._flush(lst, False, -1 if flow else col)
                if flow:
                    self.owner = (lst, 0, False)
                return lst
            self._flush(lst, False)
            self.owner = (lst, len(lst), False)
            self._take_deferred()
            lst.append(self.node(e))

    def _block_column(self, after: int, default: int) -> int:
        """The column of a block sequence's first ``-``. Its start event begins at an anchor or
        tag (``a: &x``), so that column says nothing about which comments lie inside the block;
        go-yaml places them by the indicator's column."""
        for line in self.text[after:].split("\n")[1:]:
            stripped = line.lstrip(" ")
            if stripped and not stripped.startswith("#"):
                return len(line) - len(stripped) if stripped.startswith("-") else default
        return default

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
                b = self.mapping(root_ev, self.check is not None)
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
            self._flush(b, True)
            self.owner = None
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

        comments = event_comments(text, events)
        if comments is not None:
            return yaml_tree.load(events, comments, unique)
    return _Builder(text, events, unique).documents()


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

    def emit_value(self, value: object) -> bytes:
        return emit_value(value, self.indent or 4).encode("utf-8", "surrogateescape")


STORE_CLASS = YAMLStore
