"""``azure``: Azure Key Vault through the official ``azure-keyvault-keys`` and
``azure-identity`` clients (``pip install 'kubecrypt[azure]'``).

Format (kubecrypt's own, documented in docs/kms.md; no upstream Azure KMS v2 plugin format is
specified for us to match): the ciphertext is the RSA-OAEP-256 block of the vault's
``encrypt`` under the key version; ``key_id`` is the full key version URL
``https://VAULT/keys/NAME/VERSION``, so a new key version in the vault changes key_id and
``kubecrypt rotate kms`` sees it; no annotations. Decrypt uses the version named by the
ciphertext's key_id (KMS v1 calls, which have none, use the configured version).

Config: ``key`` (``https://VAULT/keys/NAME[/VERSION]``; without a version the latest is read
at start-up and kept). Credentials: DefaultAzureCredential (environment, workload identity,
managed identity, Azure CLI ...)."""

from __future__ import annotations

from kubecrypt.cloud import CloudError
from kubecrypt.errors import ConfigError
from kubecrypt.kms.backends._cloud import HealthCache, backend_error
from kubecrypt.kms.backends.base import (
    Annotations,
    Backend,
    InvalidCiphertext,
    UnknownKeyID,
)


class AzureBackend(Backend):
    name = "azure"

    def __init__(self, key: str | None = None) -> None:
        from kubecrypt.cloud import azure

        if not key or not isinstance(key, str):
            raise ConfigError("azure backend needs `key` (https://VAULT.vault.azure.net/keys/"
                              "NAME[/VERSION]) in --backend-config")
        try:
            self.vault_url, self.name_, version = azure.parse_key_url(key)
            self.version = version or azure.latest_version(self.vault_url, self.name_)
        except CloudError as exc:
            raise ConfigError(f"azure backend: {exc}") from None
        self.key_id = f"{self.vault_url}/keys/{self.name_}/{self.version}"
        self._health = HealthCache(self, "Azure Key Vault")

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        from kubecrypt.cloud import azure

        try:
            ct = azure.encrypt(self.vault_url, self.name_, self.version, plaintext)
        except CloudError as exc:
            raise backend_error(exc) from None
        return ct, self.key_id, {}

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        from kubecrypt.cloud import azure

        if not ciphertext:
            raise InvalidCiphertext("invalid empty ciphertext")
        version = self.version
        if key_id:
            prefix = f"{self.vault_url}/keys/{self.name_}/"
            if not key_id.startswith(prefix) or "/" in key_id[len(prefix):]:
                raise UnknownKeyID(f"key_id {key_id!r} is not a version of {prefix[:-1]}")
            version = key_id[len(prefix):]
        try:
            return azure.decrypt(self.vault_url, self.name_, version, ciphertext)
        except CloudError as exc:
            raise backend_error(exc) from None

    def status(self) -> str:
        self._health.check()
        return self.key_id
