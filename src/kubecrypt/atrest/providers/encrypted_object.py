"""KMS v2's ``EncryptedObject`` (apiserver envelope/kmsv2/v2/api.proto) and its validation.

Fields: 1 encryptedData, 2 keyID, 3 encryptedDEKSource, 4 annotations (map<string, bytes>),
5 encryptedDEKSourceType. Upstream writes map entries in random order; we keep insertion order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubecrypt.kms.annotations import MAX_ANNOTATIONS, is_fqdn
from kubecrypt.storage import wire
from kubecrypt.storage.objectmeta import decode_map

AES_GCM_KEY = 0
HKDF_SHA256_XNONCE_AES_GCM_SEED = 1
MAX_DEK_SOURCE = 1024
MAX_KEY_ID = 1024


class InvalidEncryptedObject(ValueError):
    pass


@dataclass
class EncryptedObject:
    encrypted_data: bytes
    key_id: str
    encrypted_dek_source: bytes = field(repr=False)
    annotations: dict[str, bytes] = field(default_factory=dict)
    encrypted_dek_source_type: int = 0

    def to_bytes(self) -> bytes:
        out = [
            wire.field_bytes(1, self.encrypted_data),
            wire.field_str(2, self.key_id),
            wire.field_bytes(3, self.encrypted_dek_source),
        ]
        for k, v in self.annotations.items():
            out.append(wire.field_bytes(4, wire.field_str(1, k) + wire.field_bytes(2, v)))
        if self.encrypted_dek_source_type:
            out.append(wire.field_varint(5, self.encrypted_dek_source_type))
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptedObject:
        obj = cls(b"", "", b"")
        try:
            for num, _wt, val in wire.iter_fields(data):
                if num == 1 and isinstance(val, bytes):
                    obj.encrypted_data = val
                elif num == 2 and isinstance(val, bytes):
                    obj.key_id = val.decode()
                elif num == 3 and isinstance(val, bytes):
                    obj.encrypted_dek_source = val
                elif num == 4 and isinstance(val, bytes):
                    key, value = decode_map(val)  # map<string, bytes> entry
                    obj.annotations[key] = value
                elif num == 5 and isinstance(val, int):
                    obj.encrypted_dek_source_type = val
        except (wire.WireError, UnicodeDecodeError) as exc:
            raise InvalidEncryptedObject(f"failed to unmarshal encrypted object: {exc}") from None
        return obj

    def validate(self) -> None:
        """The checks kube-apiserver applies on every read and write (kmsv2 ValidateEncryptedObject)."""
        if self.encrypted_dek_source_type not in (AES_GCM_KEY, HKDF_SHA256_XNONCE_AES_GCM_SEED):
            raise InvalidEncryptedObject(
                f"unknown encryptedDEKSourceType: {self.encrypted_dek_source_type}"
            )
        if not self.encrypted_data:
            raise InvalidEncryptedObject("encrypted data is empty")
        validate_dek_source(self.encrypted_dek_source)
        validate_key_id(self.key_id)
        validate_annotations(self.annotations)


def validate_dek_source(source: bytes) -> None:
    if not source:
        raise InvalidEncryptedObject("encrypted DEK source is empty")
    if len(source) > MAX_DEK_SOURCE:
        raise InvalidEncryptedObject(
            f"encrypted DEK source is {len(source)} bytes, which exceeds the max size of {MAX_DEK_SOURCE}"
        )


def validate_key_id(key_id: str) -> None:
    if not key_id:
        raise InvalidEncryptedObject("keyID is empty")
    if len(key_id.encode()) > MAX_KEY_ID:
        raise InvalidEncryptedObject(
            f"keyID is {len(key_id)} bytes, which exceeds the max size of {MAX_KEY_ID}"
        )


def validate_annotations(annotations: Mapping[str, bytes]) -> None:
    total = 0
    for k, v in annotations.items():
        if not is_fqdn(k):
            raise InvalidEncryptedObject(
                f'failed to validate annotations: annotations: Invalid value: "{k}": '
                "should be a domain with at least two segments separated by dots"
            )
        total += len(k) + len(v)
    if total > MAX_ANNOTATIONS:
        raise InvalidEncryptedObject(
            f"failed to validate annotations: total size of annotations is {total}, "
            f"it should be less than {MAX_ANNOTATIONS} bytes"
        )
