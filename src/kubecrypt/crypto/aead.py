"""AES-GCM, AES-CBC with PKCS#7, XSalsa20-Poly1305 and HKDF-Expand, from OpenSSL and libsodium.

Errors are raised as :class:`CryptoError` with the same wording kube-apiserver uses, because
operators search for those strings."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16
AES_BLOCK_SIZE = 16
SECRETBOX_NONCE_SIZE = 24
SECRETBOX_OVERHEAD = 16

ERR_SHORT = "the stored data was shorter than the required size"
ERR_AUTH = "cipher: message authentication failed"


class CryptoError(Exception):
    """A primitive refused its input (authentication failure, bad length, bad padding)."""


def gcm_seal(key: bytes | AESGCM, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Returns ``ciphertext || tag`` (Go's ``cipher.AEAD.Seal`` layout)."""
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    return aead.encrypt(nonce, plaintext, aad or None)


def gcm_open(key: bytes | AESGCM, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        return aead.decrypt(nonce, sealed, aad or None)
    except InvalidTag:
        raise CryptoError(ERR_AUTH) from None
    except ValueError as exc:  # e.g. nonce of an unsupported length
        raise CryptoError(str(exc)) from None


def gcm_open_prefixed(key: bytes | AESGCM, data: bytes, aad: bytes) -> bytes:
    """Opens ``nonce(12) || ciphertext || tag``."""
    if len(data) < GCM_NONCE_SIZE:
        raise CryptoError(ERR_SHORT)
    return gcm_open(key, data[:GCM_NONCE_SIZE], data[GCM_NONCE_SIZE:], aad)


def cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """Returns ``iv || AES-CBC(plaintext || PKCS#7)``; padding is always added (1..16 bytes)."""
    pad = AES_BLOCK_SIZE - len(plaintext) % AES_BLOCK_SIZE
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(plaintext + bytes([pad]) * pad) + enc.finalize()


def cbc_decrypt(key: bytes, data: bytes) -> bytes:
    """Opens ``iv || ciphertext`` with kube-apiserver's checks, in its order.

    Unlike upstream (which indexes past the end and panics), a value that is only an IV
    is reported as invalid padding."""
    if len(data) < AES_BLOCK_SIZE:
        raise CryptoError(ERR_SHORT)
    iv, body = data[:AES_BLOCK_SIZE], data[AES_BLOCK_SIZE:]
    if len(body) % AES_BLOCK_SIZE != 0:
        raise CryptoError("the stored data is not a multiple of the block size")
    if not body:
        raise CryptoError("invalid PKCS7 data (empty or not padded)")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    out = dec.update(body) + dec.finalize()
    pad = out[-1]
    if pad == 0 or pad > len(out):
        raise CryptoError("invalid PKCS7 data (empty or not padded)")
    if out[-pad:] != bytes([pad]) * pad:
        raise CryptoError("invalid padding on input")
    return out[:-pad]


def secretbox_seal(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """Returns NaCl's box (``tag(16) || ciphertext``) without the nonce."""
    from nacl.secret import SecretBox  # imported lazily: libsodium is only needed here

    return SecretBox(key).encrypt(plaintext, nonce).ciphertext


def secretbox_open(key: bytes, data: bytes) -> bytes:
    """Opens ``nonce(24) || box``."""
    from nacl.exceptions import CryptoError as NaclError
    from nacl.secret import SecretBox

    if len(data) < SECRETBOX_NONCE_SIZE + SECRETBOX_OVERHEAD:
        raise CryptoError(ERR_SHORT)
    try:
        return SecretBox(key).decrypt(data[SECRETBOX_NONCE_SIZE:], data[:SECRETBOX_NONCE_SIZE])
    except NaclError:
        # kube-apiserver's wording for a failed open, misleading as it is.
        raise CryptoError("output array was not large enough for encryption") from None


def hkdf_expand_sha256(prk: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-Expand only (no extract step), as KMS v2 seed mode derives its per-write key."""
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=info).derive(prk)
