"""Binary store: the whole file is one ``str`` value at path ``data``; the encrypted form is
JSON (sops stores/json BinaryStore). Decryption writes the bytes back exactly."""

from __future__ import annotations

from kubecrypt.sops.errors import ErrorDumpingTree
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.stores.json import JSONStore
from kubecrypt.sops.tree import Branch


class BinaryStore(Store):
    name = "binary"

    def load_plain(self, data: bytes) -> list[Branch]:
        return [Branch([("data", data.decode("utf-8", "surrogateescape"))])]

    def load_encrypted(self, data: bytes) -> tuple[list[Branch], object]:
        return JSONStore(self.indent).load_encrypted(data)

    def emit_plain(self, branches: list[Branch]) -> bytes:
        for b in branches:
            v = b.get("data")
            if isinstance(v, str):
                return v.encode("utf-8", "surrogateescape")
            if isinstance(v, bytes):
                return v
        raise ErrorDumpingTree(
            "Error dumping file: no binary data found in tree (no 'data' key holding a string).")

    def emit_encrypted(self, branches: list[Branch], metadata: Branch) -> bytes:
        return JSONStore(self.indent).emit_encrypted(branches, metadata)

    def emit_value(self, value: object, *, json_tree: bool = False) -> bytes:
        # ``--extract`` of a value that is not a string (strings are printed raw before any
        # store is asked; a timestamp is not one) with binary output: sops exits 4.
        raise ErrorDumpingTree("Error dumping tree: binary files are not structured and "
                               "extracting a single value is not possible; use --output-type.")


STORE_CLASS = BinaryStore
