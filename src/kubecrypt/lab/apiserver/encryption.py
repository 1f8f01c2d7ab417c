"""``--encryption-provider-config``: the transformers the store writes and reads through, and the
automatic reload kube-apiserver does when the file changes
(``--encryption-provider-config-automatic-reload``): a file that fails to load keeps the old
configuration in force and is counted as a failed reload."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any, Protocol

from kubecrypt.atrest.chain import PrefixChain
from kubecrypt.atrest.config import load_file
from kubecrypt.atrest.providers.base import ReadResult
from kubecrypt.atrest.providers.identity import IdentityProvider
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.errors import KubecryptError

log = logging.getLogger("kubecrypt.lab.encryption")


class Transformer(Protocol):
    def encrypt(self, data: bytes, aad: bytes) -> bytes: ...

    def decrypt(self, value: bytes, aad: bytes) -> ReadResult: ...


class Encryption:
    def __init__(self, path: str | Path | None, kms_factory: Any = None) -> None:
        self.path = Path(path) if path else None
        self.kms_factory = kms_factory
        self.reloads = {"success": 0, "failure": 0}
        self.config_hash = ""
        self._set: TransformerSet | None = None
        self._cache: dict[str, Transformer] = {}
        if self.path is not None:
            self._load()  # a bad file at start-up is fatal, as for kube-apiserver

    def _load(self) -> None:
        assert self.path is not None
        raw = self.path.read_bytes()
        config = load_file(self.path)
        new = TransformerSet(config, kms_factory=self.kms_factory) \
            if self.kms_factory else TransformerSet(config)
        old, self._set, self._cache = self._set, new, {}
        self.config_hash = hashlib.sha256(raw).hexdigest()
        if old is not None:
            old.close()

    def for_resource(self, resource: str) -> Transformer:
        t = self._cache.get(resource)
        if t is None:
            # Without a configuration kube-apiserver writes plaintext and refuses to read
            # k8s:enc: values, exactly what an identity-only chain does.
            t = self._set.for_resource(resource) if self._set is not None \
                else PrefixChain([IdentityProvider()])
            self._cache[resource] = t
        return t

    def check_reload(self) -> bool:
        """Reloads if the file's content changed; True if a new configuration is in force."""
        if self.path is None:
            return False
        try:
            digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return False
        if digest == self.config_hash:
            return False
        try:
            self._load()
        except (KubecryptError, OSError, ValueError) as exc:
            self.config_hash = digest  # do not retry the same broken content in a loop
            self.reloads["failure"] += 1
            log.error("encryption provider config reload failed, keeping the old one: %s", exc)
            return False
        self.reloads["success"] += 1
        log.info("encryption provider config reloaded (%s)", self.config_hash[:12])
        return True

    async def watch_file(self, interval: float = 0.5) -> None:
        while True:
            await asyncio.sleep(interval)
            self.check_reload()

    def close(self) -> None:
        if self._set is not None:
            self._set.close()
