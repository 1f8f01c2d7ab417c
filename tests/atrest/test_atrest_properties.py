"""Round trips and tamper detection for every provider, over arbitrary data (hypothesis)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecrypt.atrest.config import from_dict
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.errors import DecryptError
from kubecrypt.kms.service import EncryptResponse, StatusResponse


class InProcessKMSv2:
    """An in-process KMS v2 service for property tests (the gRPC plugin has its own tests)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.aead = AESGCM(b"\x07" * 32)

    def status(self) -> StatusResponse:
        return StatusResponse("v2", "ok", "kek-1")

    def encrypt(self, plaintext: bytes, uid: str) -> EncryptResponse:
        return EncryptResponse(
            b"n" * 12 + self.aead.encrypt(b"n" * 12, plaintext, b"kek-1"), "kek-1"
        )

    def decrypt(self, ciphertext: bytes, uid: str, key_id: str, annotations: Any) -> bytes:
        return self.aead.decrypt(ciphertext[:12], ciphertext[12:], key_id.encode())


def chain_for(provider: str) -> Any:
    key = base64.b64encode(b"\x01" * 32).decode()
    body: dict[str, Any]
    if provider == "kms":
        body = {"kms": {"apiVersion": "v2", "name": "p", "endpoint": "unix:///x.sock"}}
    elif provider == "identity":
        body = {"identity": {}}
    else:
        body = {provider: {"keys": [{"name": "k", "secret": key}]}}
    doc = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [body]}],
    }
    return TransformerSet(from_dict(doc), kms_factory=lambda cfg: InProcessKMSv2()).for_resource(
        "secrets"
    )


PROVIDERS = ["aesgcm", "aescbc", "secretbox", "kms"]
CHAINS = {p: chain_for(p) for p in PROVIDERS}


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2048), key=st.text(min_size=1, max_size=40))
def test_round_trip(provider: str, data: bytes, key: str) -> None:
    chain = CHAINS[provider]
    stored = chain.encrypt(data, key.encode())
    assert stored.startswith(b"k8s:enc:")
    result = chain.decrypt(stored, key.encode())
    assert result.plaintext == data and result.stale is False and result.provider == provider


@pytest.mark.parametrize("provider", ["aesgcm", "secretbox", "kms"])
@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=512), where=st.integers(min_value=0), bit=st.integers(0, 7)
)
def test_any_tampering_is_detected(provider: str, data: bytes, where: int, bit: int) -> None:
    chain = CHAINS[provider]
    stored = bytearray(chain.encrypt(data, b"/registry/secrets/a/b"))
    body_start = len(chain.writer.prefix) + (2 if provider != "kms" else 0)
    i = body_start + where % (len(stored) - body_start)
    stored[i] ^= 1 << bit
    try:
        result = chain.decrypt(bytes(stored), b"/registry/secrets/a/b")
    except DecryptError:
        return  # detected
    pytest.fail(f"{provider}: flipping bit {bit} of byte {i} went undetected (decrypted "
                f"{'the same' if result.plaintext == data else 'other'} plaintext)")


@pytest.mark.parametrize("provider", ["aesgcm", "kms"])
def test_value_is_bound_to_its_etcd_key(provider: str) -> None:
    chain = CHAINS[provider]
    stored = chain.encrypt(b"k8s\x00data", b"/registry/secrets/a/b")
    with pytest.raises(DecryptError, match="message authentication failed"):
        chain.decrypt(stored, b"/registry/secrets/a/c")


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"k8s:enc:aescbc:v1:k:",
        b"k8s:enc:aescbc:v1:k:" + b"\0" * 16,
        b"k8s:enc:aesgcm:v1:k:abc",
        b"k8s:enc:secretbox:v1:k:" + b"\0" * 39,
        b"k8s:enc:kms:v2:p:",
        b"k8s:enc:kms:v2:p:\xff\xff\xff",
        b"k8s:enc:other:v1:zz",
    ],
)
def test_malformed_values_fail_cleanly(value: bytes) -> None:
    for chain in CHAINS.values():
        with pytest.raises(DecryptError):
            chain.decrypt(value, b"/registry/secrets/a/b")


def test_identity_never_reads_encrypted_bytes() -> None:
    chain = chain_for("identity")
    with pytest.raises(DecryptError, match="no matching prefix found"):
        chain.decrypt(b"k8s:enc:aesgcm:v1:k:whatever", b"k")
    assert chain.decrypt(b"k8s\x00plain", b"k").plaintext == b"k8s\x00plain"
