"""The hybrid format against upstream's vectors, plus round-trip and tampering properties."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubecrypt.crypto.rand import ScriptedRandom
from kubecrypt.sealed.crypto import (
    ERR_NO_KEY,
    HybridDecryptError,
    b64decode_std,
    fingerprint,
    hybrid_decrypt,
    hybrid_encrypt,
)
from kubecrypt.sealed.scope import Scope, label

b64 = base64.b64decode
FIXTURES = [HealthCheck.function_scoped_fixture]


def _label(side: dict[str, Any]) -> bytes:
    derived = label(Scope.parse(side["scope"]), side["namespace"], side["name"])
    assert derived == b64(side["label_b64"]), "our label differs from upstream's"
    return derived


Keys = dict[str, rsa.RSAPrivateKey]


def test_hybrid_vector_decrypts(hybrid_vector: dict[str, Any], vector_keys: Keys):
    v = hybrid_vector
    ciphertext = b64decode_std(v["ciphertext_b64"])
    assert struct.unpack(">H", ciphertext[:2])[0] == v["rsa_ciphertext_len"]
    keys = [vector_keys[k] for k in v["decrypt"]["keys"]]
    plaintext = hybrid_decrypt(keys, ciphertext, _label(v["decrypt"]))
    assert plaintext == b64(v["expect"]["plaintext_b64"])


def test_hybrid_vector_encrypts_same_aes_part(hybrid_vector: dict[str, Any], vector_keys: Keys):
    """With upstream's session key our AES part is byte-identical, and our RSA block opens."""
    v = hybrid_vector
    key = vector_keys[v["encrypt"]["key"]]
    session_key = b64(v["session_key_b64"])
    plaintext = b64(v["encrypt"]["plaintext_b64"])
    lab = _label(v["encrypt"])
    ours = hybrid_encrypt(key.public_key(), plaintext, lab, ScriptedRandom([session_key]))
    theirs = b64decode_std(v["ciphertext_b64"])
    rsa_len = v["rsa_ciphertext_len"]
    assert ours[:2] == theirs[:2]
    assert ours[2 + rsa_len :] == theirs[2 + rsa_len :]
    assert ours[2 + rsa_len :] == AESGCM(session_key).encrypt(bytes(12), plaintext, None)
    assert hybrid_decrypt([key], ours, lab) == plaintext


def test_hybrid_vector_fingerprint(hybrid_vector: dict[str, Any], vector_keys: Keys):
    key = vector_keys[hybrid_vector["encrypt"]["key"]]
    assert fingerprint(key.public_key()) == hybrid_vector["encrypt"]["fingerprint"]


def test_hybrid_negative_vector(negative_vector: dict[str, Any], vector_keys: Keys):
    v = negative_vector
    ciphertext = b64decode_std(v["ciphertext_b64"])
    keys = [vector_keys[k] for k in v["decrypt"]["keys"]]
    with pytest.raises(HybridDecryptError) as err:
        hybrid_decrypt(keys, ciphertext, _label(v["decrypt"]))
    assert str(err.value) == v["expect"]["error"] == ERR_NO_KEY


def test_every_manifest_fingerprint(key_manifest, vector_keys):
    for key_id, entry in key_manifest.items():
        assert fingerprint(vector_keys[key_id].public_key()) == entry["fingerprint"]


def test_labels_per_scope():
    assert label(Scope.STRICT, "ns", "name") == b"ns/name"
    assert label(Scope.NAMESPACE_WIDE, "ns", "name") == b"ns"
    assert label(Scope.CLUSTER_WIDE, "ns", "name") == b""


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("not*base64", "illegal base64 data at input byte 3"),
        ("YWJ", "illegal base64 data at input byte 0"),  # padding is mandatory
        ("YW=", "illegal base64 data at input byte 3"),
        ("YQ==YQ==", "illegal base64 data at input byte 4"),
        ("YW_j", "illegal base64 data at input byte 2"),  # URL-safe alphabet refused
        ("YW J", "illegal base64 data at input byte 2"),  # whitespace other than CR/LF refused
    ],
)
def test_base64_is_go_std_encoding(value: str, error: str):
    with pytest.raises(ValueError, match=f"^{error}$"):
        b64decode_std(value)


def test_base64_skips_line_breaks():
    assert b64decode_std("YWJj\r\nZA==\n") == b"abcd"


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(plaintext=st.binary(max_size=300), lab=st.binary(max_size=40))
def test_roundtrip_property(generated_keys, plaintext: bytes, lab: bytes):
    key = generated_keys[2048].private_key
    assert hybrid_decrypt([key], hybrid_encrypt(key.public_key(), plaintext, lab), lab) == plaintext


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.data())
def test_any_tampering_is_detected(generated_keys, data: st.DataObject):
    key = generated_keys[2048].private_key
    ciphertext = bytearray(hybrid_encrypt(key.public_key(), b"s3cr3t value", b"ns/name"))
    how = data.draw(st.sampled_from(["flip", "truncate", "append"]))
    if how == "flip":
        pos = data.draw(st.integers(0, len(ciphertext) - 1))
        ciphertext[pos] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        del ciphertext[data.draw(st.integers(0, len(ciphertext) - 1)) :]
    else:
        ciphertext += data.draw(st.binary(min_size=1, max_size=8))
    with pytest.raises(HybridDecryptError, match=f"^{ERR_NO_KEY}$"):
        hybrid_decrypt([key], bytes(ciphertext), b"ns/name")


def test_session_key_is_fresh_per_item(generated_keys):
    key = generated_keys[2048].private_key
    a = hybrid_encrypt(key.public_key(), b"same", b"l")
    b = hybrid_encrypt(key.public_key(), b"same", b"l")
    assert a[2 + 256 :] != b[2 + 256 :]
