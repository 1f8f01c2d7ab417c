"""The value cipher: ``ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]`` (sops aes/cipher.go).

AES-256-GCM with a 32-byte IV on write (GCM GHASHes a long nonce into its counter); any IV length
is accepted on read, as sops takes the nonce size from the decoded IV."""

from __future__ import annotations

import base64
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.crypto.rand import RandomSource, system_random
from kubecrypt.sops.values import decode_value, encode_value

IV_SIZE = 32
TAG_SIZE = 16

# sops' own pattern: only the start is anchored and the groups are greedy.
_ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]", re.S)


class CipherError(Exception):
    """A value could not be opened; ``str()`` is sops' wording."""


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith("ENC[AES256_GCM,data:")


class Cipher:
    """Encrypts and decrypts values under one data key. ``stash`` maps (plaintext, AAD, type) to
    the IV a value had when it was decrypted, so an unchanged value is re-sealed to the very same
    ciphertext (sops' IV reuse on edit/set, which keeps Git diffs small)."""

    def __init__(self, data_key: bytes, rand: RandomSource = system_random) -> None:
        if len(data_key) != 32:
            raise CipherError(f"data key must be 32 bytes, got {len(data_key)}")
        self._aead = AESGCM(data_key)
        self._rand = rand
        self.stash: dict[tuple[bytes, str, str], bytes] = {}
        self.use_stash = False

    def encrypt(self, value: object, aad: str) -> str:
        plain, vtype = encode_value(value)
        iv = None
        if self.use_stash:
            iv = self.stash.get((plain, aad, vtype))
        if iv is None:
            iv = self._rand(IV_SIZE)
        sealed = self._aead.encrypt(iv, plain, aad.encode("utf-8", "surrogateescape"))
        b64 = base64.b64encode
        return (f"ENC[AES256_GCM,data:{b64(sealed[:-TAG_SIZE]).decode()},iv:{b64(iv).decode()},"
                f"tag:{b64(sealed[-TAG_SIZE:]).decode()},type:{vtype}]")

    def decrypt(self, text: str, aad: str) -> object:
        m = _ENC_RE.match(text)
        if not m:
            raise CipherError(f"Input string {text} does not match sops' data format")
        try:
            data = base64.b64decode(m.group(1), validate=True)
            iv = base64.b64decode(m.group(2), validate=True)
            tag = base64.b64decode(m.group(3), validate=True)
        except ValueError as exc:
            raise CipherError(f"Error base64-decoding value: {exc}") from None
        vtype = m.group(4)
        if not iv:
            raise CipherError("Could not decrypt with AES_GCM: cipher: empty nonce")
        try:
            plain = self._aead.decrypt(iv, data + tag, aad.encode("utf-8", "surrogateescape"))
        except (InvalidTag, ValueError):
            raise CipherError(
                "Could not decrypt with AES_GCM: cipher: message authentication failed") from None
        if self.use_stash:
            self.stash[(plain, aad, vtype)] = iv
        try:
            return decode_value(plain, vtype)
        except ValueError as exc:
            raise CipherError(f"Could not decode value: {exc}") from None
