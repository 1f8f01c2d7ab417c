"""What the plugin checks before and after its backend runs: annotation keys kube-apiserver
would reject, oversized requests, huge caller strings in logs, and a hung backend that must not
make Status late or hold every worker."""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from kubecrypt.errors import EncryptError, KMSUnavailable
from kubecrypt.kms import client
from kubecrypt.kms.proto import v1beta1_pb2, v1beta1_pb2_grpc, v2_pb2, v2_pb2_grpc

HERE = Path(__file__).resolve().parent
KEK = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))


@pytest.mark.parametrize(
    "key", ["version", "kms.example.com/version", "Version.kms.example.com", "-a.example.com"]
)
def test_annotation_keys_kube_apiserver_rejects_fail_status_and_encrypt(
        start_plugin: Any, key: str) -> None:
    p = start_plugin("kms_custom_backends:AnnotatingBackend",
                     {"kek_b64": KEK, "annotation_key": key})
    v2 = client.GrpcKMSv2(p.endpoint)
    st = v2.status()
    assert st.healthz != "ok" and f"annotation key {key!r}" in st.healthz, st.healthz
    assert "fully-qualified domain name" in st.healthz and st.key_id == "ann-1"
    with pytest.raises(EncryptError, match=f"INTERNAL.*annotation key {key!r}"):
        v2.encrypt(b"s" * 32)


@pytest.mark.parametrize("key", ["version.kms.example.com", "a.b", "version.kms.example.com."])
def test_valid_annotation_keys_pass(start_plugin: Any, key: str) -> None:
    p = start_plugin("kms_custom_backends:AnnotatingBackend",
                     {"kek_b64": KEK, "annotation_key": key})
    v2 = client.GrpcKMSv2(p.endpoint)
    assert v2.status().healthz == "ok"
    r = v2.encrypt(b"s" * 32)
    assert r.annotations == {key: b"1"}
    assert v2.decrypt(r.ciphertext, "u", r.key_id, r.annotations) == b"s" * 32


@pytest.fixture
def hanging(start_plugin: Any, socket_dir: str) -> tuple[Any, Path, Path]:
    hang = Path(socket_dir, "hang")
    calls = Path(socket_dir, "calls")
    p = start_plugin("kms_custom_backends:HangingBackend",
                     {"kek_b64": KEK, "hang_file": str(hang), "calls_file": str(calls)},
                     extra=["--workers", "2", "--log-level", "debug"])
    return p.wait_serving(), hang, calls


def _raw_v2(endpoint: str) -> tuple[grpc.Channel, Any]:
    ch = grpc.insecure_channel("unix:" + endpoint[len("unix://"):])
    return ch, v2_pb2_grpc.KeyManagementServiceStub(ch)


def test_oversized_requests_are_refused_before_the_backend(hanging: Any) -> None:
    p, _hang, calls = hanging
    ch, stub = _raw_v2(p.endpoint)
    v1 = v1beta1_pb2_grpc.KeyManagementServiceStub(ch)
    before = calls.read_text() if calls.exists() else ""
    mib = b"x" * (1 << 20)
    cases = [
        (stub.Encrypt, v2_pb2.EncryptRequest(plaintext=mib, uid="u"), "plaintext is 1048576"),
        (stub.Decrypt, v2_pb2.DecryptRequest(ciphertext=mib, uid="u", key_id="k"),
         "ciphertext is 1048576"),
        (stub.Decrypt, v2_pb2.DecryptRequest(ciphertext=b"c" * 40, uid="u",
                                             key_id="k" * (1 << 20)), "key_id is 1048576"),
        (stub.Decrypt, v2_pb2.DecryptRequest(ciphertext=b"c" * 40, uid="u", key_id="k",
                                             annotations={"a.example.com": b"v" * 40000}),
         "annotations total"),
        (v1.Encrypt, v1beta1_pb2.EncryptRequest(version="v1beta1", plain=mib), "plain is 1048576"),
        (v1.Decrypt, v1beta1_pb2.DecryptRequest(version="v1beta1", cipher=mib),
         "cipher is 1048576"),
    ]
    for method, req, expect in cases:
        with pytest.raises(grpc.RpcError) as info:
            method(req, timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
        assert expect in info.value.details() and len(info.value.details()) < 300
    assert (calls.read_text() if calls.exists() else "") == before  # the backend never ran
    ch.close()


def test_calls_without_a_deadline_work(local_plugin: Any) -> None:
    """grpcio reports an infinite time remaining when the caller sets no deadline."""
    ch, stub = _raw_v2(local_plugin.endpoint)
    assert stub.Status(v2_pb2.StatusRequest()).healthz == "ok"
    r = stub.Encrypt(v2_pb2.EncryptRequest(plaintext=b"s" * 32, uid="u"))
    assert stub.Decrypt(v2_pb2.DecryptRequest(ciphertext=r.ciphertext, uid="u",
                                              key_id=r.key_id)).plaintext == b"s" * 32
    v1 = v1beta1_pb2_grpc.KeyManagementServiceStub(ch)
    cipher = v1.Encrypt(v1beta1_pb2.EncryptRequest(version="v1beta1", plain=b"d" * 32)).cipher
    assert v1.Decrypt(v1beta1_pb2.DecryptRequest(version="v1beta1", cipher=cipher)).plain == b"d" * 32
    ch.close()


def test_huge_caller_strings_are_not_echoed(start_plugin: Any, keyring_path: str) -> None:
    p = start_plugin("local", {"keyring": keyring_path}, extra=["--log-level", "debug"])
    ch, stub = _raw_v2(p.endpoint)
    big_key = "K" * 1000  # within kube-apiserver's limit, unknown to the keyring
    with pytest.raises(grpc.RpcError) as info:
        stub.Decrypt(v2_pb2.DecryptRequest(ciphertext=b"c" * 40, uid="U" * (1 << 20),
                                           key_id=big_key), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "(1000 chars)" in info.value.details() and big_key not in info.value.details()
    with pytest.raises(grpc.RpcError):
        stub.Decrypt(v2_pb2.DecryptRequest(ciphertext=b"c" * 40, uid="u",
                                           key_id="Q" * (1 << 20)), timeout=5)
    ch.close()
    p.terminate()
    lines = p.output().splitlines()
    assert lines and max(len(line) for line in lines) < 1000
    assert "(1048576 chars)" in p.output()


def test_hung_backend_status_answers_within_the_deadline(hanging: Any) -> None:
    p, hang, _calls = hanging
    v2 = client.GrpcKMSv2(p.endpoint, timeout=3.0)
    assert v2.status().healthz == "ok"
    hang.touch()
    try:
        t0 = time.monotonic()
        st = v2.status()
        took = time.monotonic() - t0
        assert took < 3.0 and st.healthz != "ok", (took, st)
        assert "did not answer Status within" in st.healthz and st.key_id == "plain-1"

        # More hung calls than there are workers: Status still answers in time.
        short = client.GrpcKMSv2(p.endpoint, timeout=1.0)
        errors: list[Exception] = []

        def call() -> None:
            try:
                short.encrypt(b"e" * 32)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(errors) == 8
        # Each gRPC worker gives up just before the caller's deadline; calls queued behind
        # two workers may reach their deadline while waiting for one.
        assert all("did not answer Encrypt" in str(e) or "got no answer within" in str(e)
                   for e in errors), errors
        assert any("did not answer Encrypt" in str(e) for e in errors), errors
        t0 = time.monotonic()
        st = v2.status()
        assert time.monotonic() - t0 < 3.0 and st.healthz != "ok"
    finally:
        hang.unlink()
    deadline = time.monotonic() + 10
    while v2.status().healthz != "ok":
        assert time.monotonic() < deadline, "the plugin did not recover"
        time.sleep(0.1)
    r = v2.encrypt(b"s" * 32)
    assert v2.decrypt(r.ciphertext, "u", r.key_id, {}) == b"s" * 32


def test_hung_v1_decrypt_is_bounded(hanging: Any) -> None:
    p, hang, _calls = hanging
    v1 = client.GrpcKMSv1(p.endpoint, timeout=1.5)
    cipher = v1.encrypt(b"d" * 32)
    hang.touch()
    try:
        t0 = time.monotonic()
        with pytest.raises(KMSUnavailable,
                           match=r"cannot reach its key store.*did not answer Decrypt"):
            v1.decrypt(cipher)
        assert time.monotonic() - t0 < 1.5
    finally:
        hang.unlink()
