"""Application-level envelope encryption: a fresh data key (DEK) per message, wrapped by any
running KMS plugin, for applications that encrypt before they store.

Format version 1 (all integers big-endian)::

    magic        4   "KCE" 0x01            (format name and version)
    api          1   2 = KMS v2, 1 = KMS v1
    key_id       2+n uint16 length, UTF-8  (empty for v1)
    wrapped_dek  2+n uint16 length, bytes  the plugin's ciphertext of the 32-byte DEK
    annotations  2   uint16 count, then per entry (sorted by key):
                     uint16 length + key (UTF-8), uint16 length + value
    nonce        12  random
    sealed       *   AES-256-GCM(DEK, nonce, plaintext, aad = every byte above || context)

The header is authenticated (it is part of the AAD), so a key_id or annotation cannot be swapped
without the decryption failing. ``context`` is optional caller-chosen associated data (for
example a record id) that must be given again to decrypt."""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.errors import DecryptError, EncryptError, InputError
from kubecrypt.kms.service import KMSv1Service, KMSv2Service

MAGIC = b"KCE\x01"
API_V2 = 2
API_V1 = 1
DEK_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


@dataclass(frozen=True)
class Header:
    api: int
    key_id: str
    wrapped_dek: bytes = field(repr=False)
    annotations: Mapping[str, bytes]
    raw: bytes = field(repr=False)  # the encoded header, i.e. the AAD prefix


def _u16(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise EncryptError(f"envelope field of {len(data)} bytes does not fit the format")
    return struct.pack(">H", len(data)) + data


def encode_header(api: int, key_id: str, wrapped_dek: bytes,
                  annotations: Mapping[str, bytes]) -> bytes:
    parts = [MAGIC, bytes([api]), _u16(key_id.encode()), _u16(wrapped_dek),
             struct.pack(">H", len(annotations))]
    for k in sorted(annotations):
        parts += [_u16(k.encode()), _u16(bytes(annotations[k]))]
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise InputError("envelope is truncated: the input ends inside its header")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> bytes:
        (n,) = struct.unpack(">H", self.take(2))
        return self.take(n)


def parse_header(blob: bytes) -> Header:
    if not blob.startswith(MAGIC[:3]):
        raise InputError("input is not a kubecrypt envelope (it does not start with \"KCE\")")
    if blob[3:4] != MAGIC[3:]:
        raise InputError(f"envelope format version {blob[3] if len(blob) > 3 else '?'} is not "
                         "supported by this kubecrypt (it reads version 1)")
    r = _Reader(blob)
    r.take(len(MAGIC))
    api = r.take(1)[0]
    if api not in (API_V1, API_V2):
        raise InputError(f"envelope names an unknown KMS API ({api})")
    try:
        key_id = r.u16().decode()
        wrapped = r.u16()
        (count,) = struct.unpack(">H", r.take(2))
        annotations = {r.u16().decode(): r.u16() for _ in range(count)}
    except UnicodeDecodeError:
        raise InputError(
            "envelope header is corrupt (a key_id or annotation is not UTF-8)"
        ) from None
    if not wrapped:
        raise InputError("envelope header is corrupt (the wrapped DEK is empty)")
    return Header(api, key_id, wrapped, annotations, blob[:r.pos])


def _is_v2(service: KMSv2Service | KMSv1Service) -> bool:
    return hasattr(service, "status")


def encrypt(service: KMSv2Service | KMSv1Service, plaintext: bytes, context: bytes = b"",
            rand: Callable[[int], bytes] = os.urandom) -> bytes:
    """Encrypts ``plaintext`` under a fresh DEK wrapped by ``service``."""
    dek = rand(DEK_SIZE)
    if _is_v2(service):
        resp = cast(KMSv2Service, service).encrypt(dek, str(uuid.uuid4()))
        if not resp.key_id or not resp.ciphertext:
            raise EncryptError("the KMS plugin returned an empty key_id or ciphertext")
        header = encode_header(API_V2, resp.key_id, resp.ciphertext, resp.annotations)
    else:
        wrapped = cast(KMSv1Service, service).encrypt(dek)
        if not wrapped:
            raise EncryptError("the KMS plugin returned an empty ciphertext")
        header = encode_header(API_V1, "", wrapped, {})
    nonce = rand(NONCE_SIZE)
    return header + nonce + AESGCM(dek).encrypt(nonce, plaintext, header + context)


def decrypt(service: KMSv2Service | KMSv1Service, blob: bytes, context: bytes = b"") -> bytes:
    """Decrypts an envelope made by :func:`encrypt`; the plugin unwraps the DEK."""
    header = parse_header(blob)
    body = blob[len(header.raw):]
    if len(body) < NONCE_SIZE + TAG_SIZE:
        raise InputError("envelope is truncated: the encrypted payload is missing")
    if _is_v2(service) != (header.api == API_V2):
        want = "v2" if header.api == API_V2 else "v1"
        raise InputError(
            f"envelope was made through the KMS {want} API; decrypt it with --api {want}"
        )
    if header.api == API_V2:
        dek = cast(KMSv2Service, service).decrypt(
            header.wrapped_dek, str(uuid.uuid4()), header.key_id, header.annotations)
    else:
        dek = cast(KMSv1Service, service).decrypt(header.wrapped_dek)
    if len(dek) != DEK_SIZE:
        raise DecryptError(f"the KMS plugin returned a {len(dek)}-byte data key, not {DEK_SIZE}")
    nonce, sealed = body[:NONCE_SIZE], body[NONCE_SIZE:]
    try:
        return AESGCM(dek).decrypt(nonce, sealed, header.raw + context)
    except InvalidTag:
        raise DecryptError(
            "envelope does not authenticate: it was modified, or the context differs"
        ) from None
