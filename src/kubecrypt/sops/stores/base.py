"""The interface of a file format (sops stores/stores.go ``Store``)."""

from __future__ import annotations

from kubecrypt.sops.errors import ErrorDumpingTree
from kubecrypt.sops.tree import Branch


class Store:
    """Turns bytes into documents (:class:`Branch` each) and back. Encrypted files carry the
    metadata, which ``load_encrypted`` returns raw (a Branch) for ``Metadata.from_tree``."""

    name = ""

    def __init__(self, indent: int | None = None) -> None:
        self.indent = indent

    def load_plain(self, data: bytes) -> list[Branch]:
        raise NotImplementedError

    def load_encrypted(self, data: bytes) -> tuple[list[Branch], object]:
        raise NotImplementedError

    def emit_plain(self, branches: list[Branch]) -> bytes:
        raise NotImplementedError

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        raise NotImplementedError

    def emit_value(self, value: object, *, json_tree: bool = False) -> bytes:
        """A subtree (``--extract`` of a branch) in this format. ``json_tree``: the tree was
        read by the JSON store, which holds an empty mapping as a nil ``TreeBranch`` (sops'
        stores/json ``var tree sops.TreeBranch``; the YAML store makes an empty one), and
        Go's ``encoding/json`` writes the two differently (INI)."""
        raise NotImplementedError

    def has_metadata(self, branches: list[Branch]) -> bool:
        """Whether a plaintext load already carries sops metadata (refuse to encrypt twice)."""
        return any(k == "sops" for k, _ in (branches[0] if branches else []))


def check_reads_back(store: str, where: str, value: object, text: str) -> None:
    """An INI or dotenv file holds only strings. A value left in plaintext that is not one is
    read back as ``text``, and the file opens only if the MAC saw those very bytes (a null
    adds nothing, like ""; ``1.5`` reads back as itself, ``true`` or ``2.0`` do not: the MAC
    covered ``True`` and ``2``). sops 3.11 writes the others and then fails its own MAC check
    (exit 51); refuse before anything is written."""
    from kubecrypt.sops.values import is_string, mac_bytes

    if is_string(value) or (value is None and text == ""):
        return
    if value is not None and mac_bytes(value) == text.encode("utf-8", "surrogateescape"):
        return
    raise ErrorDumpingTree(
        f"Error dumping file: the value of {where} ({text}) is left unencrypted, and an "
        f"encrypted {store} file holds only text, which would not read back as that value "
        "(the file could not be opened again); encrypt it or make it a string.")
