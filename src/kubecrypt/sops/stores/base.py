"""The interface of a file format (sops stores/stores.go ``Store``)."""

from __future__ import annotations

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

    def emit_value(self, value: object) -> bytes:
        """A subtree (``--extract`` of a branch) in this format."""
        raise NotImplementedError

    def has_metadata(self, branches: list[Branch]) -> bool:
        """Whether a plaintext load already carries sops metadata (refuse to encrypt twice)."""
        return any(k == "sops" for k, _ in (branches[0] if branches else []))
