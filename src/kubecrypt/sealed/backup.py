"""Are the cluster's sealing keys backed up? (upstream #1533, #263: a backup goes stale at each
30-day renewal, and whatever was sealed after the last backup is lost with the cluster.)

Compares the controller's key Secrets (from the cluster, or a directory of them) with a backup
directory, by key fingerprint; with a directory of SealedSecrets, lists those that only a key
missing from the backup opens: the ones that would be lost today."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.keys import SealingKey, format_time, keys_from_file
from kubecrypt.sealed.which import opens

BACKUP_SUFFIXES = (".yaml", ".yml", ".json", ".pem", ".key")


def keys_in_dir(directory: Path, what: str) -> list[SealingKey]:
    """Every key in every backup file of ``directory`` (key Secrets, v1 Lists, PEM keys)."""
    if not directory.is_dir():
        raise SealedInputError(f"{directory} is not a directory; give the {what} directory")
    keys: list[SealingKey] = []
    for path in sorted(directory.iterdir()):
        if path.suffix not in BACKUP_SUFFIXES or not path.is_file():
            continue
        try:
            keys += keys_from_file(path.read_bytes(), str(path))
        except OSError as exc:
            raise SealedInputError(f"cannot read {path}: {exc.strerror}") from None
    return keys


@dataclass
class Lost:
    file: str
    namespace: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "namespace": self.namespace, "name": self.name}


@dataclass
class BackupStatus:
    cluster: list[SealingKey]
    missing: list[SealingKey]
    only_missing: list[Lost] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        missing = {k.fingerprint for k in self.missing}
        return {
            "keys": [{"name": k.name, "fingerprint": k.fingerprint,
                      "created": format_time(k.creation) if k.creation else "",
                      "backed_up": k.fingerprint not in missing} for k in self.cluster],
            "missing": sorted(missing),
            "only_missing_keys_open": [s.to_json() for s in self.only_missing],
        }


def backup_status(cluster: list[SealingKey], backup: list[SealingKey],
                  sealed: Iterable[tuple[Path, list[dict[str, Any]]]] = ()) -> BackupStatus:
    """``sealed``: (file, its SealedSecrets) to check against the keys missing from the backup."""
    backed_up = {k.fingerprint for k in backup}
    missing = [k for k in cluster if k.fingerprint not in backed_up]
    status = BackupStatus(cluster, missing)
    if not missing:
        return status
    for path, docs in sealed:
        for doc in docs:
            if any(opens(doc, k) for k in backup):
                continue
            if any(opens(doc, k) for k in missing):
                meta = doc.get("metadata") or {}
                status.only_missing.append(Lost(str(path), str(meta.get("namespace") or ""),
                                                str(meta.get("name") or "")))
    return status


__all__ = ["BackupStatus", "Lost", "backup_status", "keys_in_dir"]
