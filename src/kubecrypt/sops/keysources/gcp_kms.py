"""Google Cloud KMS keys (sops gcpkms/keysource.go): the data key is wrapped with KMS
``Encrypt{name: resource_id}`` and unwrapped with ``Decrypt{name, ciphertext}``; ``enc`` is the
standard base64 of the ciphertext. Metadata ``{resource_id, created_at, enc}``.

The client and credentials are :mod:`kubecrypt.cloud.gcp` (sops' ``GOOGLE_CREDENTIALS``,
``GOOGLE_OAUTH_ACCESS_TOKEN``, else ADC); ``google-cloud-kms`` is imported on first use only."""

from __future__ import annotations

import base64
import binascii
from typing import ClassVar

from kubecrypt.cloud import CloudError
from kubecrypt.sops.keysources.base import KeySourceError, MasterKey, created_at_now


class GCPKMSKey(MasterKey):
    type_name: ClassVar[str] = "gcp_kms"

    def __init__(self, resource_id: str, enc: str = "", created_at: str = "") -> None:
        self.resource_id = resource_id
        self.enc = enc
        self.created_at = created_at

    @classmethod
    def from_resource_id(cls, resource_id: str) -> GCPKMSKey:
        """As sops: spaces removed; the name is checked when the key is used."""
        return cls(resource_id.replace(" ", ""))

    @classmethod
    def from_ids(cls, ids: str | list[str]) -> list[GCPKMSKey]:
        items = ids.split(",") if isinstance(ids, str) else ids
        return [cls.from_resource_id(i) for i in items if i.strip()]

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> GCPKMSKey:
        return cls(str(d.get("resource_id") or ""), str(d.get("enc") or ""),
                   str(d.get("created_at") or ""))

    def encrypt(self, data_key: bytes) -> None:
        from kubecrypt.cloud import gcp

        try:
            ct, _ = gcp.encrypt(self.resource_id, data_key)
        except CloudError as exc:
            raise KeySourceError(
                f"failed to encrypt sops data key with GCP KMS key: {exc}") from None
        self.enc = base64.b64encode(ct).decode()
        self.created_at = created_at_now()

    def decrypt(self) -> bytes:
        try:
            blob = base64.b64decode(self.enc, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeySourceError(f"error base64-decoding encrypted data key: {exc}") from None
        from kubecrypt.cloud import gcp

        try:
            return gcp.decrypt(self.resource_id, blob)
        except CloudError as exc:
            raise KeySourceError(
                f"failed to decrypt sops data key with GCP KMS key: {exc}") from None

    def to_dict(self) -> dict[str, object]:
        return {"resource_id": self.resource_id,
                "created_at": self.created_at or created_at_now(), "enc": self.enc}

    def ident(self) -> str:
        return self.resource_id
