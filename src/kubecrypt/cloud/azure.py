"""Azure Key Vault keys through the official ``azure-keyvault-keys`` client, with credentials
from ``azure-identity``'s DefaultAzureCredential (environment, workload identity, managed
identity, Azure CLI ...), as sops uses. Data keys are wrapped with ``RSA-OAEP-256``.

The client may encrypt locally with the key's public half once it has read the key (the SDK
does that when ``keys/get`` is allowed); the ciphertext is the same RSA-OAEP-256 block the
service's ``encrypt`` would return. Decryption always runs in the vault."""

from __future__ import annotations

import re
import threading
from typing import Any

from kubecrypt.cloud import CloudError, missing_extra

KEY_URL_RE = re.compile(r"^(https://[^/]+)/keys/([^/]+)(/[^/]*)?$")
ALGORITHM = "RSA-OAEP-256"

_lock = threading.Lock()
_credential: Any = None


def parse_key_url(url: str) -> tuple[str, str, str]:
    """``https://VAULT/keys/NAME[/VERSION]`` -> (vault_url, name, version or "")."""
    m = KEY_URL_RE.match(url.strip())
    if not m:
        raise CloudError(f"{url.strip()!r} is not an Azure Key Vault key URL like "
                         "https://VAULT.vault.azure.net/keys/NAME[/VERSION].", "config")
    return m.group(1), m.group(2), (m.group(3) or "/")[1:]


def _import() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.keys import KeyClient
        from azure.keyvault.keys.crypto import CryptographyClient
    except ImportError:
        raise missing_extra("azure-keyvault-keys and azure-identity", "azure") from None
    return DefaultAzureCredential, KeyClient, CryptographyClient


def credential() -> Any:
    global _credential
    default_cred, _, _ = _import()
    with _lock:
        if _credential is None:
            _credential = default_cred()
        return _credential


def _error(op: str, what: str, exc: Exception) -> CloudError:
    from azure.core import exceptions as aexc

    if isinstance(exc, aexc.ClientAuthenticationError):
        first = str(exc.message or exc).strip().splitlines()[0]
        return CloudError(f"Azure Key Vault {op} with {what} failed: no usable Azure "
                          f"credential ({first})", "denied")
    if isinstance(exc, aexc.HttpResponseError):
        status = exc.status_code or 0
        code = getattr(exc.error, "code", None) or exc.reason or ""
        kind = ("denied" if status in (401, 403) else "invalid" if status in (400, 404)
                else "unavailable" if status in (429,) or status >= 500 else "other")
        return CloudError(f"Azure Key Vault {op} with {what} failed: HTTP {status} {code}".strip(),
                          kind)
    if isinstance(exc, aexc.ServiceRequestError):
        return CloudError(f"Azure Key Vault {op} with {what} failed: the vault is not reachable "
                          f"({type(exc).__name__})", "unavailable")
    return CloudError(f"Azure Key Vault {op} with {what} failed: {type(exc).__name__}")


def latest_version(vault_url: str, name: str) -> str:
    _, key_client, _ = _import()
    from azure.core.exceptions import AzureError

    try:
        key = key_client(vault_url, credential()).get_key(name)
    except AzureError as exc:
        raise _error("GetKey", f"{vault_url}/keys/{name}", exc) from None
    return str(key.properties.version or "")


def _crypto(vault_url: str, name: str, version: str) -> Any:
    _, _, crypto_client = _import()
    return crypto_client(f"{vault_url}/keys/{name}/{version}", credential())


def encrypt(vault_url: str, name: str, version: str, plaintext: bytes) -> bytes:
    return bytes(_rsa_oaep_256("Encrypt", vault_url, name, version, plaintext).ciphertext)


def decrypt(vault_url: str, name: str, version: str, ciphertext: bytes) -> bytes:
    return bytes(_rsa_oaep_256("Decrypt", vault_url, name, version, ciphertext).plaintext)


def _rsa_oaep_256(op: str, vault_url: str, name: str, version: str, data: bytes) -> Any:
    """Key Vault's ``encrypt`` or ``decrypt`` (``op``) with RSA-OAEP-256, the algorithm sops and
    the Azure KMS plugin both use."""
    from azure.core.exceptions import AzureError
    from azure.keyvault.keys.crypto import EncryptionAlgorithm

    try:
        client = _crypto(vault_url, name, version)
        call = client.encrypt if op == "Encrypt" else client.decrypt
        return call(EncryptionAlgorithm.rsa_oaep_256, data)
    except AzureError as exc:
        raise _error(op, f"{vault_url}/keys/{name}/{version}", exc) from None
