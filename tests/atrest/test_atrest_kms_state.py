"""The KMS v2 provider's state machine, with an in-process service and a controllable clock."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.atrest.chain import PrefixChain
from kubecrypt.atrest.providers.kms_v2 import KMSv2Provider
from kubecrypt.errors import DecryptError, KMSUnavailable
from kubecrypt.kms.service import EncryptResponse, StatusResponse

AAD = b"/registry/secrets/default/db"


class Plugin:
    def __init__(self) -> None:
        self.keks = {"k1": AESGCM(b"\x01" * 32)}
        self.key_id = "k1"
        self.up = True
        self.calls: list[str] = []

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if not self.up:
            raise ConnectionError("plugin socket refused the connection")

    def status(self) -> StatusResponse:
        self._check("status")
        return StatusResponse("v2", "ok", self.key_id)

    def encrypt(self, plaintext: bytes, uid: str) -> EncryptResponse:
        self._check("encrypt")
        assert uid
        ct = self.keks[self.key_id].encrypt(b"\0" * 12, plaintext, self.key_id.encode())
        return EncryptResponse(b"\0" * 12 + ct, self.key_id, {"version.kms.example.com": b"1"})

    def decrypt(self, ciphertext: bytes, uid: str, key_id: str, annotations: Any) -> bytes:
        self._check("decrypt")
        return self.keks[key_id].decrypt(ciphertext[:12], ciphertext[12:], key_id.encode())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup() -> tuple[Plugin, Clock, PrefixChain]:
    plugin, clock = Plugin(), Clock()
    return plugin, clock, PrefixChain([KMSv2Provider("p", plugin, clock=clock)])


def test_one_encrypt_per_seed_and_no_decrypt_for_own_writes(setup: Any) -> None:
    plugin, _clock, chain = setup
    values = [chain.encrypt(b"x%d" % i, AAD) for i in range(20)]
    assert plugin.calls == ["status", "encrypt"]
    assert [chain.decrypt(v, AAD).plaintext for v in values] == [b"x%d" % i for i in range(20)]
    assert "decrypt" not in plugin.calls


def test_key_id_rotation_new_seed_old_values_stale(setup: Any) -> None:
    plugin, clock, chain = setup
    old = chain.encrypt(b"old", AAD)
    plugin.keks["k2"] = AESGCM(b"\x02" * 32)
    plugin.key_id = "k2"
    clock.now += 61  # next Status poll
    new = chain.encrypt(b"new", AAD)
    assert plugin.calls.count("encrypt") == 2
    r_old, r_new = chain.decrypt(old, AAD), chain.decrypt(new, AAD)
    assert (r_old.key_id, r_old.stale) == ("k1", True)
    assert (r_new.key_id, r_new.stale) == ("k2", False)


def test_plugin_down_reads_cached_writes_fail_closed_then_recover(setup: Any) -> None:
    plugin, clock, chain = setup
    value = chain.encrypt(b"v", AAD)
    plugin.up = False
    clock.now += 61
    assert chain.decrypt(value, AAD).plaintext == b"v"  # cached seed, no plugin needed
    assert chain.encrypt(b"w", AAD)  # state not yet expired: writes continue
    clock.now += 200
    with pytest.raises(KMSUnavailable, match="expired"):
        chain.encrypt(b"w", AAD)
    assert chain.decrypt(value, AAD).plaintext == b"v"
    plugin.up = True
    clock.now += 11  # unhealthy poll interval
    assert chain.decrypt(chain.encrypt(b"again", AAD), AAD).plaintext == b"again"


def test_not_ready_until_first_status(setup: Any) -> None:
    plugin, _clock, chain = setup
    plugin.up = False
    with pytest.raises(KMSUnavailable, match="not ready"):
        chain.encrypt(b"x", AAD)
    with pytest.raises(DecryptError, match="not ready"):
        chain.decrypt(b"k8s:enc:kms:v2:p:\x0a\x01x", AAD)


def test_encrypt_key_id_must_match_status(setup: Any) -> None:
    plugin, _clock, chain = setup
    plugin.encrypt = lambda pt, uid: EncryptResponse(b"c", "other")  # type: ignore[method-assign]
    with pytest.raises(KMSUnavailable, match="Status reported"):
        chain.encrypt(b"x", AAD)


def test_unknown_key_id_is_a_clean_read_error(setup: Any) -> None:
    plugin, clock, chain = setup
    value = chain.encrypt(b"v", AAD)
    other = PrefixChain([KMSv2Provider("p", Plugin(), clock=clock)])
    plugin.keks.clear()
    fresh = PrefixChain([KMSv2Provider("p", plugin, clock=clock)])
    plugin.keks["k1"] = AESGCM(b"\x09" * 32)  # a different KEK under the same id
    with pytest.raises(DecryptError, match="failed to decrypt DEK"):
        fresh.decrypt(value, AAD)
    assert other.decrypt(value, AAD).plaintext == b"v"


def test_closing_the_transformers_closes_the_plugin_connections() -> None:
    from kubecrypt.atrest.config import from_dict
    from kubecrypt.atrest.transformers import TransformerSet

    closed: list[str] = []

    class Closable(Plugin):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def version(self) -> str:
            return "v1beta1"

        def close(self) -> None:
            closed.append(self.name)

    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": ["secrets"], "providers": [
               {"kms": {"apiVersion": "v2", "name": "a", "endpoint": "unix:///a.sock"}},
               {"kms": {"apiVersion": "v1", "name": "b", "endpoint": "unix:///b.sock"}}]}]}
    ts = TransformerSet(from_dict(doc), kms_factory=lambda cfg: Closable(cfg.name))
    ts.for_resource("secrets")
    ts.close()
    assert sorted(closed) == ["a", "b"]
