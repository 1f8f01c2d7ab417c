"""HashiCorp Vault / OpenBao transit keys (sops hcvault/keysource.go): the base64 of the data
key is sent to ``<engine>/encrypt/<key>`` and the ``vault:v1:...`` ciphertext stored; the
token comes from ``VAULT_TOKEN`` or ``~/.vault-token``. Plain HTTP(S) with the standard
library keeps start-up lean."""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from kubecrypt.sops.keysources.base import KeySourceError, MasterKey, created_at_now


def _token() -> str:
    tok = os.environ.get("VAULT_TOKEN")
    if tok:
        return tok.strip()
    p = Path.home() / ".vault-token"
    if p.is_file():
        return p.read_text().strip()
    raise KeySourceError("no Vault token: set VAULT_TOKEN or write ~/.vault-token")


class VaultKey(MasterKey):
    type_name: ClassVar[str] = "hc_vault"

    def __init__(self, vault_address: str, engine_path: str, key_name: str, enc: str = "",
                 created_at: str = "") -> None:
        self.vault_address = vault_address.rstrip("/")
        self.engine_path = engine_path.strip("/")
        self.key_name = key_name
        self.enc = enc
        self.created_at = created_at

    @classmethod
    def from_uri(cls, uri: str) -> VaultKey:
        """``https://vault:8200/v1/<engine path>/keys/<name>``."""
        u = urlparse(uri.strip())
        parts = u.path.strip("/").split("/")
        if not u.scheme or not u.netloc or len(parts) < 4 or parts[0] != "v1" \
                or parts[-2] != "keys":
            raise KeySourceError(
                f"{uri!r} is not a Vault transit key URI like "
                "https://vault:8200/v1/transit/keys/my-key")
        return cls(f"{u.scheme}://{u.netloc}", "/".join(parts[1:-2]), parts[-1])

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> VaultKey:
        return cls(str(d.get("vault_address", "")), str(d.get("engine_path", "")),
                   str(d.get("key_name", "")), str(d.get("enc", "")), str(d.get("created_at", "")))

    def _call(self, op: str, payload: dict[str, str]) -> dict[str, object]:
        url = f"{self.vault_address}/v1/{self.engine_path}/{op}/{self.key_name}"
        req = urllib.request.Request(
            url, data=json.dumps(payload).encode(), method="POST",
            headers={"X-Vault-Token": _token(), "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise KeySourceError(f"Vault {op} at {url} failed: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise KeySourceError(f"Vault {op} at {url} failed: {exc}") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise KeySourceError(f"Vault {op} at {url} returned no data")
        return data

    def encrypt(self, data_key: bytes) -> None:
        data = self._call("encrypt", {"plaintext": base64.b64encode(data_key).decode()})
        self.enc = str(data.get("ciphertext", ""))
        self.created_at = created_at_now()

    def decrypt(self) -> bytes:
        data = self._call("decrypt", {"ciphertext": self.enc})
        try:
            return base64.b64decode(str(data.get("plaintext", "")), validate=True)
        except ValueError:
            raise KeySourceError("Vault returned a plaintext that is not base64") from None

    def to_dict(self) -> dict[str, object]:
        return {"vault_address": self.vault_address, "engine_path": self.engine_path,
                "key_name": self.key_name, "created_at": self.created_at or created_at_now(),
                "enc": self.enc}

    def ident(self) -> str:
        return f"{self.vault_address}/v1/{self.engine_path}/keys/{self.key_name}"
