"""The one interface every key source implements (sops keys/keys.go ``MasterKey``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar


class KeySourceError(Exception):
    """A master key could not wrap or unwrap the data key; ``str()`` says why."""


def created_at_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class MasterKey:
    """A master key of one kind. ``enc`` holds the wrapped data key once encrypted."""

    type_name: ClassVar[str] = ""
    """The metadata field that lists keys of this kind (``age``, ``pgp``, ``hc_vault`` ...)."""

    enc: str = ""

    def encrypt(self, data_key: bytes) -> None:
        raise NotImplementedError

    def decrypt(self) -> bytes:
        raise NotImplementedError

    def to_dict(self) -> dict[str, object]:
        """The metadata entry, fields in sops' order."""
        raise NotImplementedError

    def ident(self) -> str:
        """How the key is named in messages and compared for duplicates."""
        raise NotImplementedError


class ForeignKey(MasterKey):
    """A key of a kind kubecrypt cannot use (AWS/GCP/Azure KMS ...). It is kept in the metadata
    untouched so files stay valid for people who hold those keys, but it never unwraps."""

    def __init__(self, type_name: str, fields: dict[str, object]) -> None:
        self._type = type_name
        self.fields = dict(fields)
        self.enc = str(fields.get("enc", ""))

    @property
    def kind(self) -> str:
        return self._type

    def encrypt(self, data_key: bytes) -> None:
        raise KeySourceError(f"kubecrypt cannot encrypt to {self._type} keys")

    def decrypt(self) -> bytes:
        raise KeySourceError(f"kubecrypt does not support {self._type} keys")

    def to_dict(self) -> dict[str, object]:
        return dict(self.fields)

    def ident(self) -> str:
        for f in ("arn", "resource_id", "vault_url", "key_id"):
            if f in self.fields:
                return str(self.fields[f])
        return self._type


def key_type(key: MasterKey) -> str:
    return key.kind if isinstance(key, ForeignKey) else key.type_name
