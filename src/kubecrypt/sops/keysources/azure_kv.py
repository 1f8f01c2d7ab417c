"""Azure Key Vault keys (sops azkv/keysource.go): the data key is encrypted in the vault with
``RSA-OAEP-256`` under ``VAULT/keys/NAME/VERSION`` and decrypted the same way; ``enc`` is
**base64url without padding**. Metadata ``{vault_url, name, version, created_at, enc}``.
A key URL without a version gets the latest version from the vault when it is named, as sops
does. Client and credentials: :mod:`kubecrypt.cloud.azure` (DefaultAzureCredential)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import ClassVar

from kubecrypt.cloud import CloudError
from kubecrypt.sops.keysources.base import KeySourceError, MasterKey, created_at_now

_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class AzureKVKey(MasterKey):
    type_name: ClassVar[str] = "azure_kv"

    def __init__(self, vault_url: str, name: str, version: str = "", enc: str = "",
                 created_at: str = "") -> None:
        self.vault_url = vault_url
        self.name = name
        self.version = version
        self.enc = enc
        self.created_at = created_at

    @classmethod
    def with_optional_version(cls, vault_url: str, name: str, version: str = "") -> AzureKVKey:
        key = cls(vault_url, name, version)
        if not version:
            from kubecrypt.cloud import azure

            try:
                key.version = azure.latest_version(vault_url, name)
            except CloudError as exc:
                raise KeySourceError(
                    f"failed to fetch Azure Key to retrieve key version: {exc}") from None
        return key

    @classmethod
    def from_url(cls, url: str) -> AzureKVKey:
        from kubecrypt.cloud import azure

        try:
            vault_url, name, version = azure.parse_key_url(url)
        except CloudError as exc:
            raise KeySourceError(str(exc)) from None
        return cls.with_optional_version(vault_url, name, version)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> AzureKVKey:
        return cls(str(d.get("vault_url") or ""), str(d.get("name") or ""),
                   str(d.get("version") or ""), str(d.get("enc") or ""),
                   str(d.get("created_at") or ""))

    def encrypt(self, data_key: bytes) -> None:
        from kubecrypt.cloud import azure

        try:
            ct = azure.encrypt(self.vault_url, self.name, self.version, data_key)
        except CloudError as exc:
            raise KeySourceError(f"failed to encrypt sops data key with Azure Key Vault key "
                                 f"'{self.ident()}': {exc}") from None
        self.enc = base64.urlsafe_b64encode(ct).rstrip(b"=").decode()
        self.created_at = created_at_now()

    def decrypt(self) -> bytes:
        try:
            if not _B64URL.fullmatch(self.enc):
                raise ValueError("not unpadded base64url")
            blob = base64.urlsafe_b64decode(self.enc + "=" * (-len(self.enc) % 4))
        except (binascii.Error, ValueError) as exc:
            raise KeySourceError(
                f"failed to base64 decode Azure Key Vault encrypted key: {exc}") from None
        from kubecrypt.cloud import azure

        try:
            return azure.decrypt(self.vault_url, self.name, self.version, blob)
        except CloudError as exc:
            raise KeySourceError(f"failed to decrypt sops data key with Azure Key Vault key "
                                 f"'{self.ident()}': {exc}") from None

    def to_dict(self) -> dict[str, object]:
        return {"vault_url": self.vault_url, "name": self.name, "version": self.version,
                "created_at": self.created_at or created_at_now(), "enc": self.enc}

    def ident(self) -> str:
        """sops' ToString: ``VAULT/keys/NAME/VERSION``."""
        return f"{self.vault_url}/keys/{self.name}/{self.version}"
