"""``kubecrypt kms serve`` with the local backend over a real unix socket."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.errors import DecryptError, EncryptError, KMSUnavailable
from kubecrypt.kms import client, keyring

from .conftest import Plugin


def _secret(ring_path: str, key_id: str) -> bytes:
    doc = json.loads(Path(ring_path).read_text())
    return next(base64.b64decode(k["secret"]) for k in doc["keys"] if k["id"] == key_id)


def test_status_and_socket_mode(local_plugin: Plugin, keyring_path: str) -> None:
    assert stat.S_IMODE(os.stat(local_plugin.path).st_mode) == 0o600
    kms = client.GrpcKMSv2(local_plugin.endpoint)
    st = kms.status()
    assert (st.version, st.healthz) == ("v2", "ok")
    assert st.key_id == keyring.load(keyring_path)[0].primary
    assert client.GrpcKMSv1(local_plugin.endpoint).version() == "v1beta1"


def test_v2_wrap_format_binds_key_id(local_plugin: Plugin, keyring_path: str) -> None:
    kms = client.GrpcKMSv2(local_plugin.endpoint)
    seed = os.urandom(32)
    resp = kms.encrypt(seed, "uid-1")
    assert resp.key_id == kms.status().key_id and dict(resp.annotations) == {}
    key = _secret(keyring_path, resp.key_id)
    # nonce(12) || AES-256-GCM(key, nonce, seed, aad = key_id)
    opened = AESGCM(key).decrypt(resp.ciphertext[:12], resp.ciphertext[12:], resp.key_id.encode())
    assert opened == seed
    assert kms.decrypt(resp.ciphertext, "uid-2", resp.key_id, {}) == seed


def test_v1_wrap_has_empty_aad(local_plugin: Plugin, keyring_path: str) -> None:
    kms = client.GrpcKMSv1(local_plugin.endpoint)
    dek = os.urandom(32)
    cipher = kms.encrypt(dek)
    key = _secret(keyring_path, keyring.load(keyring_path)[0].primary)
    assert AESGCM(key).decrypt(cipher[:12], cipher[12:], None) == dek
    assert kms.decrypt(cipher) == dek


def test_rotation_without_restart(local_plugin: Plugin, keyring_path: str) -> None:
    v2 = client.GrpcKMSv2(local_plugin.endpoint)
    v1 = client.GrpcKMSv1(local_plugin.endpoint)
    old = v2.encrypt(b"a" * 32)
    old_v1 = v1.encrypt(b"b" * 32)
    new_id = keyring.rotate(keyring_path).primary
    assert new_id != old.key_id
    assert v2.status().key_id == new_id  # Status re-reads a changed keyring at once
    time.sleep(1.1)  # encrypt re-checks at most once a second
    new = v2.encrypt(b"c" * 32)
    assert new.key_id == new_id
    assert v2.decrypt(old.ciphertext, "u", old.key_id, {}) == b"a" * 32
    assert v2.decrypt(new.ciphertext, "u", new.key_id, {}) == b"c" * 32
    assert v1.decrypt(old_v1) == b"b" * 32  # v1 decrypt tries each key


def test_errors_are_grpc_statuses_and_server_survives(local_plugin: Plugin) -> None:
    kms = client.GrpcKMSv2(local_plugin.endpoint)
    good = kms.encrypt(b"k" * 32)
    with pytest.raises(DecryptError, match=r"NOT_FOUND.*not in keyring"):
        kms.decrypt(good.ciphertext, "u", "no-such-key", {})
    tampered = good.ciphertext[:-1] + bytes([good.ciphertext[-1] ^ 1])
    with pytest.raises(DecryptError, match=r"INVALID_ARGUMENT.*does not authenticate"):
        kms.decrypt(tampered, "u", good.key_id, {})
    with pytest.raises(DecryptError, match="shorter than nonce"):
        kms.decrypt(b"xx", "u", good.key_id, {})
    with pytest.raises(DecryptError, match="key_id is empty"):
        kms.decrypt(good.ciphertext, "u", "", {})
    with pytest.raises(EncryptError, match="plaintext is empty"):
        kms.encrypt(b"")
    with pytest.raises(DecryptError, match="any key"):
        client.GrpcKMSv1(local_plugin.endpoint).decrypt(b"z" * 40)
    # Bytes that are not a protobuf message, and bytes that are not HTTP/2 at all.
    channel = grpc.insecure_channel("unix:" + local_plugin.path)
    raw = channel.unary_unary("/v2.KeyManagementService/Decrypt",
                              request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError):
        raw(b"\xff\xff\xff\xff", timeout=3)
    channel.close()
    s = socket.socket(socket.AF_UNIX)
    s.connect(local_plugin.path)
    s.sendall(b"GET / HTTP/1.1\r\n\r\n" + os.urandom(64))
    s.close()
    assert kms.status().healthz == "ok"
    assert kms.decrypt(good.ciphertext, "u", good.key_id, {}) == b"k" * 32


def test_sigterm_removes_socket(local_plugin: Plugin) -> None:
    assert os.path.exists(local_plugin.path)
    assert local_plugin.terminate() == 0
    assert not os.path.exists(local_plugin.path)


def test_stale_socket_is_replaced(start_plugin: Any, keyring_path: str, socket_dir: str) -> None:
    path = os.path.join(socket_dir, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # leaves a socket file nobody listens on, as after a crash
    p = start_plugin("local", {"keyring": keyring_path}, path=path)
    assert client.GrpcKMSv2(p.endpoint).status().healthz == "ok"


def test_killed_plugin_restarts_on_its_stale_socket(local_plugin: Plugin) -> None:
    local_plugin.kill()
    assert os.path.exists(local_plugin.path)  # SIGKILL leaves the file behind
    local_plugin.restart()
    assert client.GrpcKMSv2(local_plugin.endpoint).status().healthz == "ok"


def test_refuses_live_socket_and_non_socket(local_plugin: Plugin, keyring_path: str,
                                            socket_dir: str, kubecrypt: Any) -> None:
    cfg = os.path.join(socket_dir, "b.yaml")
    Path(cfg).write_text(f"keyring: {keyring_path}\n")
    r = kubecrypt("kms", "serve", "--listen", local_plugin.endpoint, "--backend", "local",
                  "--backend-config", cfg, timeout=30)
    assert r.returncode == 1
    assert b"another process is already serving" in r.stderr
    assert client.GrpcKMSv2(local_plugin.endpoint).status().healthz == "ok"
    regular = os.path.join(socket_dir, "file.sock")
    Path(regular).write_text("keep me")
    r = kubecrypt("kms", "serve", "--listen", "unix://" + regular, "--backend", "local",
                  "--backend-config", cfg, timeout=30)
    assert r.returncode == 1 and b"is not a socket" in r.stderr
    assert Path(regular).read_text() == "keep me"


def test_abstract_socket(start_plugin: Any, keyring_path: str) -> None:
    name = f"@kubecrypt-test-{os.getpid()}-{time.monotonic_ns()}"
    p = start_plugin("local", {"keyring": keyring_path}, path=name)
    assert p.endpoint == f"unix:///{name}"
    kms = client.GrpcKMSv2(p.endpoint)
    r = kms.encrypt(b"s" * 32)
    assert kms.decrypt(r.ciphertext, "u", r.key_id, {}) == b"s" * 32


def test_api_v2_only(start_plugin: Any, keyring_path: str) -> None:
    p = start_plugin("local", {"keyring": keyring_path}, api="v2")
    assert client.GrpcKMSv2(p.endpoint).status().healthz == "ok"
    with pytest.raises(KMSUnavailable, match="does not implement Version"):
        client.GrpcKMSv1(p.endpoint).version()


def test_metrics_and_logs_hold_no_secrets(start_plugin: Any, keyring_path: str,
                                          free_port: Any) -> None:
    port = free_port()
    p = start_plugin("local", {"keyring": keyring_path},
                     extra=["--metrics-listen", f"127.0.0.1:{port}", "--log-level", "debug"])
    kms = client.GrpcKMSv2(p.endpoint)
    secret = b"PLAINTEXT-MARKER-" + os.urandom(15).hex().encode()[:15]
    resps = [kms.encrypt(secret) for _ in range(3)]
    kms.decrypt(resps[0].ciphertext, "uid-visible-in-log", resps[0].key_id, {})
    with pytest.raises(DecryptError):
        kms.decrypt(resps[0].ciphertext, "u", "nope", {})
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status == 200 and health.read() == b"ok\n"
    assert 'kubecrypt_kms_calls_total{api="v2",method="Encrypt"} 3.0' in body
    assert 'kubecrypt_kms_calls_total{api="v2",method="Decrypt"} 2.0' in body
    assert 'kubecrypt_kms_errors_total{api="v2",code="NOT_FOUND",method="Decrypt"} 1.0' in body
    assert 'kubecrypt_kms_latency_seconds_count{api="v2",method="Encrypt"} 3.0' in body
    p.terminate()
    log = p.output()
    assert "uid-visible-in-log" in log  # debug logging was on
    ring = json.loads(Path(keyring_path).read_text())
    forbidden = [secret.decode(), base64.b64encode(secret).decode(), secret.hex()]
    for k in ring["keys"]:
        forbidden += [k["secret"], base64.b64decode(k["secret"]).hex()]
    for r in resps:
        forbidden += [base64.b64encode(r.ciphertext).decode(), r.ciphertext.hex()]
    for f in forbidden:
        assert f not in log



@pytest.mark.slow
def test_concurrent_calls_across_a_rotation(local_plugin: Plugin, keyring_path: str) -> None:
    """Threads encrypting and decrypting while the keyring rotates twice: every call succeeds,
    every ciphertext decrypts under the key_id it was returned with."""
    import threading

    kms = client.GrpcKMSv2(local_plugin.endpoint)
    errors: list[BaseException] = []
    seen: set[str] = set()
    stop = time.monotonic() + 4.5

    def worker() -> None:
        try:
            while time.monotonic() < stop:
                seed = os.urandom(32)
                r = kms.encrypt(seed)
                seen.add(r.key_id)
                assert kms.decrypt(r.ciphertext, "u", r.key_id, {}) == seed
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    ids = [keyring.load(keyring_path)[0].primary]
    for _ in range(2):
        time.sleep(1.2)
        ids.append(keyring.rotate(keyring_path).primary)
    for t in threads:
        t.join()
    assert errors == []
    assert seen <= set(ids) and ids[-1] in seen and len(seen) >= 2


def test_missing_keyring_is_unhealthy_not_fatal(start_plugin: Any, keyring_path: str,
                                                free_port: Any) -> None:
    port = free_port()
    p = start_plugin("local", {"keyring": keyring_path},
                     extra=["--metrics-listen", f"127.0.0.1:{port}"])
    kms = client.GrpcKMSv2(p.endpoint)
    p.wait_serving()  # "last known" needs the plugin's first Status done
    saved = Path(keyring_path).read_bytes()
    os.unlink(keyring_path)
    st = kms.status()
    assert st.healthz != "ok" and "unreadable" in st.healthz and st.key_id  # last known key_id
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert info.value.code == 503 and b"unreadable" in info.value.read()
    r = kms.encrypt(b"q" * 32)  # keys already loaded keep working
    assert kms.decrypt(r.ciphertext, "u", r.key_id, {}) == b"q" * 32
    fd = os.open(keyring_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, saved)
    os.close(fd)
    assert kms.status().healthz == "ok"


def test_buggy_custom_backend_is_contained(start_plugin: Any) -> None:
    p = start_plugin("kms_vector_backend:BrokenBackend",
                     {"api": "v2", "keks_b64": {"k": "B" * 43 + "="}, "status_key_id": "k"})
    kms = client.GrpcKMSv2(p.endpoint)
    r = kms.encrypt(b"w" * 32)
    with pytest.raises(DecryptError, match=r"INTERNAL.*failed unexpectedly \(RuntimeError\)"):
        kms.decrypt(r.ciphertext, "u", "k", {})
    assert kms.status().healthz == "ok"
    p.terminate()
    assert "backend raised RuntimeError" in p.output()
    assert r.ciphertext.hex() not in p.output()
