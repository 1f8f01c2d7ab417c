"""Say how a stored value is protected from its bytes alone, without any key."""

from __future__ import annotations

from dataclasses import dataclass

from kubecrypt.atrest.providers.encrypted_object import EncryptedObject, InvalidEncryptedObject

_KEYED = (b"k8s:enc:aescbc:v1:", b"k8s:enc:aesgcm:v1:", b"k8s:enc:secretbox:v1:")
_KMS = (b"k8s:enc:kms:v1:", b"k8s:enc:kms:v2:")


@dataclass(frozen=True)
class Classified:
    state: str
    """``plaintext``, ``encrypted`` or ``unknown``."""
    provider: str | None = None
    key: str | None = None
    """Key name (aescbc/aesgcm/secretbox) or KMS provider name."""
    key_id: str | None = None
    api_version: str | None = None


def _name_after(value: bytes, prefix: bytes) -> str | None:
    end = value.find(b":", len(prefix))
    if end < 0:
        return None
    return value[len(prefix) : end].decode("utf-8", "replace")


def classify(value: bytes) -> Classified:
    if value.startswith(b"k8s\x00") or value.startswith(b"{"):
        return Classified("plaintext")
    for p in _KEYED:
        if value.startswith(p):
            return Classified("encrypted", p.split(b":")[2].decode(), _name_after(value, p))
    for p in _KMS:
        if value.startswith(p):
            api = p.split(b":")[3].decode()
            name = _name_after(value, p)
            key_id = None
            if api == "v2" and name is not None:
                body = value[len(p) + len(name.encode()) + 1 :]
                try:
                    key_id = EncryptedObject.from_bytes(body).key_id or None
                except InvalidEncryptedObject:
                    key_id = None
            return Classified("encrypted", "kms", name, key_id, api)
    return Classified("unknown")
