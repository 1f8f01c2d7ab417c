"""The ``local`` backend's keyring file: which keys exist and which one wraps new data.

Format (JSON)::

    {"primary": "<key_id>",
     "keys": [{"id": "<key_id>", "secret": "<base64 of 32 bytes>", "created": "<RFC 3339>"}]}

The file holds key-encryption keys, so it is written 0600 (atomically: temp file + rename) and
refused when group or others may read it. Rotation appends a key with a fresh id; ids are
random, checked against every id in the file, and never reused."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import ConfigError
from kubecrypt.fileio import atomic_write

KEY_SIZE = 32


@dataclass(frozen=True)
class KeyEntry:
    id: str
    secret: bytes = field(repr=False)
    created: str


@dataclass(frozen=True)
class Keyring:
    primary: str
    keys: tuple[KeyEntry, ...]

    def get(self, key_id: str) -> KeyEntry | None:
        for k in self.keys:
            if k.id == key_id:
                return k
        return None

    @property
    def primary_key(self) -> KeyEntry:
        k = self.get(self.primary)
        assert k is not None  # checked when loading
        return k

    def to_json(self) -> str:
        doc = {
            "primary": self.primary,
            "keys": [
                {"id": k.id, "secret": base64.b64encode(k.secret).decode(), "created": k.created}
                for k in self.keys
            ],
        }
        return json.dumps(doc, indent=2) + "\n"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_key_id(existing: set[str]) -> str:
    """A key id that names the day it was made and cannot collide with an existing one."""
    while True:
        kid = f"local-{datetime.now(UTC).strftime('%Y%m%d')}-{secrets.token_hex(6)}"
        if kid not in existing:
            return kid


def check_mode(path: Path) -> os.stat_result:
    """Refuses a keyring group or others may access: it holds the key-encryption keys."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"keyring {path} does not exist; "
            f"create it with `kubecrypt kms keyring init --file {path}`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read keyring {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"keyring {path} is not a regular file")
    if st.st_mode & 0o077:
        raise ConfigError(
            f"keyring {path} is accessible by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    return st


def parse(text: str | bytes, source: str) -> Keyring:
    doc: Any = safeparse.load_json(text, f"keyring {source}", error=ConfigError)
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list) or not doc["keys"]:
        raise ConfigError(f"keyring {source} must be an object with a non-empty \"keys\" list")
    keys: list[KeyEntry] = []
    for i, raw in enumerate(doc["keys"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise ConfigError(f"keyring {source}: keys[{i}] needs a non-empty string \"id\"")
        kid = raw["id"]
        try:
            secret = base64.b64decode(str(raw.get("secret", "")), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"keyring {source}: key {kid!r} has a secret that is not base64"
            ) from None
        if len(secret) != KEY_SIZE:
            raise ConfigError(
                f"keyring {source}: key {kid!r} must be {KEY_SIZE} bytes, not {len(secret)}"
            )
        if any(k.id == kid for k in keys):
            raise ConfigError(f"keyring {source}: key id {kid!r} appears twice")
        keys.append(KeyEntry(kid, secret, str(raw.get("created", ""))))
    primary = doc.get("primary")
    if not isinstance(primary, str) or not any(k.id == primary for k in keys):
        raise ConfigError(f"keyring {source}: \"primary\" must name one of its keys")
    return Keyring(primary, tuple(keys))


def load(path: str | Path) -> tuple[Keyring, os.stat_result]:
    p = Path(path)
    st = check_mode(p)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read keyring {p}: {exc.strerror}") from None
    return parse(text, str(p)), st


def write(path: str | Path, ring: Keyring) -> None:
    """Writes atomically with mode 0600: a temp file in the same directory, then rename."""
    try:
        atomic_write(path, ring.to_json().encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write keyring {path}: {exc.strerror}") from None


def init(path: str | Path) -> Keyring:
    p = Path(path)
    if p.exists():
        raise ConfigError(
            f"keyring {p} already exists; use `kubecrypt kms keyring rotate --file {p}`"
        )
    kid = new_key_id(set())
    ring = Keyring(kid, (KeyEntry(kid, secrets.token_bytes(KEY_SIZE), _now()),))
    write(p, ring)
    return ring


def rotate(path: str | Path) -> Keyring:
    """Adds a fresh key and makes it primary; old keys stay, so old data keeps decrypting."""
    ring, _ = load(path)
    kid = new_key_id({k.id for k in ring.keys})
    new = Keyring(kid, (*ring.keys, KeyEntry(kid, secrets.token_bytes(KEY_SIZE), _now())))
    write(path, new)
    return new
