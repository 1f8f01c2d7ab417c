"""A YAML writer that produces what go-yaml v3 writes for sops' trees (``SetIndent(4)``):
block style, compact sequences inside mappings indented by the indent, mappings inside
sequence items two columns after the dash, literal blocks for multi-line strings, the same
quoting choices (libyaml's scalar analysis) and comments as head/foot comment lines."""

from __future__ import annotations

import base64
import math
import re

from kubecrypt.sops.cipher import is_encrypted
from kubecrypt.sops.stores.yaml_resolve import MERGE, needs_quotes
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment, HeldComment, SopsTime, format_float_g

_ESCAPES = {
    "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
    "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L",
    "\u2029": "\\P",
}


def _printable(ch: str) -> bool:
    # go-yaml's is_printable: no C1 controls (not even NEL) and nothing beyond the BMP.
    o = ord(ch)
    return (o == 0x0A or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF
            or (0xE000 <= o <= 0xFFFD and o != 0xFEFF))


def _double(s: str) -> str:
    out = ['"']
    for ch in s:
        e = _ESCAPES.get(ch)
        if e is not None:
            out.append(e)
        elif _printable(ch):
            out.append(ch)
        else:
            o = ord(ch)
            if 0xDC80 <= o <= 0xDCFF:  # a raw byte kept by surrogateescape
                out.append(f"\\x{o - 0xDC00:02X}")
            elif o <= 0xFF:
                out.append(f"\\x{o:02X}")
            elif o <= 0xFFFF:
                out.append(f"\\u{o:04X}")
            else:
                out.append(f"\\U{o:08X}")
    out.append('"')
    return "".join(out)


# libyaml's scalar analysis (yaml_emitter_analyze_scalar) for block context, as regexes.
_BAD_PLAIN = re.compile(
    r"\A(?:[#,\[\]{}&*!|>'\"%@`]|[?:-](?:[ \t\r\n]|\Z)|---|\.\.\.)"
    r"|:(?:[ \t\r\n]|\Z)|[ \t]#|\A[ \n]|[ \n]\Z|\n")
_NONPRINT_ASCII = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_nonprint: re.Pattern[str] | None = None


def _has_nonprintable(s: str) -> bool:
    global _nonprint
    if s.isascii():
        return _NONPRINT_ASCII.search(s) is not None
    if _nonprint is None:  # compiled on demand: the big class costs start-up time
        _nonprint = re.compile(
            "[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
    return _nonprint.search(s) is not None


_BREAKS = re.compile("[\x85\u2028\u2029]")
_LS_PS = re.compile("[\u2028\u2029]")
_LINE_BREAKS = "\n\u2028\u2029"
_SPACE_LS = re.compile(" [\u2028\u2029]|[\u2028\u2029] ")


def _single(s: str, indent: int) -> str:
    """go-yaml's single-quoted scalar holding LS/PS (yaml_emitter_write_single_quoted): each
    run of breaks is written as is, and the text after it starts at the scalar's indentation."""
    out, brk = ["'"], False
    for ch in s:
        if ch in "\u2028\u2029":
            brk = True
        elif brk:
            out.append(" " * indent)
            brk = False
        out.append("''" if ch == "'" else ch)
    return "".join(out) + "'"
_RAW_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8 (surrogateescape)


def _raw_bytes(v: object) -> bytes | None:
    """The bytes of a value go-yaml writes as ``!!binary``: bytes, or a string that is not
    valid UTF-8 (kept by surrogateescape); None for anything else."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, str) and not v.isascii() and _RAW_BYTE.search(v):
        return v.encode("utf-8", "surrogateescape")
    return None


def _go_base64(data: bytes) -> str:
    """go-yaml's encodeBase64 (Node.SetString): lines of 70 characters, each ending in a line
    break once there is more than one line."""
    text = base64.b64encode(data).decode()
    if len(text) < 70:
        return text
    return "".join(text[i:i + 70] + "\n" for i in range(0, len(text), 70))


def _comment(lead: str, pad: str, value: object) -> str:
    """One comment as go-yaml's emitter writes it: ``#`` and the text; a line after a line
    break (a comment read from INI or dotenv can hold several) at the indentation, with ``# ``
    put before it unless it starts with ``#``; an empty line stays empty."""
    first, *rest = str(value).split("\n")
    out = lead + "#" + first
    for line in rest:
        out += "\n" + (pad + (line if line.startswith("#") else "# " + line) if line else "")
    return out if out.endswith("\n") and rest else out + "\n"


def _split_head_comments(v: Branch | list[object]) -> tuple[Branch | list[object], list[Comment]]:
    """Leading comments of a collection: the head comment go-yaml writes before the
    collection's own "- " indicator (a list's encrypted comments are elements instead)."""
    head: list[Comment] = []
    if isinstance(v, Branch):
        for k, _ in v:
            if not isinstance(k, Comment):
                break
            head.append(k)
        return (Branch(v[len(head):]) if head else v), head
    while len(head) < len(v):
        c = v[len(head)]
        if not isinstance(c, Comment) or _element(c):
            break
        head.append(c)
    return (v[len(head):] if head else v), head


def _drop_overwritten_head(v: list[object]) -> list[object]:
    """A mapping value's sequence whose first item is a sequence with head comments of its
    own: go-yaml's emitter replaces the outer head comment (still pending after ``key:``) by
    the item's, so the outer one is not written."""
    _, head = _split_head_comments(v)
    if head and len(head) < len(v):
        first = v[len(head)]
        if isinstance(first, list) and _split_head_comments(first)[1]:
            return v[len(head):]
    return v


def _element(c: Comment) -> bool:
    """An encrypted comment of a list, which sops writes as a list element."""
    return is_encrypted(c.value) and not isinstance(c, HeldComment)


def _has_items(v: list[object]) -> bool:
    return any(not isinstance(x, Comment) or _element(x) for x in v)


def _complex_key(k: object) -> bool:
    if not isinstance(k, str) or isinstance(k, SopsTime):
        return False
    return len(k.encode("utf-8", "surrogateescape")) > 128 or any(
        c in k for c in "\n\r\x85\u2028\u2029")


def _analyze(s: str) -> tuple[bool, bool, bool]:
    """(plain allowed, single-quoted allowed, block allowed) in block context."""
    # NEL is not printable to go-yaml (double quotes); LS and PS are printable line breaks:
    # a string holding them is single-quoted unless a space touches one (_single), or with a
    # "\n" too a literal block (_block).
    ls = not s.isascii() and _LS_PS.search(s) is not None
    special = _has_nonprintable(s)
    # go-yaml v3 (not libyaml) lets a tab into a literal block but not a plain or
    # single-quoted scalar.
    tab = "\t" in s
    plain = not (special or tab or ls) and _BAD_PLAIN.search(s) is None
    if "\n" not in s:
        spaced = ls and _SPACE_LS.search(s) is not None
        return plain, not (special or tab or spaced), not special and not s.endswith(" ")
    space_break = " \n" in s or (ls and re.search(" [\u2028\u2029]", s) is not None)
    single = not (special or tab or space_break or "\n " in s)
    block = not (special or space_break or s.endswith(" "))
    return plain, single, block


class Emitter:
    def __init__(self, indent: int = 4, encrypted: bool = False) -> None:
        self.w = indent if indent and indent > 0 else 4
        self.out: list[str] = []
        self.encrypted = encrypted
        # go-yaml's emitter writes the foot comment of a mapping that ends a sequence only at
        # its next foot-comment point (after the next value it writes, or the document's end);
        # the next line at the indentation that comment was written at is one blank line below.
        self.pending_foot: list[Comment] = []
        self.foot_at = (-1, -1)  # (indentation, output length) right after a waiting foot

    def _flush_foot(self, indent: int) -> None:
        if self.pending_foot:
            pad = " " * indent
            self.out.extend(_comment(pad, pad, c.value) for c in self.pending_foot)
            self.pending_foot = []
            self.foot_at = (indent, len(self.out))

    def _below_foot(self, indent: int) -> None:
        if self.foot_at == (indent, len(self.out)):
            self.out.append("\n")

    # ------------------------------------------------------------ scalars
    def scalar(self, v: object, key: bool = False) -> str:
        """The text of a scalar written inline; multi-line strings return a block header."""
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, SopsTime):
            return str(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            if v == 0 and self.encrypted and math.copysign(1.0, v) < 0:
                # go-yaml writes -0.0 as "-0", which reads back as the integer 0: a value left
                # unencrypted then fails sops' own MAC check (docs/sops.md). In an encrypted
                # file kubecrypt keeps it a float.
                return "-0.0"
            return format_float_g(v) if not math.isnan(v) else ".nan"
        raw = None if key else _raw_bytes(v)
        if raw is not None:
            b64 = _go_base64(raw)
            return "\x00binary" if "\n" in b64 else "!!binary " + b64
        s = str(v)
        if s == MERGE:
            return "!!merge <<"
        if s == "":
            return '""'
        if needs_quotes(s):
            return _double(s)
        plain, single, block = _analyze(s)
        if "\n" in s and not key:
            # A first line starting with a tab cannot be read back from a literal block
            # (go-yaml: "found a tab character where an indentation space is expected";
            # sops 3.11 writes such a string as null): double quotes keep it.
            if block and s[0] != "\t":
                # A leading space/newline needs an indentation indicator (go-yaml writes the
                # indent width); the caller falls back to double quotes where the indicator
                # would not land the content where we write it.
                return "\x00blockhint" if s[0] in " \n\u2028\u2029" else "\x00block"
            return _double(s)
        if plain:
            return s
        if single and "\n" not in s:
            return "\x00single" if _LS_PS.search(s) else "'" + s.replace("'", "''") + "'"
        return _double(s)

    def _block(self, s: str, content_indent: int, hint: bool = False) -> str:
        """A literal block as go-yaml writes it (yaml_emitter_write_literal_scalar): the text
        after each line break (``\\n``, or U+2028/U+2029 written as is) at the indentation;
        the chomping indicator from the last two characters."""
        if s[-1] not in _LINE_BREAKS:
            chomp = "-"
        elif len(s) == 1 or s[-2] in _LINE_BREAKS:
            chomp = "+"
        else:
            chomp = ""
        if hint:
            chomp = str(self.w) + chomp
        pad = " " * content_indent
        out, brk = [], True
        for ch in s:
            if ch in _LINE_BREAKS:
                brk = True
            elif brk:
                out.append(pad)
                brk = False
            out.append(ch)
        # after a last line break (LS/PS too: go-yaml's column is 0 again) no "\n" is added
        return "|" + chomp + "\n" + "".join(out) + ("" if s[-1] in _LINE_BREAKS else "\n")

    def _binary_block(self, v: object, content_indent: int) -> str:
        raw = _raw_bytes(v)
        assert raw is not None
        return "!!binary " + self._block(_go_base64(raw), content_indent)

    def _nested(self, indent: int) -> int:
        return self.w * ((indent + self.w) // self.w)

    # ------------------------------------------------------------ collections
    def mapping(self, b: Branch, indent: int, first_prefix: str | None = None) -> None:
        """Writes a block mapping whose keys are at column ``indent``. ``first_prefix``
        replaces the indentation of the first line (the ``- `` of a sequence item)."""
        out = self.out
        pad = " " * indent
        prefix = first_prefix
        # go-yaml keeps an empty sequence's head comment pending: the next key writes it unless
        # that key has a head comment of its own; the mapping's end writes it after the last
        # key's foot comment, one blank line below it.
        pending: list[object] = []
        comments_since = False
        for k, v in b:
            lead = prefix if prefix is not None else pad
            prefix = None
            if isinstance(k, Comment):
                if lead == pad:
                    self._below_foot(indent)
                out.append(_comment(lead, pad, k.value))
                comments_since = True
                continue
            if pending and not comments_since:
                out.extend(_comment(pad, pad, getattr(c, "value", "")) for c in pending)
            pending = []
            comments_since = False
            if lead == pad:
                self._below_foot(indent)
            if _complex_key(k):
                self._complex_entry(k, v, indent, lead)
                continue
            ks = self.scalar(k, key=True)
            if isinstance(v, Branch):
                if not v:
                    out.append(lead + ks + ": {}\n")
                elif all(isinstance(x, Comment) for x, _ in v):
                    out.append(lead + ks + ": " + self._flow_comments(v, indent))
                else:
                    out.append(lead + ks + ":\n")
                    self._flush_foot(indent)
                    self.mapping(v, self._nested(indent))
            elif isinstance(v, list):
                if _has_items(v):
                    out.append(lead + ks + ":\n")
                    self._flush_foot(indent)
                    self.sequence(_drop_overwritten_head(v), self._nested(indent))
                else:
                    out.append(lead + ks + ": []\n")
                    pending = list(v)
            else:
                out.append(lead + ks + ": " + self._value_text(v, indent))
                self._flush_foot(indent)
        if pending:
            if comments_since:
                out.append("\n")
            out.extend(_comment(pad, pad, getattr(c, "value", "")) for c in pending)

    def _flow_comments(self, b: Branch, indent: int) -> str:
        """A mapping holding only comments: go-yaml keeps it an empty flow mapping and writes
        the comments inside it, the closing brace at column 0 (emitterc.go writes the ``}``
        right after the comment's line break)."""
        pad = " " * self._nested(indent)
        return "{\n" + "".join(_comment(pad, pad, k.value) for k, _ in b
                               if isinstance(k, Comment)) + "}\n"

    def _value_text(self, v: object, indent: int) -> str:
        """A scalar mapping value and its line end (or a literal block)."""
        sv = self.scalar(v)
        if sv == "\x00binary":
            return self._binary_block(v, self._nested(indent))
        if sv == "\x00blockhint" and self._nested(indent) != indent + self.w:
            sv = _double(str(v))
        if sv.startswith("\x00block"):
            return self._block(str(v), self._nested(indent), hint=sv == "\x00blockhint")
        if sv == "\x00single":
            return _single(str(v), self._nested(indent)) + "\n"
        return sv + "\n"

    def _complex_entry(self, k: object, v: object, indent: int, lead: str) -> None:
        """``? key`` / ``: value``, which libyaml uses for keys over 128 bytes or with line
        breaks (yaml_emitter_check_simple_key)."""
        out = self.out
        pad = " " * indent
        nested = self._nested(indent)
        kv = self.scalar(k)
        if kv.startswith("\x00block"):
            out.append(lead + "? " + self._block(str(k), nested, hint=kv == "\x00blockhint"))
        elif kv == "\x00single":
            out.append(lead + "? " + _single(str(k), nested) + "\n")
        else:
            out.append(lead + "? " + kv + "\n")
        inline = pad + ":" + " " * max(1, nested - indent - 1)
        if isinstance(v, Branch) and v:
            self.mapping(v, nested, first_prefix=inline)
        elif isinstance(v, list) and _has_items(v):
            self.sequence(v, nested, first_prefix=inline)
        elif isinstance(v, Branch):
            out.append(pad + ": {}\n")
        elif isinstance(v, list):
            out.append(pad + ": []\n")
        else:
            out.append(pad + ": " + self._value_text(v, indent))

    def sequence(self, lst: list[object], indent: int, first_prefix: str | None = None) -> None:
        out = self.out
        pad = " " * indent
        prefix = first_prefix
        end = len(lst)
        while end:
            c = lst[end - 1]
            if not isinstance(c, Comment) or _element(c):
                break
            end -= 1
        last = lst[end - 1] if end else None
        deferred: list[Comment] = []
        if end < len(lst) and (
                (isinstance(last, Branch) and any(not isinstance(k, Comment) for k, _ in last))
                or (isinstance(last, list) and _has_items(last))):
            deferred = [c for c in lst[end:] if isinstance(c, Comment)]
            lst = lst[:end]
        for i, v in enumerate(lst):
            lead = prefix if prefix is not None else pad
            if i == end - 1 and end < len(lst):
                # the last item's own foot comment replaces a foot still waiting
                self.pending_foot = []
            if isinstance(v, Comment):
                if _element(v):
                    # sops stores encrypted comments of a list as list elements.
                    out.append(lead + "- " + v.value + "\n")
                else:
                    out.append(_comment(lead, pad, v.value))
                prefix = None
                continue
            prefix = None
            if isinstance(v, (Branch, list)):
                # go-yaml writes a nested node's head comments before its "- " indicator.
                v, head = _split_head_comments(v)
                for c in head:
                    out.append(_comment(lead, pad, c.value))
                    lead = pad
                if self.pending_foot and _has_items(v if isinstance(v, list) else [v]) and (
                        not isinstance(v, Branch) or v):
                    # go-yaml writes a waiting foot at its next foot-comment point, right
                    # after this item's "-" when the item is a block collection; the
                    # collection's first entry follows on a line of its own.
                    out.append(lead + "-\n")
                    self._flush_foot(indent)
                    if isinstance(v, Branch):
                        self.mapping(v, indent + 2)
                    else:
                        self.sequence(v, indent + 2)
                    continue
            if isinstance(v, Branch):
                if v:
                    self.mapping(v, indent + 2, first_prefix=lead + "- ")
                else:
                    out.append(lead + "- {}\n")
            elif isinstance(v, list):
                if v:
                    self.sequence(v, indent + 2, first_prefix=lead + "- ")
                else:
                    out.append(lead + "- []\n")
            else:
                sv = self.scalar(v)
                if sv == "\x00blockhint":
                    out.append(lead + "- " + _double(str(v)) + "\n")
                elif sv == "\x00block":
                    out.append(lead + "- " + self._block(str(v), indent + 2))
                elif sv == "\x00binary":
                    out.append(lead + "- " + self._binary_block(v, indent + 2))
                elif sv == "\x00single":
                    out.append(lead + "- " + _single(str(v), indent + 2) + "\n")
                else:
                    out.append(lead + "- " + sv + "\n")
                if not deferred:
                    self._flush_foot(indent)
        if deferred:
            self.pending_foot = deferred

    def document(self, b: Branch) -> None:
        if any(not isinstance(k, Comment) for k, _ in b):
            self.mapping(b, 0)
        else:
            for k, _ in b:
                if isinstance(k, Comment):
                    self.out.append(_comment("", "", k.value))
            self.out.append("{}\n")
        if self.pending_foot:  # at the document's end, one blank line below
            self.out.append("\n")
            self._flush_foot(0)

    def text(self) -> str:
        return "".join(self.out)


def emit_documents(branches: list[Branch], indent: int = 4, encrypted: bool = False) -> str:
    e = Emitter(indent, encrypted)
    for i, b in enumerate(branches):
        if i:
            e.out.append("---\n")
        e.document(b)
    return e.text()


def emit_value(v: object, indent: int = 4) -> str:
    e = Emitter(indent)
    if isinstance(v, Branch):
        e.document(v)
    elif isinstance(v, list):
        e.sequence(v, 0) if v else e.out.append("[]\n")
    else:
        sv = e.scalar(v)
        if sv == "\x00blockhint":
            sv = _double(str(v))
        if sv == "\x00single":
            sv = _single(str(v), e.w)
        if sv == "\x00binary":
            e.out.append(e._binary_block(v, e.w))
        else:
            e.out.append(e._block(str(v), e.w) if sv == "\x00block" else sv + "\n")
    return e.text()
