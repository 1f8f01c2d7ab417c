"""The Sealed Secrets hybrid format, and nothing else (no Kubernetes knowledge, like upstream
``bitnami-labs/sealed-secrets:pkg/crypto/crypto.go``).

One item is ``uint16be(L) || RSA-OAEP-SHA256(session_key, label) || AES-256-GCM(plaintext)``
where L is the RSA block size, the session key is fresh per item and the GCM nonce is all zeros.
The zero nonce is safe only because a session key is never used twice: :func:`hybrid_encrypt`
draws a new one on every call."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.crypto.rand import RandomSource, system_random

SESSION_KEY_SIZE = 32
ZERO_NONCE = bytes(12)
ERR_NO_KEY = "no key could decrypt secret"


class HybridDecryptError(Exception):
    """No key opened the item. The text is upstream's, byte for byte: users search for it."""

    def __init__(self, message: str = ERR_NO_KEY) -> None:
        super().__init__(message)


def _oaep(label: bytes) -> padding.OAEP:
    # cryptography wants None, not b"", for the empty (cluster-wide) label.
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None
    )


def hybrid_encrypt(
    public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes,
    rand: RandomSource = system_random,
) -> bytes:
    session_key = rand(SESSION_KEY_SIZE)
    rsa_block = public_key.encrypt(session_key, _oaep(label))
    sealed = AESGCM(session_key).encrypt(ZERO_NONCE, plaintext, None)
    return struct.pack(">H", len(rsa_block)) + rsa_block + sealed


def hybrid_decrypt(
    private_keys: Iterable[rsa.RSAPrivateKey], ciphertext: bytes, label: bytes
) -> bytes:
    """Tries every key in order; any failure of any kind is ``no key could decrypt secret``."""
    return hybrid_decrypt_index(list(private_keys), ciphertext, label)[0]


def hybrid_decrypt_index(
    private_keys: list[rsa.RSAPrivateKey], ciphertext: bytes, label: bytes
) -> tuple[bytes, int]:
    """:func:`hybrid_decrypt` that also says which key (index) opened the item."""
    if len(ciphertext) < 2:
        raise HybridDecryptError()
    (rsa_len,) = struct.unpack(">H", ciphertext[:2])
    if len(ciphertext) < 2 + rsa_len:
        raise HybridDecryptError()
    rsa_block, sealed = ciphertext[2 : 2 + rsa_len], ciphertext[2 + rsa_len :]
    oaep = _oaep(label)
    for index, key in enumerate(private_keys):
        if (key.key_size + 7) // 8 != rsa_len:
            continue  # an RSA block of another size can never open with this key
        try:
            session_key = key.decrypt(rsa_block, oaep)
            return AESGCM(session_key).decrypt(ZERO_NONCE, sealed, None), index
        except (ValueError, InvalidTag):
            continue
    raise HybridDecryptError()


def b64decode_std(value: str) -> bytes:
    """Go ``base64.StdEncoding``: standard alphabet, mandatory padding, ``\\r``/``\\n`` skipped.

    Errors carry Go's text (``illegal base64 data at input byte N``) because upstream reports it."""
    stripped = value.replace("\r", "").replace("\n", "")
    if "=" not in stripped[:-2]:
        try:
            return base64.b64decode(stripped, validate=True)
        except (binascii.Error, ValueError):
            pass
    offset = _go_b64_error_offset(value)
    if offset is None:
        return base64.b64decode(stripped)
    raise ValueError(f"illegal base64 data at input byte {offset}")


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _go_b64_error_offset(value: str) -> int | None:
    """The offset Go's ``decodeQuantum`` reports for malformed input (src/encoding/base64)."""
    src = value.encode("utf-8", "surrogatepass")
    si = 0
    while si < len(src):
        j = 0
        while j < 4:
            if si == len(src):
                return None if j == 0 else si - j
            ch = src[si]
            si += 1
            if ch in _B64_ALPHABET:
                j += 1
                continue
            if ch in b"\r\n":
                continue
            if ch != ord("=") or j < 2:
                return si - 1
            if j == 2:
                while si < len(src) and src[si] in b"\r\n":
                    si += 1
                if si == len(src):
                    return len(src)
                if src[si] != ord("="):
                    return si - 1
                si += 1
            while si < len(src) and src[si] in b"\r\n":
                si += 1
            return si if si < len(src) else None  # trailing garbage after the padding
    return None


def b64encode_std(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """``SHA256:`` + unpadded base64 of SHA-256 over the SSH wire encoding, as ssh-keygen -l."""
    numbers = public_key.public_numbers()

    def mpint(n: int) -> bytes:
        raw = n.to_bytes((n.bit_length() + 8) // 8, "big") if n else b""
        return struct.pack(">I", len(raw)) + raw

    blob = struct.pack(">I", 7) + b"ssh-rsa" + mpint(numbers.e) + mpint(numbers.n)
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


__all__ = [
    "ERR_NO_KEY",
    "HybridDecryptError",
    "b64decode_std",
    "b64encode_std",
    "fingerprint",
    "hybrid_decrypt",
    "hybrid_decrypt_index",
    "hybrid_encrypt",
]
