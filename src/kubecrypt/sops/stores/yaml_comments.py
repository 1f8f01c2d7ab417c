"""go-yaml v3's comment attachment, on libyaml's tokens.

go-yaml is libyaml with comments added: its scanner (scannerc.go) sorts every comment into a
head, line or foot comment and ties it to a position (the "token mark"); its parser (parserc.go)
hands the comments tied at or before a token to the next event that takes comments. libyaml
produces the same tokens and events, so this module replays go-yaml's comment rules over
libyaml's token stream and returns, for each libyaml event, the (head, line, foot) comments
go-yaml gives it. ``yaml_tree`` then builds go-yaml's nodes and walks them as sops does.

The replay follows the scanner fetch by fetch: the whitespace and comments before a token
(``scan_comments``), the block ends that token unrolls (repositioned before foot comments of
the blocks they close), the line comment after it; then the parser's state machine, which
unfolds comments into events (stem comments of collections under ``- ``, head comments split
at an empty line at the start of a document). Comment texts keep their ``#``."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from yaml import tokens as tk

from kubecrypt.sops.errors import CouldNotReadInput

Mark = tuple[int, int, int]  # index, line, column
_ZERO: Mark = (0, 0, 0)


class _Tok:
    __slots__ = ("end", "key", "kind", "src", "start")

    def __init__(self, kind: str, start: Mark, end: Mark, src: Any = None) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.src = src
        self.key = False  # starts a simple key the scanner has resolved


class _Comment:
    __slots__ = ("end", "foot", "head", "line", "scan", "start", "token")

    def __init__(self, scan: Mark, token: Mark, start: Mark, end: Mark, head: str = "",
                 line: str = "", foot: str = "") -> None:
        self.scan, self.token, self.start, self.end = scan, token, start, end
        self.head, self.line, self.foot = head, line, foot


_KINDS = {
    tk.StreamStartToken: "SS", tk.StreamEndToken: "SE", tk.DirectiveToken: "DIR",
    tk.DocumentStartToken: "DS", tk.DocumentEndToken: "DE", tk.BlockSequenceStartToken: "BSS",
    tk.BlockMappingStartToken: "BMS", tk.BlockEndToken: "BE", tk.FlowSequenceStartToken: "FSS",
    tk.FlowMappingStartToken: "FMS", tk.FlowSequenceEndToken: "FSE",
    tk.FlowMappingEndToken: "FME", tk.KeyToken: "KEY", tk.ValueToken: "VAL",
    tk.BlockEntryToken: "ENTRY", tk.FlowEntryToken: "FENTRY", tk.AliasToken: "ALIAS",
    tk.AnchorToken: "ANCHOR", tk.TagToken: "TAG", tk.ScalarToken: "SCALAR",
}

_BLANK = " \t"
_WS = " \t\r\n"


class _Scanner:
    """The comment side of go-yaml's scanner, replayed over libyaml's tokens one fetch at a
    time (the parser pulls fetches as go-yaml's parser does, two tokens ahead)."""

    def __init__(self, text: str, toks: list[Any]) -> None:
        self.t = text
        self.n = len(text)
        self.toks = toks
        self.i = 0
        self.lines = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.comments: list[_Comment] = []
        self.queue: list[_Tok] = []
        self.indent = -1
        self.indents: list[int] = []
        self.flow = 0
        self.pos = 0
        # simple keys whose KEY (and BLOCK-MAPPING-START) the ':' after them inserts:
        # [queue index of the key's first token or -1, tokens, flow level]
        self.pending: list[list[Any]] = []

    # ------------------------------------------------------------ positions
    def mark(self, i: int) -> Mark:
        ln = bisect_right(self.lines, i) - 1
        return (i, ln, i - self.lines[ln])

    def ch(self, i: int) -> str:
        return self.t[i] if i < self.n else "\0"

    def newlines(self, i: int) -> int:
        """Line breaks go-yaml's scanner has counted since the last non-blank character."""
        n = 0
        while i > 0 and self.t[i - 1] in _WS:
            i -= 1
            if self.t[i] == "\n" or (self.t[i] == "\r" and self.ch(i + 1) != "\n"):
                n += 1
        return n

    def _line_end(self, at: int) -> int:
        e = at
        while e < self.n and self.t[e] not in "\r\n":
            e += 1
        return e

    def _tok(self, t: Any) -> _Tok:
        s, e = t.start_mark, t.end_mark
        return _Tok(_KINDS.get(type(t), "?"), (s.index, s.line, s.column),
                    (e.index, e.line, e.column), t)

    # ------------------------------------------------------------ fetching
    def maybe_key(self, head: int) -> bool:
        """Whether the token at ``head`` may still turn out to start a simple key (go-yaml
        then scans on before handing it to the parser)."""
        tok = self.queue[head]
        if tok.kind not in ("SCALAR", "ALIAS", "ANCHOR", "TAG", "FSS", "FMS"):
            return False
        if tok.key:
            return False
        _, line, _ = self.mark(self.pos)
        return line == tok.start[1] and self.pos - tok.start[0] <= 1024

    def step(self) -> bool:
        """One fetch of go-yaml's scanner; False at the end of the tokens."""
        toks = self.toks
        while self.i < len(toks):
            t = toks[self.i]
            tok = self._tok(t)
            self.i += 1
            if tok.kind == "SS":
                self.queue.append(tok)
                return True
            if tok.kind == "BE":  # recomputed by _unroll
                continue
            if tok.kind in ("BMS", "KEY") and self._simple_key(tok):
                group = [tok]
                if tok.kind == "BMS":
                    group.append(self._tok(toks[self.i]))
                    self.i += 1
                self.pending.append([-1, group, self.flow])
                continue
            lead: list[_Tok] = []
            if tok.kind in ("BSS", "BMS"):  # rolled in by the '-', '?' or ':' after it
                lead.append(tok)
                tok = self._tok(toks[self.i])
                self.i += 1
            self._fetch(tok, lead)
            return True
        return False

    def _simple_key(self, tok: _Tok) -> bool:
        if tok.kind == "BMS":
            if self.i >= len(self.toks) or not isinstance(self.toks[self.i], tk.KeyToken):
                return False
            return self.ch(self.toks[self.i].start_mark.index) != "?"
        return self.ch(tok.start[0]) != "?"

    def _fetch(self, tok: _Tok, lead: list[_Tok]) -> None:
        scan_mark = self.mark(self.pos)
        self._scan_to(tok.start[0], scan_mark)
        if tok.kind == "SE":
            here = self.mark(self.pos)
            self._unroll(here[2], scan_mark)
            self._unroll(-1, here)
        elif tok.kind in ("DS", "DE"):
            self._unroll(0, scan_mark)
            self._unroll(-1, tok.start)
        else:
            self._unroll(tok.start[2], scan_mark)
        for p in self.pending:
            if p[0] < 0:
                p[0] = len(self.queue)
        c = self.ch(tok.start[0])
        comment_mark = tok.start
        if self.queue and ((self.flow == 0 and c == ":") or (self.flow > 0 and c == ",")):
            comment_mark = self.queue[-1].start
        if tok.kind == "VAL" and self.pending and self.pending[-1][2] == self.flow:
            at, group, _ = self.pending.pop()
            self.queue[at:at] = group
            self.queue[at + len(group)].key = True
            for g in group:
                if g.kind == "BMS":
                    self._push(g)
        for g in lead:
            self._push(g)
            self.queue.append(g)
        self.queue.append(tok)
        if tok.kind in ("FSS", "FMS"):
            self.flow += 1
        elif tok.kind in ("FSE", "FME"):
            self.flow = max(0, self.flow - 1)
        end = tok.end[0]
        if tok.kind == "SCALAR" and (tok.src.plain or tok.src.style in ("|", ">")):
            if tok.src.style in ("|", ">"):
                self._block_header_comment(tok)
            while end < self.n and self.t[end] in _WS:
                end += 1
        self.pos = max(self.pos, end)
        if tok.kind != "SE" and self.queue[-1].kind != "ENTRY":
            self._line_comment(comment_mark)

    def _push(self, g: _Tok) -> None:
        if self.flow == 0:
            self.indents.append(self.indent)
            self.indent = g.start[2]

    def _block_header_comment(self, tok: _Tok) -> None:
        """go-yaml reads a comment after a block scalar's header as the scalar's line
        comment."""
        end = self._line_end(tok.start[0])
        j = tok.start[0]
        while j < end and self.t[j] not in _BLANK:
            j += 1
        while j < end and self.t[j] in _BLANK:
            j += 1
        if j < end and self.t[j] == "#":
            self.comments.append(_Comment(_ZERO, tok.start, self.mark(j), _ZERO,
                                          line=self.t[j:end]))

    def _line_comment(self, token_mark: Mark) -> None:
        if self.newlines(self.pos) > 0:
            return
        j = self.pos
        while j < self.n and self.t[j] in _BLANK:
            j += 1
        if j < self.n and self.t[j] == "#":
            e = self._line_end(j)
            self.comments.append(_Comment(_ZERO, token_mark, self.mark(j), _ZERO,
                                          line=self.t[j:e]))
            self.pos = e

    def _scan_to(self, target: int, scan_mark: Mark) -> None:
        t = self.t
        while self.pos < target:
            if t[self.pos] == "\ufeff" and self.mark(self.pos)[2] == 0:
                self.pos += 1  # a BOM may start a line
            while self.pos < target and t[self.pos] in _BLANK:
                self.pos += 1
            if self.comments and len(self.queue) > 1:
                a, b = self.queue[-2], self.queue[-1]
                c = self.comments[-1]
                if (a.kind == "BSS" and b.kind == "ENTRY" and c.line
                        and self.ch(self.pos) not in "\r\n"):
                    # ``- # c`` then the item on the next line: a head comment of the item
                    c.head, c.line = c.line, ""
                    here = self.mark(self.pos)
                    if c.start[1] == here[1] - 1:
                        c.token = here
            if self.pos < target and t[self.pos] == "#":
                self._scan_comments(scan_mark)
            if self.pos < target and t[self.pos] in "\r\n":
                self.pos += 2 if t.startswith("\r\n", self.pos) else 1
                continue
            break
        self.pos = target

    def _scan_comments(self, scan_mark: Mark) -> None:
        """go-yaml's yaml_parser_scan_comments: the comment lines here are foot comments of
        what precedes (same line or the next, or dedented below the current block) or a head
        comment of what follows."""
        token = self.queue[-1]
        if token.kind == "FENTRY" and len(self.queue) > 1:
            token = self.queue[-2]
        token_mark = token.start
        start_mark = _ZERO
        next_indent = max(self.indent, 0)
        recent_empty = False
        nl = self.newlines(self.pos)
        first_empty = nl <= 1
        _, line, column = self.mark(self.pos)
        text = ""
        foot_line = -1
        if scan_mark[1] > 0:
            foot_line = line - nl + 1
            if nl == 0 and column > 1:
                foot_line += 1
        peek = 0
        while True:
            p = self.pos + peek
            column += 1
            c = self.ch(p)
            if c in _BLANK:
                peek += 1
                continue
            close_flow = self.flow > 0 and c in "]}"
            if close_flow or c in "\r\n\0":
                if close_flow or not recent_empty:
                    if close_flow or (first_empty and (
                            (start_mark[1] == foot_line and token.kind != "VAL")
                            or start_mark[2] - 1 < next_indent)):
                        if text:
                            if start_mark[2] - 1 < next_indent:
                                token_mark = start_mark
                            end = (p, line, column)
                            self.comments.append(_Comment(scan_mark, token_mark, start_mark,
                                                          end, foot=text))
                            scan_mark = token_mark = end
                            text = ""
                    elif text and c != "\0":
                        text += "\n"
                if c not in "\r\n":
                    break
                first_empty = False
                recent_empty = True
                column = 0
                line += 1
                peek += 1
                continue
            if text and (close_flow or (column - 1 < next_indent and column != start_mark[2])):
                end = (p, line, column)
                self.comments.append(_Comment(scan_mark, token_mark, start_mark, end, foot=text))
                scan_mark = token_mark = end
                text = ""
            if c != "#":
                break
            if not text:
                start_mark = (p, line, column)
            else:
                text += "\n"
            recent_empty = False
            e = self._line_end(p)
            text += self.t[p:e]
            self.pos = e
            # go-yaml resumes one character after the comment (its line break), still
            # counting the comment's line.
            peek = 1
            column = 0
            line = self.mark(self.pos)[1]
            next_indent = max(self.indent, 0)
        if text:
            p = self.pos + peek
            self.comments.append(_Comment(scan_mark, start_mark, start_mark,
                                          (p - 1, line, column), head=text))

    def _unroll(self, column: int, scan_mark: Mark) -> None:
        """Block ends, each placed before the foot comments of the block it closes."""
        if self.flow > 0:
            return
        block_mark = (scan_mark[0] - 1, scan_mark[1], scan_mark[2])
        while self.indent > column:
            stop = block_mark[0]
            for c in reversed(self.comments):
                if c.end[0] < stop:
                    break
                if c.start[2] == self.indent + 1:
                    block_mark = c.start
                stop = c.scan[0]
            self.queue.append(_Tok("BE", block_mark, block_mark))
            self.indent = self.indents.pop() if self.indents else -1


# ---------------------------------------------------------------------------------- parser

Comments = tuple[str, str, str]  # head, line, foot
_NONE: Comments = ("", "", "")


class _Parser:
    """go-yaml's parser state machine (parserc.go), reduced to what decides comments: the
    events it produces are libyaml's, in the same order, each with go-yaml's comments."""

    def __init__(self, sc: _Scanner) -> None:
        self.sc = sc
        self.head = 0
        self.chead = 0
        self.hc = ""
        self.lc = ""
        self.fc = ""
        self.stem = ""
        self.states: list[Any] = []
        self.state: Any = self.stream_start
        self.events: list[tuple[str, Comments]] = []

    # ------------------------------------------------------------ tokens
    def peek(self) -> _Tok:
        sc = self.sc
        while not (self.head < len(sc.queue) - 2 and not sc.maybe_key(self.head)):
            if not sc.step():
                break
        tok = sc.queue[self.head]
        self.unfold(tok)
        return tok

    def skip(self) -> None:
        self.head += 1

    def unfold(self, tok: _Tok) -> None:
        cs = self.sc.comments
        while self.chead < len(cs) and tok.start[0] >= cs[self.chead].token[0]:
            c = cs[self.chead]
            if c.head:
                if tok.kind == "BE":
                    break  # no heads on ends: kept for the token after
                self.hc = self.hc + "\n" + c.head if self.hc else c.head
            if c.foot:
                self.fc = self.fc + "\n" + c.foot if self.fc else c.foot
            if c.line:
                self.lc = self.lc + "\n" + c.line if self.lc else c.line
            cs[self.chead] = _Comment(_ZERO, _ZERO, _ZERO, _ZERO)
            self.chead += 1

    def take(self) -> Comments:
        out = (self.hc, self.lc, self.fc)
        self.hc = self.lc = self.fc = self.stem = ""
        return out

    def emit(self, kind: str, comments: Comments = _NONE) -> None:
        self.events.append((kind, comments))

    def pop(self) -> None:
        self.state = self.states.pop()

    def run(self) -> list[tuple[str, Comments]]:
        while self.state is not None:
            self.state()
        return self.events

    # ------------------------------------------------------------ stream and documents
    def stream_start(self) -> None:
        self.peek()
        self.skip()
        self.state = lambda: self.document_start(True)
        self.emit("SS")

    def document_start(self, implicit: bool) -> None:
        tok = self.peek()
        if not implicit:
            while tok.kind == "DE":
                self.skip()
                tok = self.peek()
        if implicit and tok.kind not in ("DIR", "DS", "SE"):
            self.states.append(self.document_end)
            self.state = lambda: self.node(True, False)
            head = ""
            hc = self.hc
            # the part above the last empty line belongs to the document
            for i in range(len(hc) - 1, 0, -1):
                if hc[i] == "\n":
                    if i == len(hc) - 1:
                        head, self.hc = hc[:i], hc[i + 1:]
                        break
                    if hc[i - 1] == "\n":
                        head, self.hc = hc[:i - 1], hc[i + 1:]
                        break
            self.emit("DS", (head, "", ""))
        elif tok.kind != "SE":
            while tok.kind == "DIR":
                self.skip()
                tok = self.peek()
            self.states.append(self.document_end)
            self.state = self.document_content
            self.emit("DS")
            self.skip()
        else:
            self.state = None
            self.emit("SE")
            self.skip()

    def document_content(self) -> None:
        tok = self.peek()
        if tok.kind in ("DIR", "DS", "DE", "SE"):
            self.pop()
            self.emit("SC")
        else:
            self.node(True, False)

    def document_end(self) -> None:
        tok = self.peek()
        if tok.kind == "DE":
            self.skip()
        self.state = lambda: self.document_start(False)
        h, ln, f = self.take()
        if h and not f:
            h, f = "", h
        self.emit("DE", (h, ln, f))

    # ------------------------------------------------------------ nodes
    def node(self, block: bool, indentless: bool) -> None:
        tok = self.peek()
        if tok.kind == "ALIAS":
            self.pop()
            self.emit("AL", self.take())
            self.skip()
            return
        props = False
        if tok.kind in ("ANCHOR", "TAG"):
            other = "TAG" if tok.kind == "ANCHOR" else "ANCHOR"
            props = True
            self.skip()
            tok = self.peek()
            if tok.kind == other:
                self.skip()
                tok = self.peek()
        if indentless and tok.kind == "ENTRY":
            self.state = self.indentless_entry
            self.emit("QS")
        elif tok.kind == "SCALAR":
            self.pop()
            self.emit("SC", self.take())
            self.skip()
        elif tok.kind == "FSS":
            self.state = lambda: self.flow_sequence_entry(True)
            self.emit("QS", self.take())
        elif tok.kind == "FMS":
            self.state = lambda: self.flow_mapping_key(True)
            self.emit("MS", self.take())
        elif block and tok.kind in ("BSS", "BMS"):
            first = self.block_sequence_entry if tok.kind == "BSS" else self.block_mapping_key
            self.state = lambda: first(True)
            stem, self.stem = self.stem, ""
            self.emit("QS" if tok.kind == "BSS" else "MS", (stem, "", ""))
        elif props:
            self.pop()
            self.emit("SC")
        else:  # pragma: no cover - libyaml has accepted the stream
            raise ValueError("unexpected token")

    def split_stem(self, stem_len: int) -> None:
        """A head comment before ``-`` belongs to the collection that starts under it."""
        if stem_len == 0:
            return
        if self.peek().kind not in ("BSS", "BMS"):
            return
        self.stem = self.hc[:stem_len]
        self.hc = "" if len(self.hc) == stem_len else self.hc[stem_len + 1:]

    def block_sequence_entry(self, first: bool = False) -> None:
        if first:
            self.peek()
            self.skip()
        tok = self.peek()
        if tok.kind == "ENTRY":
            prior = len(self.hc)
            self.skip()
            self.split_stem(prior)
            tok = self.peek()
            self.states.append(self.block_sequence_entry)
            if tok.kind not in ("ENTRY", "BE"):
                self.node(True, False)
            else:
                self.pop()
                self.emit("SC")
        else:  # BLOCK-END
            self.pop()
            self.emit("QE")
            self.skip()

    def indentless_entry(self) -> None:
        tok = self.peek()
        if tok.kind == "ENTRY":
            prior = len(self.hc)
            self.skip()
            self.split_stem(prior)
            tok = self.peek()
            self.states.append(self.indentless_entry)
            if tok.kind not in ("ENTRY", "KEY", "VAL", "BE"):
                self.node(True, False)
            else:
                self.pop()
                self.emit("SC")
        else:
            self.pop()
            self.emit("QE")

    def block_mapping_key(self, first: bool = False) -> None:
        if first:
            self.peek()
            self.skip()
        tok = self.peek()
        if tok.kind == "KEY":
            self.skip()
            tok = self.peek()
            self.states.append(self.block_mapping_value)
            if tok.kind not in ("KEY", "VAL", "BE"):
                self.node(True, True)
            else:
                self.pop()
                self.emit("SC")
        elif tok.kind == "BE":
            self.pop()
            self.emit("ME", self.take())
            self.skip()
        else:  # ``: v`` without a key (libyaml: an empty key)
            self.state = self.block_mapping_value
            self.emit("SC")

    def block_mapping_value(self) -> None:
        tok = self.peek()
        self.states.append(self.block_mapping_key)
        if tok.kind == "VAL":
            self.skip()
            tok = self.peek()
            if tok.kind not in ("KEY", "VAL", "BE"):
                self.node(True, True)
                return
        self.pop()
        self.emit("SC")

    def flow_sequence_entry(self, first: bool = False) -> None:
        if first:
            self.peek()
            self.skip()
        tok = self.peek()
        if tok.kind != "FSE":
            if not first and tok.kind == "FENTRY":
                self.skip()
                tok = self.peek()
            if tok.kind == "KEY":
                self.state = self.flow_pair_key
                self.emit("MS")
                self.skip()
                return
            if tok.kind != "FSE":
                self.states.append(self.flow_sequence_entry)
                self.node(False, False)
                return
        self.pop()
        self.emit("QE", self.take())
        self.skip()

    def flow_pair_key(self) -> None:
        tok = self.peek()
        if tok.kind not in ("VAL", "FENTRY", "FSE"):
            self.states.append(self.flow_pair_value)
            self.node(False, False)
            return
        self.skip()
        self.state = self.flow_pair_value
        self.emit("SC")

    def flow_pair_value(self) -> None:
        tok = self.peek()
        if tok.kind == "VAL":
            self.skip()
            tok = self.peek()
            if tok.kind not in ("FENTRY", "FSE"):
                self.states.append(self.flow_pair_end)
                self.node(False, False)
                return
        self.state = self.flow_pair_end
        self.emit("SC")

    def flow_pair_end(self) -> None:
        self.peek()
        self.state = self.flow_sequence_entry
        self.emit("ME")

    def flow_mapping_key(self, first: bool = False) -> None:
        if first:
            self.peek()
            self.skip()
        tok = self.peek()
        if tok.kind != "FME":
            if not first and tok.kind == "FENTRY":
                self.skip()
                tok = self.peek()
            if tok.kind == "KEY":
                self.skip()
                tok = self.peek()
                if tok.kind not in ("VAL", "FENTRY", "FME"):
                    self.states.append(self.flow_mapping_value)
                    self.node(False, False)
                else:
                    self.state = self.flow_mapping_value
                    self.emit("SC")
                return
            if tok.kind != "FME":
                self.states.append(lambda: self.flow_mapping_value(True))
                self.node(False, False)
                return
        self.pop()
        self.emit("ME", self.take())
        self.skip()

    def flow_mapping_value(self, empty: bool = False) -> None:
        tok = self.peek()
        if not empty and tok.kind == "VAL":
            self.skip()
            tok = self.peek()
            if tok.kind not in ("FENTRY", "FME"):
                self.states.append(self.flow_mapping_key)
                self.node(False, False)
                return
        self.state = self.flow_mapping_key
        self.emit("SC")


_EVENT_KIND = {
    "StreamStartEvent": "SS", "StreamEndEvent": "SE", "DocumentStartEvent": "DS",
    "DocumentEndEvent": "DE", "MappingStartEvent": "MS", "MappingEndEvent": "ME",
    "SequenceStartEvent": "QS", "SequenceEndEvent": "QE", "ScalarEvent": "SC",
    "AliasEvent": "AL",
}


def event_comments(text: str, events: list[Any]) -> list[Comments]:
    """go-yaml's (head, line, foot) comments of each of libyaml's ``events`` for ``text``.
    Should the replay not line up with libyaml's events, the file is refused: a guess at where
    sops would put the comments could move them into another key's ciphertext."""
    from yaml._yaml import CParser

    p = CParser(text)
    toks: list[Any] = []
    try:
        while p.check_token():
            toks.append(p.get_token())
    finally:
        p.dispose()
    try:
        out = _Parser(_Scanner(text, toks)).run()
    except Exception:  # a replay that loses its way is refused as one that does not line up
        out = []
    if len(out) != len(events) or any(
            _EVENT_KIND.get(type(e).__name__) != k for e, (k, _) in zip(events, out, strict=True)):
        raise CouldNotReadInput(_UNREAD)
    return [c for _, c in out]


_UNREAD = ("Error unmarshaling input YAML: kubecrypt could not work out where sops would place "
           "this file's comments; remove the comments (or use sops for this file) and "
           "report the file as a kubecrypt bug.")
