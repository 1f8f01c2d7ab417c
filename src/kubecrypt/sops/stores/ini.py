"""INI store (sops stores/ini/store.go on go-ini v1.67): sections are top-level keys (an
implicit ``DEFAULT`` first, written without a header; every explicit header is a section of its
own), all values are strings, comments above a section header are
the section's comment and comments above a key (or inline after its value) are the key's,
``=`` signs are aligned per section, and the metadata is a flattened ``[sops]`` section."""

from __future__ import annotations

from kubecrypt.sops.errors import CouldNotReadInput, ErrorDumpingTree, MetadataNotFound
from kubecrypt.sops.stores.base import Store, check_reads_back
from kubecrypt.sops.stores.flatten import flatten, unflatten
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment

DEFAULT = "DEFAULT"
# Go's unicode.IsSpace (strings.TrimSpace), narrower than Python's str.strip().
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"


def _strip_marker(comment: str) -> str:
    """sops' stripCommentChar: drop the leading run of ``; `` or ``# ``."""
    if comment.startswith(";"):
        return comment.lstrip("; ")
    if comment.startswith("#"):
        return comment.lstrip("# ")
    return comment


def _surrounded(v: str, q: str) -> bool:
    return len(v) >= 2 and v[0] == q and v[-1] == q and v.count(q) == 2


def _go_strip(s: str) -> str:
    return s.strip(_GO_SPACE)


class _Lines:
    """go-ini's reader: lines up to and including ``\n`` (never split elsewhere)."""

    def __init__(self, text: str) -> None:
        parts = text.split("\n")
        self.lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        self.n = 0

    def eof(self) -> bool:
        return self.n >= len(self.lines)

    def next(self) -> str:
        line = self.lines[self.n]
        self.n += 1
        return line


def _key_name(line: str, n: int) -> tuple[str, int]:
    """go-ini's readKeyName: optional quotes (``"``, ``\"\"\"``, backtick), then ``=`` or ``:``."""
    quote = ""
    if line[0] == '"':
        quote = '"""' if len(line) > 6 and line.startswith('"""') else '"'
    elif line[0] == "`":
        quote = "`"
    if quote:
        start = len(quote)
        pos = line.find(quote, start)
        if pos < 0:
            raise CouldNotReadInput(
                f"Error unmarshalling input ini: missing closing key quote on line {n}.")
        rest = line[pos + start:]
        i = min((j for j in (rest.find("="), rest.find(":")) if j >= 0), default=-1)
        if i < 0:
            raise _no_delimiter(line, n)
        return _go_strip(line[start:pos]), pos + i + start + 1
    i = min((j for j in (line.find("="), line.find(":")) if j >= 0), default=-1)
    if i < 0:
        raise _no_delimiter(line, n)
    if i == 0:
        raise CouldNotReadInput(f"Error unmarshalling input ini: empty key name on line {n}.")
    return _go_strip(line[:i]), i + 1


def _no_delimiter(line: str, n: int) -> CouldNotReadInput:
    return CouldNotReadInput(
        f"Error unmarshalling input ini: key-value delimiter not found on line {n}: "
        f"{_go_strip(line)!r}.")


def _value(raw: str, comment: list[str], src: _Lines) -> str:
    """go-ini's readValue: triple-quote and backtick quoting (which may span lines),
    continuation lines ending in ``\\``, inline ``#``/``;`` comments (which join the key's
    comment), then one pair of surrounding quotes removed."""
    line = raw.lstrip(_GO_SPACE)
    if not line:
        return ""
    quote = '"""' if len(line) > 3 and line.startswith('"""') else (
        "`" if line.startswith("`") else "")
    if quote:
        start = len(quote)
        end = line.rfind(quote, start)
        if end >= 0:
            return line[start:end]
        val = line[start:]
        while True:  # readMultilines
            if src.eof():
                raise CouldNotReadInput(
                    "Error unmarshalling input ini: missing closing value quote "
                    f"({quote}) before the end of the file.")
            nxt = src.next()
            pos = nxt.rfind(quote)
            if pos >= 0:
                tail = nxt[pos:]
                cut = min((i for i in (tail.find("#"), tail.find(";")) if i >= 0), default=-1)
                if cut >= 0:
                    comment.append(_go_strip(tail[cut:]))
                return val + nxt[:pos]
            val += nxt
    line = _go_strip(line)
    if line.endswith("\\"):  # readContinuationLines
        val = line[:-1]
        while not src.eof():
            nxt = _go_strip(src.next())
            if not nxt:
                break
            val += nxt
            if not val.endswith("\\"):
                break
            val = val[:-1]
        return val
    cut = min((i for i in (line.find("#"), line.find(";")) if i >= 0), default=-1)
    if cut >= 0:
        comment.append(line[cut:])
        line = _go_strip(line[:cut])
    if _surrounded(line, "'") or _surrounded(line, '"'):
        line = line[1:-1]
    return line


class _Section:
    def __init__(self, name: str, comment: str = "") -> None:
        self.name = name
        self.comment = comment
        # go-ini keeps a repeated key at its first position with the last value and comment.
        self.keys: dict[str, tuple[str, str]] = {}


def _parse(data: bytes) -> Branch:
    """Sections in file order, always starting with an implicit ``DEFAULT`` (go-ini's
    parser); every ``[name]`` header opens a new section, ``[DEFAULT]`` too. In a section the
    section comment comes first and each key's comment right after the key."""
    text = data.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    src = _Lines(text)
    current = _Section(DEFAULT)
    sections = [current]
    pending: list[str] = []
    count = 1
    while not src.eof():
        n = src.n + 1
        line = src.next().lstrip(_GO_SPACE)
        if not line:
            continue
        if line[0] in ";#":
            pending.append(line)
            continue
        if line.startswith("["):
            close = line.rfind("]")  # go-ini: up to the last "]", name not trimmed
            if close < 0:
                raise CouldNotReadInput(
                    f"Error unmarshalling input ini: unclosed section on line {n}.")
            tail = line[close + 1:]
            cut = min((i for i in (tail.find("#"), tail.find(";")) if i >= 0), default=-1)
            if cut >= 0:
                pending.append(tail[cut:])
            current = _Section(line[1:close], _go_strip("".join(pending)))
            sections.append(current)
            pending = []
            count = 1
            continue
        key, offset = _key_name(line, n)
        if key == "-":  # go-ini's auto-increment keys
            key = f"#{count}"
            count += 1
        value = _value(line[offset:], pending, src)
        current.keys[key] = (value, _go_strip("".join(pending)))
        pending = []
    # Comments after the last key of a section belong to nothing and are dropped (go-ini).
    root = Branch()
    for sec in sections:
        items = Branch([(Comment(_strip_marker(sec.comment)), None)] if sec.comment else [])
        for k, (v, c) in sec.keys.items():
            items.append((k, v))
            if c:
                items.append((Comment(_strip_marker(c)), None))
        root.append((sec.name, items))
    return root


def _comment_lines(comment: str, trim: bool) -> str:
    """go-ini writes each comment line as ``; text`` or ``<marker> text`` (a key's plain
    lines trimmed, a section's kept as they are)."""
    out = []
    for line in comment.split("\n"):
        if line[:1] in ("#", ";"):
            out.append(line[0] + " " + _go_strip(line[1:]))
        else:
            out.append("; " + (_go_strip(line) if trim else line))
    return "\n".join(out) + "\n"


def _quote_value(v: str) -> str:
    if "\n" in v or "`" in v:
        return '"""' + v + '"""'
    if "#" in v or ";" in v:
        return "`" + v + "`"
    if _go_strip(v) != v:
        return '"' + v + '"'
    return v


def _quote_key(k: str) -> str:
    if '"' in k or "=" in k or ":" in k:
        return "`" + k + "`"
    if "`" in k:
        return '"""' + k + '"""'
    return k


def _blen(s: str) -> int:
    return len(s.encode("utf-8", "surrogateescape"))


def _section(name: str, b: object, index: int, encrypted: bool = False) -> tuple[str, bool]:
    """One section as go-ini's WriteTo writes it (PrettyFormat: ``=`` aligned by bytes), and
    whether a blank line may follow: an empty ``DEFAULT`` at index 0 is skipped after its
    comment, with no separator. A nested value is written as sops writes it (Go's ``%v``) in
    plaintext, and refused in an encrypted file: sops 3.11 writes one there (``a = []``,
    ``b = [ENC[...] ENC[...]]``) and then cannot decrypt it (exit 25) or its MAC (exit 51)."""
    if not isinstance(b, Branch):
        raise ErrorDumpingTree(
            f"Error dumping file: INI needs sections; {name!r} is a plain value at the top level.")
    if not name:  # go-ini's NewSection and NewKey refuse an empty name
        raise ErrorDumpingTree("Error dumping file: INI cannot hold a section with an empty "
                               "name; rename it.")
    items = list(b)
    section_comment = ""
    if items and isinstance(items[0][0], Comment):
        section_comment = items[0][0].value
        items = items[1:]
    # A comment in the tree follows its key; go-ini writes it above the key (the last wins).
    keys: dict[str, tuple[str, str]] = {}
    last = None
    for k, v in items:
        if isinstance(k, Comment):
            if last is not None:
                keys[last] = (keys[last][0], k.value)
            continue
        if encrypted and isinstance(v, (Branch, list)):
            raise ErrorDumpingTree(
                f"Error dumping file: INI values must be scalars; {name}.{k} is nested, and "
                "an encrypted INI file holding it could not be opened again; use YAML or JSON "
                "output.")
        last = str(k)
        if not last:
            raise ErrorDumpingTree(f"Error dumping file: INI cannot hold a key with an empty "
                                   f"name (in section {name!r}); rename it.")
        text = "" if encrypted and v is None else _ini_text(v)
        if encrypted:
            check_reads_back("INI", f"{name}.{k}", v, text)
        keys[last] = (text, keys.get(last, ("", ""))[1])
    out = [_comment_lines(section_comment, trim=False)] if section_comment else []
    if index > 0 or name.upper() != DEFAULT:
        out.append(f"[{name}]\n")
    elif not keys:
        return "".join(out), False
    width = 0
    for k in keys:
        extra = 2 if ('"' in k or "=" in k or ":" in k) else 6 if "`" in k else 0
        width = max(width, _blen(k) + extra)
    for k, (v, c) in keys.items():
        if c:
            out.append(_comment_lines(c, trim=True))
        qk = _quote_key(k)
        out.append(qk + " " * max(0, width - _blen(qk)) + " = " + _quote_value(v) + "\n")
    return "".join(out), True


def _ini_text(v: object) -> str:
    if isinstance(v, list):  # a Branch too
        from kubecrypt.sops.stores.gofmt import go_v

        return go_v(v)
    from kubecrypt.sops.values import val_to_string

    return val_to_string(v)


class INIStore(Store):
    name = "ini"

    def load_plain(self, data: bytes) -> list[Branch]:
        return [_parse(data)]

    def load_encrypted(self, data: bytes) -> tuple[list[Branch], object]:
        root = _parse(data)
        meta = root.get("sops")
        if not isinstance(meta, Branch):
            raise MetadataNotFound()
        flat = {str(k): str(v).replace("\\n", "\n") for k, v in meta
                if not isinstance(k, Comment)}
        return [Branch((k, v) for k, v in root if k != "sops")], unflatten(flat)

    def emit_plain(self, branches: list[Branch], encrypted: bool = False) -> bytes:
        sections = [(str(name), sec) for b in branches for name, sec in b
                    if not isinstance(name, Comment)]
        out = []
        for i, (name, sec) in enumerate(sections):
            part, sep = _section(name, sec, i, encrypted)
            out.append(part)
            if sep and i < len(sections) - 1:
                out.append("\n")  # go-ini's PrettySection: a blank line between sections
        return "".join(out).encode("utf-8", "surrogateescape")

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        for _, section in branches[0] if branches else []:
            for k, _ in section if isinstance(section, Branch) else []:
                if isinstance(k, str) and (k[:1] in ("#", ";", "[") or k != k.strip()
                                           or "\n" in k):
                    # go-ini writes such a key unquoted and reads it back as a comment, a
                    # header or a trimmed name: sops' file then fails in both tools.
                    raise ErrorDumpingTree(
                        f"Error dumping file: the key {k!r} cannot be written in an INI file "
                        "(it would read back as a comment, a section or another key); rename "
                        "it or use YAML or JSON output.")
        flat = {k: v.replace("\n", "\\n") for k, v in flatten(metadata).items()}
        doc = Branch([*(branches[0] if branches else []),
                      ("sops", Branch((k, flat[k]) for k in sorted(flat)))])
        return self.emit_plain([doc], encrypted=True)

    def emit_value(self, value: object, *, json_tree: bool = False) -> bytes:
        if isinstance(value, Branch):
            return _section(DEFAULT, value, 0)[0].encode("utf-8", "surrogateescape")
        # sops' EmitValue: any other value (``--extract`` of a number, list...) as Go's JSON.
        from kubecrypt.sops.stores.gofmt import go_json

        return go_json(value, nil_mappings=json_tree).encode("utf-8", "surrogateescape")


STORE_CLASS = INIStore
