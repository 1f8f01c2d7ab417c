"""What the ``kms`` at-rest providers need from a KMS plugin, independent of transport.

The gRPC client (``kms.client``) implements these protocols over a unix socket; tests may hand
in an in-process object instead. Messages mirror kubernetes/kms apis/v2 and apis/v1beta1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class StatusResponse:
    version: str
    healthz: str
    key_id: str


@dataclass(frozen=True)
class EncryptResponse:
    ciphertext: bytes = field(repr=False)
    key_id: str
    annotations: Mapping[str, bytes] = field(default_factory=dict)


class KMSv2Service(Protocol):
    def status(self) -> StatusResponse: ...

    def encrypt(self, plaintext: bytes, uid: str) -> EncryptResponse: ...

    def decrypt(
        self, ciphertext: bytes, uid: str, key_id: str, annotations: Mapping[str, bytes]
    ) -> bytes: ...


class KMSv1Service(Protocol):
    def version(self) -> str: ...

    def encrypt(self, plain: bytes) -> bytes: ...

    def decrypt(self, cipher: bytes) -> bytes: ...


def close_service(service: object) -> None:
    """Close a service's connection if it has one (the gRPC client does; in-process ones need not)."""
    close = getattr(service, "close", None)
    if callable(close):
        close()
