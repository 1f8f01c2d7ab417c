"""The ``vault`` backend against a real OpenBao dev server (``bao server -dev``) on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
from openbao import dev_server, stop_process

from kubecrypt.errors import DecryptError, EncryptError, KMSUnavailable
from kubecrypt.kms import client
from kubecrypt.lab.processes import free_port

ROOT_TOKEN = "kubecrypt-test-root"
BAO_PIDS: dict[str, int] = {}  # address -> pid, for tests that stop the server
POLICY = """
path "transit/encrypt/kek" { capabilities = ["update"] }
path "transit/decrypt/kek" { capabilities = ["update"] }
path "transit/keys/kek" { capabilities = ["read"] }
"""


@pytest.fixture(scope="module")
def bao() -> Iterator[str]:
    with dev_server(ROOT_TOKEN) as (addr, proc):
        root = hvac.Client(url=addr, token=ROOT_TOKEN, timeout=2)
        root.sys.enable_secrets_engine("transit", path="transit")
        root.secrets.transit.create_key(name="kek", key_type="aes256-gcm96")
        root.sys.create_or_update_policy(name="kms-plugin", policy=POLICY)
        BAO_PIDS[addr] = proc.pid
        yield addr


def _token(addr: str, ttl: str = "1h") -> str:
    root = hvac.Client(url=addr, token=ROOT_TOKEN)
    return str(root.auth.token.create(policies=["kms-plugin"], ttl=ttl,
                                      no_default_policy=True)["auth"]["client_token"])


def _rotate(addr: str) -> int:
    root = hvac.Client(url=addr, token=ROOT_TOKEN)
    root.secrets.transit.rotate_key(name="kek")
    return int(root.secrets.transit.read_key(name="kek")["data"]["latest_version"])


@pytest.mark.slow
def test_vault_round_trip_and_rotation(bao: str, start_plugin: Any, socket_dir: str,
                                       kubecrypt: Any) -> None:
    token_file = Path(socket_dir, "token")
    token_file.write_text(_token(bao))
    p = start_plugin("vault", {"address": bao, "key_name": "kek", "token_file": str(token_file)})
    v2 = client.GrpcKMSv2(p.endpoint)
    st = v2.status()
    version = int(st.key_id.rsplit(":v", 1)[1])
    assert st.healthz == "ok" and st.key_id == f"transit/kek:v{version}"
    r = v2.encrypt(b"s" * 32)
    assert r.key_id == st.key_id and r.ciphertext.startswith(f"vault:v{version}:".encode())
    assert v2.decrypt(r.ciphertext, "u", r.key_id, {}) == b"s" * 32
    v1 = client.GrpcKMSv1(p.endpoint)
    assert v1.decrypt(v1.encrypt(b"d" * 32)) == b"d" * 32

    # Through the at-rest kms provider: rotate in Vault, old value is stale, new one is not.
    cfg = Path(socket_dir, "enc.yaml")
    cfg.write_text("kind: EncryptionConfiguration\napiVersion: apiserver.config.k8s.io/v1\n"
                   "resources:\n- resources: [secrets]\n  providers:\n"
                   f"  - kms: {{apiVersion: v2, name: vault, endpoint: '{p.endpoint}'}}\n")
    key = "/registry/secrets/default/vaulted"
    old = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", key,
                    input=b"k8s\x00v").stdout
    new_version = _rotate(bao)
    assert v2.status().key_id == f"transit/kek:v{new_version}"
    doc = json.loads(kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", key,
                               "--json", input=old).stdout)
    assert doc["stale"] is True and doc["key_id"] == f"transit/kek:v{version}"
    new = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", key,
                    input=b"k8s\x00v").stdout
    doc = json.loads(kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", key,
                               "--json", input=new).stdout)
    assert doc["stale"] is False and doc["key_id"] == f"transit/kek:v{new_version}"

    # A key_id that does not match the ciphertext's version, and garbage ciphertext.
    with pytest.raises(DecryptError, match="does not match the ciphertext's key version"):
        v2.decrypt(r.ciphertext, "u", f"transit/kek:v{new_version}", {})
    with pytest.raises(DecryptError, match="not a Vault transit ciphertext"):
        v2.decrypt(b"\xff\x00garbage", "u", r.key_id, {})
    with pytest.raises(DecryptError, match="INVALID_ARGUMENT"):
        v2.decrypt(f"vault:v{version}:AAAA".encode(), "u", r.key_id, {})
    assert v2.status().healthz == "ok"


@pytest.mark.slow
def test_vault_token_expiry_and_renewal(bao: str, start_plugin: Any, socket_dir: str) -> None:
    token_file = Path(socket_dir, "token")
    token_file.write_text(_token(bao, ttl="3s"))
    p = start_plugin("vault", {"address": bao, "key_name": "kek", "token_file": str(token_file)})
    v2 = client.GrpcKMSv2(p.endpoint)
    r = v2.encrypt(b"t" * 32)
    time.sleep(3.5)
    st = v2.status()
    assert st.healthz != "ok" and "refused the token" in st.healthz
    assert st.key_id == r.key_id  # the last known key_id is still reported
    with pytest.raises(EncryptError, match=r"PERMISSION_DENIED.*refused the token"):
        v2.encrypt(b"t" * 32)
    # An agent writes a fresh token: the plugin picks it up without a restart.
    token_file.write_text(_token(bao))
    assert v2.status().healthz == "ok"
    assert v2.decrypt(r.ciphertext, "u", r.key_id, {}) == b"t" * 32


@pytest.mark.slow
def test_vault_unreachable(bao: str, start_plugin: Any, socket_dir: str, kubecrypt: Any) -> None:
    cfg = Path(socket_dir, "v.json")
    sock = os.path.join(socket_dir, "v.sock")
    dead = f"http://127.0.0.1:{free_port()}"
    cases = [
        ({"address": dead, "key_name": "kek", "token": "x", "timeout": 1}, "is not reachable"),
        ({"address": bao, "key_name": "kek", "token": "wrong"}, "refused the token"),
        ({"address": bao, "key_name": "absent", "token": ROOT_TOKEN}, "has no transit key"),
        ({"address": bao, "key_name": "kek"}, "exactly one of `token` or `token_file`"),
    ]
    for config, expect in cases:
        cfg.write_text(json.dumps(config))
        r = kubecrypt("kms", "serve", "--listen", "unix://" + sock, "--backend", "vault",
                      "--backend-config", str(cfg), timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 1 and err.startswith("error: ") and expect in err, err
        assert err.count("\n") == 1 and not os.path.exists(sock)

    # Vault goes away while the plugin runs: UNAVAILABLE answers, the socket stays up.
    proxy = _Proxy(bao)
    try:
        p = start_plugin("vault", {"address": proxy.url, "key_name": "kek",
                                   "token": _token(bao), "timeout": 1})
        v2 = client.GrpcKMSv2(p.endpoint)
        r = v2.encrypt(b"u" * 32)
        proxy.stop()
        st = v2.status()
        assert st.healthz != "ok" and "not reachable" in st.healthz
        with pytest.raises(KMSUnavailable, match=r"cannot reach its key store: Vault at .* is not"):
            v2.decrypt(r.ciphertext, "u", r.key_id, {})
        assert p.proc is not None and p.proc.poll() is None
    finally:
        proxy.stop()


@pytest.mark.slow
def test_stopped_vault_status_answers_within_apiserver_deadline(bao: str,
                                                                start_plugin: Any) -> None:
    """A SIGSTOPped Vault accepts connections and never answers; kube-apiserver's default KMS
    timeout is 3 s, and Status must still answer, with healthz giving the reason."""
    p = start_plugin("vault", {"address": bao, "key_name": "kek", "token": _token(bao)})
    v2 = client.GrpcKMSv2(p.endpoint, timeout=3.0)
    assert v2.status().healthz == "ok"
    r = v2.encrypt(b"s" * 32)
    stop_process(BAO_PIDS[bao])
    try:
        t0 = time.monotonic()
        st = v2.status()
        took = time.monotonic() - t0
        assert took < 3.0, took
        assert st.healthz != "ok" and "did not answer Status" in st.healthz
        assert st.key_id == r.key_id
        with pytest.raises(KMSUnavailable, match="did not answer Decrypt"):
            v2.decrypt(r.ciphertext, "u", r.key_id, {})
        t0 = time.monotonic()
        assert v2.status().healthz != "ok" and time.monotonic() - t0 < 3.0
    finally:
        os.kill(BAO_PIDS[bao], signal.SIGCONT)
    deadline = time.monotonic() + 20
    while v2.status().healthz != "ok":
        assert time.monotonic() < deadline, "the plugin did not recover after SIGCONT"
        time.sleep(0.2)
    assert v2.decrypt(r.ciphertext, "u", r.key_id, {}) == b"s" * 32


class _Proxy:
    """A TCP forwarder we can cut, standing in for a network path to Vault that fails."""

    def __init__(self, upstream: str) -> None:
        import threading

        host, port = upstream.rsplit("//", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.running = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(self.upstream)
            self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.running = False
        for s in [self.sock, *self.conns]:
            # shutdown() wakes a thread blocked in accept(); close() alone does not on Linux.
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
