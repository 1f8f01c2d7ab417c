"""What a dialect hands back for one object, the ``objects`` parameter's two list forms, and the
object versions (vault-csi-provider's scheme: base64url(HMAC-SHA256(key, JSON of the object's
config ‖ content)), so a changed value or a changed config shows as a new version while equal
contents of different objects stay unlinkable)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecrypt.csi.errors import BadParameters
from kubecrypt.errors import ConfigError, InputError
from kubecrypt.fileio import atomic_write
from kubecrypt.safeparse import load_yaml

HMAC_KEY_BYTES = 32


@dataclass
class Fetched:
    """One file of the mount: ``config`` is the object's own parameters (for its version)."""

    name: str
    contents: bytes
    mode: int
    config: dict[str, Any]


def parse_objects(text: str, spc: str) -> list[dict[str, Any]]:
    """The ``objects`` parameter: a YAML list of mappings (vault, aws, kubecrypt) or Azure's
    ``array:`` of YAML strings (the form seed 2's example uses)."""
    if not text.strip():
        raise BadParameters(f"{spc}: parameter 'objects' is missing or empty; list the objects to "
                            "mount, e.g. objects: |\n  - objectName: password\n    secretPath: "
                            "secret/data/db\n    secretKey: password")
    value = load_yaml(text, f"{spc} parameter 'objects'", error=BadParameters)
    if isinstance(value, dict) and set(value) == {"array"}:
        items: list[Any] = []
        for i, entry in enumerate(value["array"] or []):
            if isinstance(entry, str):
                entry = load_yaml(entry, f"{spc} parameter 'objects' array entry {i + 1}",
                                  error=BadParameters)
            items.append(entry)
        value = items
    if not isinstance(value, list) or not value:
        raise BadParameters(f"{spc}: parameter 'objects' must be a YAML list of objects (or "
                            "Azure's 'array:' of YAML strings); got "
                            f"{type(value).__name__}")
    seen: set[str] = set()
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise BadParameters(f"{spc}: object {i + 1} of 'objects' is not a mapping")
        name = entry.get("objectName")
        if not isinstance(name, str) or not name:
            raise BadParameters(f"{spc}: object {i + 1} of 'objects' has no objectName; it names "
                                "the file in the mount")
        if name in seen:
            raise BadParameters(f"{spc}: objectName {name!r} appears twice; each objectName must "
                                "be unique, it is the file name")
        seen.add(name)
    return value


def file_mode(entry: dict[str, Any], default: int) -> int:
    """``filePermission``: an int (YAML 0600 is octal) or an octal string ("0600", Azure's form)."""
    raw = entry.get("filePermission")
    if raw in (None, "", 0):
        return default
    try:
        mode = int(raw, 8) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        mode = -1
    if isinstance(raw, bool) or not 0 <= mode <= 0o777:
        raise BadParameters(f"object {entry.get('objectName')!r}: filePermission {raw!r} is not a "
                            "file mode; write it in octal, e.g. 0600 or \"0440\"")
    return mode


class Versioner:
    """HMAC object versions with a key kept in a 0600 file (created on first use), so versions
    survive restarts: a restart must not look like a rotation."""

    def __init__(self, key_file: str | Path | None) -> None:
        if key_file is None:
            self.key = os.urandom(HMAC_KEY_BYTES)
            return
        path = Path(key_file)
        try:
            self.key = path.read_bytes()
        except FileNotFoundError:
            self.key = os.urandom(HMAC_KEY_BYTES)
            try:
                atomic_write(path, self.key, new_mode=0o600)
            except OSError as exc:
                raise ConfigError(f"cannot create the HMAC key file {path}: {exc.strerror}; "
                                  "choose a writable --hmac-key-file") from None
        except OSError as exc:
            raise ConfigError(f"cannot read the HMAC key file {path}: {exc.strerror}") from None
        if len(self.key) < 16:
            raise InputError(f"the HMAC key file {path} holds {len(self.key)} bytes; it needs at "
                             "least 16 (delete it to have a new one made)")

    def version(self, obj: Fetched) -> str:
        mac = hmac.new(self.key, json.dumps(obj.config, sort_keys=True, default=str,
                                            separators=(",", ":")).encode(), hashlib.sha256)
        mac.update(obj.contents)
        return base64.urlsafe_b64encode(mac.digest()).decode()

