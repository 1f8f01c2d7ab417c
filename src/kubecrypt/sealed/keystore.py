"""A local directory of controller key Secrets (one file per key, 0600, directory 0700), used by
``kubecrypt sealed keys`` and, later, by the controller when it runs without a cluster."""

from __future__ import annotations

import os
from pathlib import Path

from kubecrypt.fileio import atomic_write
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.keys import KeyRegistry, SealingKey, key_from_secret, key_secret
from kubecrypt.sealed.render import SECRET, ordered, to_yaml

DEFAULT_DIR = Path("~/.config/kubecrypt/sealed-keys")


class KeyStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser()

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.suffix in (".yaml", ".json"))

    def load(self) -> list[SealingKey]:
        out = []
        for path in self.files():
            for doc in load_documents(path.read_bytes(), str(path)):
                out.append(key_from_secret(doc, str(path)))
        return out

    def registry(self, order_priority: str = "CertNotBefore") -> KeyRegistry:
        return KeyRegistry(self.load(), order_priority)

    def add(self, key: SealingKey, prefix: str, stored: set[str] | None = None) -> Path:
        """Writes the key Secret as ``<name>.yaml``; refuses a key that is already stored
        (``stored``: the fingerprints already there, when the caller has them)."""
        if stored is None:
            stored = {k.fingerprint for k in self.load()}
        if key.fingerprint in stored:
            raise SealedInputError(f"key {key.fingerprint} is already in {self.directory}")
        secret = key_secret(key, prefix)
        key.name = secret["metadata"]["name"]
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        path = self.directory / f"{key.name}.yaml"
        if path.exists():
            raise SealedInputError(f"{path} already exists; choose another key name")
        atomic_write(path, to_yaml(ordered(secret, SECRET)).encode(), mode=0o600)
        return path


__all__ = ["DEFAULT_DIR", "KeyStore"]
