"""INI store (sops stores/ini/store.go on go-ini v1): sections are top-level keys (``DEFAULT``
first, written without a header), all values are strings, comments above a section header are
the section's comment and comments above a key (or inline after its value) are the key's,
``=`` signs are aligned per section, and the metadata is a flattened ``[sops]`` section."""

from __future__ import annotations

from kubecrypt.sops.errors import CouldNotReadInput, ErrorDumpingTree, MetadataNotFound
from kubecrypt.sops.stores.base import Store
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


def _value(raw: str, comment: list[str]) -> str:
    """go-ini's readValue: triple-quote and backtick quoting, inline ``#``/``;`` comments
    (which join the key's comment), then one pair of surrounding quotes removed."""
    line = raw.lstrip(_GO_SPACE)
    if not line:
        return ""
    if len(line) > 3 and line.startswith('"""'):
        end = line.rfind('"""', 3)
        if end >= 3:
            return line[3:end]
    if line.startswith("`"):
        end = line.rfind("`", 1)
        if end > 0:
            return line[1:end]
    line = line.strip(_GO_SPACE)
    cut = min((i for i in (line.find("#"), line.find(";")) if i >= 0), default=-1)
    if cut >= 0:
        comment.append(line[cut:])
        line = line[:cut].strip(_GO_SPACE)
    if _surrounded(line, "'") or _surrounded(line, '"'):
        line = line[1:-1]
    return line


def _parse(data: bytes) -> Branch:
    """Sections in file order, always starting with ``DEFAULT`` (as go-ini loads them); in a
    section the section comment comes first and each key's comment right after the key."""
    text = data.decode("utf-8", "surrogateescape")
    current = Branch()
    root = Branch([(DEFAULT, current)])
    pending: list[str] = []
    # Lines end at "\n" only (str.splitlines would also split at \f, \x1c-\x1e, ...).
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.lstrip(_GO_SPACE)
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
            name = line[1:close]
            comment = "\n".join(pending).strip(_GO_SPACE)
            pending = []
            # A repeated section stays a separate section, as sops writes it back.
            current = Branch([(Comment(_strip_marker(comment)), None)] if comment else [])
            root.append((name, current))
            continue
        seps = [i for i in (line.find("="), line.find(":")) if i >= 0]
        if not seps:
            raise CouldNotReadInput(
                f"Error unmarshalling input ini: key-value delimiter not found on line {n}: "
                f"{line.strip()!r}.")
        key = line[:min(seps)].strip(_GO_SPACE)
        value = _value(line[min(seps) + 1:], pending)
        current.append((key, value))
        comment = "\n".join(pending).strip(_GO_SPACE)
        pending = []
        if comment:
            current.append((Comment(_strip_marker(comment)), None))
    # Comments after the last key of a section belong to nothing and are dropped (go-ini).
    return root


def _comment_lines(comment: str) -> str:
    """go-ini writes each comment line as ``; text`` or ``<marker> text``."""
    out = []
    for line in comment.split("\n"):
        if line[:1] in ("#", ";"):
            out.append(line[0] + " " + line[1:].strip(_GO_SPACE))
        else:
            out.append("; " + line)
    return "\n".join(out) + "\n"


def _quote_value(v: str) -> str:
    if "\n" in v or "`" in v:
        return '"""' + v + '"""'
    if "#" in v or ";" in v:
        return "`" + v + "`"
    if v.strip(_GO_SPACE) != v:
        return '"' + v + '"'
    return v


def _section(name: str, b: object, header: bool) -> str:
    if not isinstance(b, Branch):
        raise ErrorDumpingTree(
            f"Error dumping file: INI needs sections; {name!r} is a plain value at the top level.")
    items = list(b)
    section_comment = ""
    if items and isinstance(items[0][0], Comment):
        section_comment = items[0][0].value
        items = items[1:]
    # A comment in the tree follows its key; go-ini writes it above the key.
    keys: list[tuple[str, str, str]] = []  # (key, value, comment)
    for k, v in items:
        if isinstance(k, Comment):
            if keys:
                keys[-1] = (keys[-1][0], keys[-1][1], k.value)
            continue
        if isinstance(v, (Branch, list)):
            raise ErrorDumpingTree(
                f"Error dumping file: INI values must be scalars; {name}.{k} is nested.")
        text = "" if v is None else ("true" if v is True else "false" if v is False else str(v))
        keys.append((str(k), _quote_value(text), ""))
    if not header and not keys:
        return ""
    width = max((len(k) for k, _, _ in keys), default=0)
    out = []
    if header:
        if section_comment:
            out.append(_comment_lines(section_comment))
        out.append(f"[{name}]\n")
    for k, v, c in keys:
        if c:
            out.append(_comment_lines(c))
        out.append(f"{k.ljust(width)} = {v}\n")
    return "".join(out)


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

    def emit_plain(self, branches: list[Branch]) -> bytes:
        parts = []
        for b in branches:
            for name, sec in b:
                if isinstance(name, Comment):
                    continue
                part = _section(str(name), sec, header=name != DEFAULT)
                if part:
                    parts.append(part)
        return "\n".join(parts).encode("utf-8", "surrogateescape")

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        flat = {k: v.replace("\n", "\\n") for k, v in flatten(metadata).items()}
        doc = Branch([*(branches[0] if branches else []),
                      ("sops", Branch((k, flat[k]) for k in sorted(flat)))])
        return self.emit_plain([doc])

    def emit_value(self, value: object) -> bytes:
        if isinstance(value, Branch):
            return _section("value", value, header=False).encode("utf-8", "surrogateescape")
        raise ErrorDumpingTree("Error dumping file: only a section can be written as INI.")


STORE_CLASS = INIStore
