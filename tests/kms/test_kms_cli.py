"""``kubecrypt kms`` start-up errors and the keyring commands: one sentence, exit 1, nothing
written."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest


def _serve(kubecrypt: Any, sock: str, *args: str) -> Any:
    return kubecrypt("kms", "serve", "--listen", "unix://" + sock, *args, timeout=60)


def _one_sentence(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.startswith("error: "), text
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--backend", "nope"], "unknown KMS backend 'nope'"),
        (["--backend", "no_such_module_xyz:Cls"], "cannot import module 'no_such_module_xyz'"),
        (["--backend", "json:JSONDecoder"], "has no status(), encrypt(), decrypt() methods"),
        (["--backend", "local"], "local backend needs `keyring: PATH`"),
        (["--backend", "local", "--api", "v3"], "local backend needs"),
    ],
)
def test_bad_backend(kubecrypt: Any, socket_dir: str, args: list[str], expect: str) -> None:
    sock = os.path.join(socket_dir, "s.sock")
    r = _serve(kubecrypt, sock, *args)
    assert r.returncode == 1
    assert expect in _one_sentence(r.stderr)
    assert not os.path.exists(sock)


def test_bad_api_and_listen(kubecrypt: Any, socket_dir: str, keyring_path: str) -> None:
    cfg = Path(socket_dir, "b.json")
    cfg.write_text(json.dumps({"keyring": keyring_path}))
    sock = os.path.join(socket_dir, "s.sock")
    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg), "--api", "v3")
    assert r.returncode == 1 and "choose from v2 and v1" in _one_sentence(r.stderr)
    r = kubecrypt("kms", "serve", "--listen", "tcp://127.0.0.1:1", "--backend", "local",
                  "--backend-config", str(cfg))
    assert r.returncode == 1 and "only unix is supported" in _one_sentence(r.stderr)
    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg),
               "--metrics-listen", "nonsense")
    assert r.returncode == 1 and "HOST:PORT" in _one_sentence(r.stderr)
    assert not os.path.exists(sock)


@pytest.mark.slow
def test_keyring_problems(kubecrypt: Any, socket_dir: str, keyring_path: str) -> None:
    sock = os.path.join(socket_dir, "s.sock")
    cfg = Path(socket_dir, "b.yaml")

    cfg.write_text(f"keyring: {keyring_path}.missing\n")
    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg))
    assert "does not exist" in _one_sentence(r.stderr) and r.returncode == 1

    os.chmod(keyring_path, 0o644)
    cfg.write_text(f"keyring: {keyring_path}\n")
    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg))
    assert "accessible by other users (mode 0644)" in _one_sentence(r.stderr)
    os.chmod(keyring_path, 0o600)

    bad = Path(socket_dir, "bad-ring.json")
    bad.write_text('{"primary": "x", "keys": [{"id": "x", "secret": "c2hvcnQ="}]}')
    os.chmod(bad, 0o600)
    cfg.write_text(f"keyring: {bad}\n")
    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg))
    assert "must be 32 bytes, not 5" in _one_sentence(r.stderr)

    cfg.write_text(f"keyring: {keyring_path}\nextra: 1\n")
    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg))
    assert "unknown option(s) extra" in _one_sentence(r.stderr)

    cfg.write_text("[not, a, mapping]\n")
    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg))
    assert "must be a mapping" in _one_sentence(r.stderr)

    r = _serve(kubecrypt, sock, "--backend", "local", "--backend-config", str(cfg) + ".nope")
    assert "cannot read backend config" in _one_sentence(r.stderr)
    assert not os.path.exists(sock)


@pytest.mark.slow
def test_keyring_init_rotate_list(kubecrypt: Any, socket_dir: str) -> None:
    ring = os.path.join(socket_dir, "ring.json")
    r = kubecrypt("kms", "keyring", "init", "--file", ring)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(ring).st_mode) == 0o600
    before = Path(ring).read_bytes()
    r = kubecrypt("kms", "keyring", "init", "--file", ring)
    assert r.returncode == 1 and "already exists" in _one_sentence(r.stderr)
    assert Path(ring).read_bytes() == before

    ids = set()
    for _ in range(3):
        assert kubecrypt("kms", "keyring", "rotate", "--file", ring).returncode == 0
    doc = json.loads(Path(ring).read_text())
    ids = [k["id"] for k in doc["keys"]]
    assert len(ids) == 4 == len(set(ids))
    assert doc["primary"] == ids[-1]
    assert stat.S_IMODE(os.stat(ring).st_mode) == 0o600

    r = kubecrypt("kms", "keyring", "list", "--file", ring, "-o", "json")
    listed = json.loads(r.stdout)
    assert [k["id"] for k in listed["keys"]] == ids and listed["primary"] == ids[-1]
    text = kubecrypt("kms", "keyring", "list", "--file", ring).stdout.decode()
    for k in doc["keys"]:
        assert k["secret"] not in text and k["secret"] not in r.stdout.decode()
    assert text.splitlines()[-1].startswith("* " + ids[-1])

    os.chmod(ring, 0o640)
    r = kubecrypt("kms", "keyring", "rotate", "--file", ring)
    assert r.returncode == 1 and "chmod 600" in _one_sentence(r.stderr)
    assert json.loads(Path(ring).read_text()) == doc
    assert [p for p in os.listdir(socket_dir) if p.endswith(".tmp")] == []


def test_backend_from_entry_point_group(socket_dir: str, start_plugin: Any) -> None:
    """A third-party package registers a backend by name in ``kubecrypt.kms_backends``."""
    from kubecrypt.kms import client

    site = Path(socket_dir, "site")
    dist = site / "kubecrypt_example_backend-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kubecrypt-example-backend\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[kubecrypt.kms_backends]\nexample = kms_vector_backend:VectorBackend\n")
    here = str(Path(__file__).resolve().parent)
    env = {"PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""), here, str(site)])}
    p = start_plugin("example", {"api": "v2", "keks_b64": {"k1": "A" * 43 + "="},
                                 "status_key_id": "k1"}, env=env)
    kms = client.GrpcKMSv2(p.endpoint)
    r = kms.encrypt(b"e" * 32)
    assert r.key_id == "k1" and kms.decrypt(r.ciphertext, "u", "k1", {}) == b"e" * 32
