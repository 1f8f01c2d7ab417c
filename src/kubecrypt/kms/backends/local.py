"""``local``: key-encryption keys from a keyring file (see :mod:`kubecrypt.kms.keyring`).

v2 ciphertext: ``nonce(12) || AES-256-GCM(key, nonce, plaintext, aad = key_id as UTF-8)`` under
the primary key; binding the key_id as AAD means a ciphertext cannot be passed off under another
key_id. v1 ciphertext is the same with empty AAD (v1 Decrypt carries no key_id), and v1 Decrypt
tries every key.

The file is re-read when it changes (checked on every Status and at most once a second on other
calls), so ``kubecrypt kms keyring rotate`` takes effect without restarting the plugin."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.errors import ConfigError
from kubecrypt.kms import keyring
from kubecrypt.kms.backends.base import (
    Annotations,
    Backend,
    BackendError,
    InvalidCiphertext,
    UnknownKeyID,
    shown,
)

log = logging.getLogger(__name__)

NONCE_SIZE = 12
MIN_CIPHERTEXT = NONCE_SIZE + 16
RECHECK_SECONDS = 1.0


class _Loaded:
    """One keyring version with its AES-GCM objects built once."""

    def __init__(self, ring: keyring.Keyring, st: os.stat_result) -> None:
        self.ring = ring
        self.identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        self.primary = ring.primary
        self.primary_aad = ring.primary.encode()
        self.aead = {k.id: AESGCM(k.secret) for k in ring.keys}
        # Newest first: v1 Decrypt most likely wants a recent key.
        self.order = [k.id for k in reversed(ring.keys)]


class LocalBackend(Backend):
    name = "local"

    def __init__(self, keyring: str | None = None, **unknown: Any) -> None:
        if unknown:
            raise ConfigError(
                f"local backend: unknown option(s) {', '.join(sorted(unknown))}; "
                "it takes only `keyring`"
            )
        if not keyring:
            raise ConfigError("local backend needs `keyring: PATH` in --backend-config")
        self.path = Path(keyring)
        self._lock = threading.Lock()
        self._state = _Loaded(*_load(self.path))
        self._checked = time.monotonic()
        self._reload_error: str | None = None

    # -- keyring reload -------------------------------------------------------------------------

    def _current(self, force: bool = False) -> _Loaded:
        now = time.monotonic()
        if not force and now - self._checked < RECHECK_SECONDS:
            return self._state
        with self._lock:
            self._checked = now
            try:
                st = self.path.stat()
            except OSError as exc:
                self._reload_error = f"keyring {self.path} is unreadable: {exc.strerror}"
                return self._state
            if (st.st_ino, st.st_mtime_ns, st.st_size) == self._state.identity:
                self._reload_error = None
                return self._state
            try:
                state = _Loaded(*_load(self.path))
            except ConfigError as exc:
                # Keep serving with the keys we have; Status reports the problem.
                self._reload_error = str(exc)
                log.error("keeping the previous keyring: %s", exc)
                return self._state
            old = self._state.primary
            self._state = state
            self._reload_error = None
            if state.primary != old:
                log.info("keyring %s reloaded: primary key_id %s -> %s",
                         self.path, old, state.primary)
            return state

    # -- Backend --------------------------------------------------------------------------------

    def status(self) -> str:
        state = self._current(force=True)
        if self._reload_error:
            raise BackendError(self._reload_error)
        return state.primary

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        state = self._current()
        nonce = os.urandom(NONCE_SIZE)
        sealed = state.aead[state.primary].encrypt(nonce, plaintext, state.primary_aad)
        return nonce + sealed, state.primary, {}

    def encrypt_v1(self, plaintext: bytes) -> bytes:
        state = self._current()
        nonce = os.urandom(NONCE_SIZE)
        return nonce + state.aead[state.primary].encrypt(nonce, plaintext, None)

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        if len(ciphertext) < MIN_CIPHERTEXT:
            raise InvalidCiphertext(
                f"ciphertext is {len(ciphertext)} bytes, shorter than nonce and tag "
                f"({MIN_CIPHERTEXT})"
            )
        nonce, sealed = ciphertext[:NONCE_SIZE], ciphertext[NONCE_SIZE:]
        state = self._current()
        if not key_id:
            for kid in state.order:
                try:
                    return state.aead[kid].decrypt(nonce, sealed, None)
                except InvalidTag:
                    continue
            raise InvalidCiphertext(
                f"ciphertext does not authenticate under any key in {self.path}"
            )
        aead = state.aead.get(key_id)
        if aead is None:
            state = self._current(force=True)
            aead = state.aead.get(key_id)
            if aead is None:
                raise UnknownKeyID(
                    f"key_id {shown(key_id)} is not in keyring {self.path}; "
                    "restore that key from a backup"
                )
        try:
            return aead.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise InvalidCiphertext(
                f"ciphertext does not authenticate under key_id {shown(key_id)} (tampered or not ours)"
            ) from None


def _load(path: Path) -> tuple[keyring.Keyring, os.stat_result]:
    return keyring.load(path)
