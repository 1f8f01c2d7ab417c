"""dotenv store (sops stores/dotenv/store.go): ``KEY=value`` lines taken verbatim (no quotes
removed, no ``export``), ``\\n`` in a value is a newline, ``#`` lines are comments; metadata as
sorted ``sops_``-prefixed flattened lines."""

from __future__ import annotations

from kubecrypt.sops.errors import CouldNotReadInput, ErrorDumpingTree, MetadataNotFound
from kubecrypt.sops.stores.base import Store, check_reads_back
from kubecrypt.sops.stores.flatten import flatten, unflatten
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment, is_string, val_to_string

PREFIX = "sops_"


def _parse(data: bytes) -> Branch:
    text = data.decode("utf-8", "surrogateescape")
    b = Branch()
    for n, line in enumerate(text.split("\n"), 1):
        if not line:  # only empty lines are skipped; blanks are a line without "=" (sops)
            continue
        if line.startswith("#"):
            b.append((Comment(line[1:]), None))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise CouldNotReadInput(
                f"Error unmarshalling input dotenv: invalid dotenv input line {n}: {line!r} "
                "has no '='.")
        b.append((key, value.replace("\\n", "\n")))
    return b


def _line(k: str, v: object, encrypted: bool = False) -> str:
    """``KEY=value``; a value that is not a string spelled by sops' ValToString (``<nil>``,
    ``1E+21``), except a null in an encrypted file: empty, which reads back as what the MAC
    saw (sops writes ``<nil>`` and cannot decrypt its own file)."""
    if isinstance(v, (Branch, list)):
        raise ErrorDumpingTree(
            f"Error dumping file: cannot use complex value {k!r} in a dotenv file; "
            "use YAML or JSON output.")
    if is_string(v):
        text = v
    elif v is None and encrypted:
        text = ""
    else:
        text = val_to_string(v)
        if encrypted:
            check_reads_back("dotenv", k, v, text)
    return f"{k}={text.replace(chr(10), chr(92) + 'n')}\n"


class DotenvStore(Store):
    name = "dotenv"

    def load_plain(self, data: bytes) -> list[Branch]:
        return [_parse(data)]

    def has_metadata(self, branches: list[Branch]) -> bool:
        return any(isinstance(k, str) and k.startswith(PREFIX) for k, _ in branches[0])

    def load_encrypted(self, data: bytes) -> tuple[list[Branch], object]:
        b = _parse(data)
        meta: dict[str, str] = {}
        keep = Branch()
        for k, v in b:
            if isinstance(k, str) and k.startswith(PREFIX):
                meta[k[len(PREFIX):]] = str(v)
            else:
                keep.append((k, v))
        if not meta:
            raise MetadataNotFound()
        return [keep], unflatten(meta)

    def emit_plain(self, branches: list[Branch], encrypted: bool = False) -> bytes:
        out = []
        for b in branches:
            for k, v in b:
                if isinstance(k, Comment):
                    out.append("#" + k.value + "\n")
                else:
                    out.append(_line(str(k), v, encrypted))
        return "".join(out).encode("utf-8", "surrogateescape")

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        for k, _ in branches[0] if branches else []:
            if isinstance(k, str) and (k.startswith("#") or "=" in k or "\n" in k):
                # sops writes it, and the line reads back as a comment or as another key:
                # neither tool can open the file (MAC mismatch).
                raise ErrorDumpingTree(
                    f"Error dumping file: the key {k!r} cannot be written in a dotenv file (it "
                    "would read back as a comment or another key); rename it or use YAML or "
                    "JSON output.")
        flat = flatten(metadata)
        meta = "".join(_line(PREFIX + k, flat[k]) for k in sorted(flat))
        return self.emit_plain(branches, encrypted=True) + meta.encode()

    def emit_value(self, value: object, *, json_tree: bool = False) -> bytes:
        if isinstance(value, Branch):
            return self.emit_plain([value])
        raise ErrorDumpingTree("Error dumping file: only a mapping can be written as dotenv.")


STORE_CLASS = DotenvStore
