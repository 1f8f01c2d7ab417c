"""INI store (sops stores/ini/store.go on go-ini): sections are top-level keys, all values are
strings, ``;``/``#`` comments attach to the next key, keys before the first section belong to
``DEFAULT`` (written back without a header), ``=`` signs are aligned per section, and the
metadata is a flattened ``[sops]`` section."""

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


def _comment(lines: list[str]) -> Comment:
    """go-ini keeps consecutive comment lines as one comment; sops strips the first marker."""
    first = lines[0].lstrip(";#").strip(_GO_SPACE)
    return Comment("\n".join([first, *lines[1:]]))


def _parse(data: bytes) -> Branch:
    text = data.decode("utf-8", "surrogateescape")
    root = Branch()
    current: Branch | None = None
    pending: list[str] = []
    # Lines end at "\n" only (str.splitlines would also split at \f, \x1c-\x1e, ...).
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(_GO_SPACE)
        if not line:
            continue
        if line[0] in ";#":
            pending.append(line)
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise CouldNotReadInput(
                    f"Error unmarshalling input ini: unclosed section on line {n}.")
            # Comments above a section header are the section's comment.
            current = Branch([(_comment(pending), None)] if pending else [])
            pending = []
            root.append((line[1:-1].strip(_GO_SPACE), current))
            continue
        sep = line.find("=")
        if sep < 0:
            sep = line.find(":")
        if sep < 0:
            raise CouldNotReadInput(
                f"Error unmarshalling input ini: line {n} is neither a section, a comment nor "
                "a key = value pair.")
        key, value = line[:sep].strip(_GO_SPACE), line[sep + 1:].strip(_GO_SPACE)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
            value = value[1:-1]
        if current is None:
            current = Branch()
            root.append((DEFAULT, current))
        if pending:
            current.append((_comment(pending), None))
            pending = []
        current.append((key, value))
    if pending and current is not None:
        current.append((_comment(pending), None))
    return root


def _section(name: str, b: object, header: bool) -> str:
    if not isinstance(b, Branch):
        raise ErrorDumpingTree(
            f"Error dumping file: INI needs sections; {name!r} is a plain value at the top level.")
    width = max((len(str(k)) for k, _ in b if not isinstance(k, Comment)), default=0)
    out = []
    items = list(b)
    if header and items and isinstance(items[0][0], Comment):
        out.append("; " + items[0][0].value + "\n")  # the section comment, above its header
        items = items[1:]
    if header:
        out.append(f"[{name}]\n")
    for k, v in items:
        if isinstance(k, Comment):
            out.append("; " + k.value + "\n")
            continue
        if isinstance(v, (Branch, list)):
            raise ErrorDumpingTree(
                f"Error dumping file: INI values must be scalars; {name}.{k} is nested.")
        if v is None:
            v = ""
        elif v is True or v is False:
            v = "true" if v else "false"
        out.append(f"{str(k).ljust(width)} = {str(v).replace(chr(10), chr(92) + 'n')}\n")
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
                parts.append(_section(str(name), sec, header=name != DEFAULT))
        return "\n".join(parts).encode("utf-8", "surrogateescape")

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        flat = flatten(metadata)
        doc = Branch([*(branches[0] if branches else []),
                      ("sops", Branch((k, flat[k]) for k in sorted(flat)))])
        return self.emit_plain([doc])

    def emit_value(self, value: object) -> bytes:
        if isinstance(value, Branch):
            return _section("value", value, header=False).encode("utf-8", "surrogateescape")
        raise ErrorDumpingTree("Error dumping file: only a section can be written as INI.")


STORE_CLASS = INIStore
