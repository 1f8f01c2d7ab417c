"""The ``aws`` backend: ``kubecrypt kms serve --backend aws`` against a real moto KMS server on
loopback, and its wire format checked against aws-encryption-provider's (``"1"`` + the KMS
CiphertextBlob, ``key_id`` = the configured key) by decrypting with boto3 directly."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from moto_kms import Moto

from kubecrypt.errors import ConfigError, DecryptError
from kubecrypt.kms import client
from kubecrypt.kms.backends import create
from kubecrypt.kms.backends.aws import AWSBackend, RateLimiter
from kubecrypt.kms.backends.base import BackendUnavailable, InvalidCiphertext

CTX = {"cluster": "lab", "purpose": "secrets"}


@pytest.fixture
def aws_env(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = moto.env()
    for k in list(os.environ):
        if k.startswith(("AWS_", "BOTO_")):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.mark.slow
def test_aws_plugin_wire_format_and_boto3_interop(moto: Moto, aws_env: dict[str, str],
                                                  start_plugin: Any) -> None:
    # moto's CiphertextBlob starts with the key's UUID in ASCII (AWS's starts with a 0x01 version
    # byte), so a key whose id starts with "1" makes a bare blob look versioned: skip such keys.
    arn = moto.create_key()
    while arn.rsplit("/", 1)[1].startswith("1"):
        arn = moto.create_key()
    p = start_plugin("aws", {"key": arn, "encryption_context": CTX}, env=aws_env)
    v2 = client.GrpcKMSv2(p.endpoint)
    st = v2.status()
    assert (st.healthz, st.key_id) == ("ok", arn)
    dek = os.urandom(32)
    r = v2.encrypt(dek)
    # aws-encryption-provider's layout: b"1" + CiphertextBlob, key_id = key, no annotations.
    assert r.ciphertext[:1] == b"1" and r.key_id == arn and dict(r.annotations) == {}
    kms = moto.client()
    assert kms.decrypt(CiphertextBlob=r.ciphertext[1:], EncryptionContext=CTX)["Plaintext"] == dek
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=r.ciphertext[1:])  # the context is bound in
    # The other way: what aws-encryption-provider stores (made here with boto3) decrypts.
    blob = kms.encrypt(KeyId=arn, Plaintext=b"x" * 32, EncryptionContext=CTX)["CiphertextBlob"]
    assert v2.decrypt(b"1" + blob, "uid", arn, {}) == b"x" * 32
    # v2 insists on the storage version; v1 accepts the bare blob too (as upstream).
    with pytest.raises(DecryptError, match=r"INVALID_ARGUMENT.*storage version"):
        v2.decrypt(blob, "uid", arn, {})
    v1 = client.GrpcKMSv1(p.endpoint)
    c1 = v1.encrypt(b"d" * 32)
    assert c1[:1] == b"1" and v1.decrypt(c1) == b"d" * 32
    assert v1.decrypt(blob) == b"x" * 32


@pytest.mark.slow
def test_aws_plugin_wrong_context_and_key_id_suffix(moto: Moto, aws_env: dict[str, str],
                                                    start_plugin: Any) -> None:
    arn, arn2 = moto.create_key(), moto.create_key()
    a = start_plugin("aws", {"key": arn, "encryption_context": CTX}, env=aws_env, name="a")
    ct = client.GrpcKMSv2(a.endpoint).encrypt(b"k" * 32).ciphertext
    other = start_plugin("aws", {"key": arn, "encryption_context": {"cluster": "prod"}},
                         env=aws_env, name="b")
    with pytest.raises(DecryptError, match=r"INVALID_ARGUMENT.*InvalidCiphertextException"):
        client.GrpcKMSv2(other.endpoint).decrypt(ct, "uid", arn, {})
    # A move to a new key with a generation label: key_id changes, old data still reads.
    moved = start_plugin("aws", {"key": arn2, "encryption_context": CTX,
                                 "key_id_suffix": "gen2"}, env=aws_env, name="c")
    v2 = client.GrpcKMSv2(moved.endpoint)
    assert v2.status().key_id == f"{arn2}#gen2"
    r = v2.encrypt(b"n" * 32)
    assert r.key_id == f"{arn2}#gen2"
    assert moto.client().decrypt(CiphertextBlob=r.ciphertext[1:],
                                 EncryptionContext=CTX)["KeyId"] == arn2
    assert v2.decrypt(ct, "uid", arn, {}) == b"k" * 32


@pytest.mark.slow
def test_aws_config_errors(kubecrypt: Any, socket_dir: str, aws_env: dict[str, str]) -> None:
    cfg = Path(socket_dir, "aws.json")
    sock = os.path.join(socket_dir, "aws.sock")
    arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    cases = [
        ({}, "needs `key`"),
        ({"key": "not-a-key"}, "is not a KMS key ARN"),
        ({"key": arn, "qps": 5}, "`burst` must be at least 1"),
        ({"key": arn, "encryption_context": {"a": 1}}, "must map strings to strings"),
        ({"key": arn, "key_id_suffix": ""}, "`key_id_suffix` must be a non-empty string"),
        ({"key": arn, "colour": "blue"}, "does not accept this configuration"),
    ]
    for config, expect in cases:
        cfg.write_text(json.dumps(config))
        r = kubecrypt("kms", "serve", "--listen", "unix://" + sock, "--backend", "aws",
                      "--backend-config", str(cfg), env=aws_env, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 1 and err.startswith("error: ") and expect in err, err
        assert err.count("\n") == 1 and "Traceback" not in err and not os.path.exists(sock)


@pytest.mark.slow
def test_aws_status_is_a_real_round_trip_cached_30s(moto: Moto, aws_env: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from kubecrypt.kms.backends import _cloud

    arn = moto.create_key()
    b = create("aws", {"key": arn})
    assert isinstance(b, AWSBackend)
    calls: list[str] = []
    real = b._client

    class Counting:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(real, name)

    b._client = Counting()
    now = [1000.0]
    monkeypatch.setattr(_cloud.time, "monotonic", lambda: now[0])
    assert b.status() == arn and calls == ["encrypt", "decrypt"]
    now[0] += 29
    assert b.status() == arn and calls == ["encrypt", "decrypt"]  # cached
    # KMS disappears: the cached "ok" holds until 30 s have passed, then the error is reported.
    dead = create("aws", {"key": arn, "endpoint": "http://127.0.0.1:9", "timeout": 1})
    b._client = dead._client
    assert b.status() == arn
    now[0] += 2
    with pytest.raises(BackendUnavailable, match="not reachable"):
        b.status()
    now[0] += 5
    with pytest.raises(BackendUnavailable):  # the failure is cached too
        b.status()
    with pytest.raises(InvalidCiphertext, match="empty"):
        b.decrypt(b"", arn, {})


def test_aws_rate_limit() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    lim = RateLimiter(qps=2, burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        lim.acquire()
    assert slept == []  # the burst
    lim.acquire()
    lim.acquire()
    assert sum(slept) == pytest.approx(1.0)  # then 2 per second
    with pytest.raises(ConfigError, match="cannot be negative"):
        AWSBackend(key="alias/x", qps=-1)
