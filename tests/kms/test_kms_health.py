"""The cached round-trip health check the aws, gcp and azure backends share (backends/_cloud.py)."""

from __future__ import annotations

import pytest

from kubecrypt.kms.backends import _cloud
from kubecrypt.kms.backends.base import Annotations, Backend, BackendError


class Flaky(Backend):
    name = "flaky"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.garble = False

    def status(self) -> str:
        return "k"

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        self.calls.append("encrypt")
        return plaintext[::-1], "k1", {}

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        self.calls.append(f"decrypt {key_id}")
        return b"garbage" if self.garble else ciphertext[::-1]


def test_round_trip_uses_the_returned_key_id_and_names_the_service(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(_cloud.time, "monotonic", lambda: now[0])
    b = Flaky()
    health = _cloud.HealthCache(b, "Test KMS")
    health.check()
    assert b.calls == ["encrypt", "decrypt k1"]
    b.garble = True
    now[0] += 29.9
    health.check()  # still the cached success
    assert len(b.calls) == 2
    now[0] += 0.1
    with pytest.raises(BackendError,
                       match=r"^the Test KMS health check round trip returned other bytes$"):
        health.check()
    b.garble = False
    with pytest.raises(BackendError):  # the failure is cached too
        health.check()
    assert len(b.calls) == 4
