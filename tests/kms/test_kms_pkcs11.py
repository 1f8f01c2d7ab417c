"""The ``pkcs11`` backend against Debian's SoftHSM2, with a private config and token directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubecrypt.errors import DecryptError
from kubecrypt.kms import client

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "4711-user"


@pytest.fixture
def softhsm(socket_dir: str) -> Iterator[dict[str, str]]:
    root = Path(socket_dir, "hsm")
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "kubecrypt",
                    "--pin", PIN, "--so-pin", "so-pin-0815"],
                   env={**os.environ, **env}, check=True, capture_output=True)
    try:
        yield env
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _config(**over: Any) -> dict[str, Any]:
    return {"module": MODULE, "token_label": "kubecrypt", "pin": PIN, "key_label": "kek-1",
            "generate": True, **over}


def test_pkcs11_round_trip_and_key_stays_in_token(start_plugin: Any, softhsm: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    p = start_plugin("pkcs11", _config(), env=softhsm)
    v2 = client.GrpcKMSv2(p.endpoint)
    st = v2.status()
    assert (st.healthz, st.key_id) == ("ok", "kek-1")
    seed = os.urandom(32)
    r = v2.encrypt(seed)
    assert r.key_id == "kek-1" and len(r.ciphertext) == 12 + 32 + 16
    assert v2.decrypt(r.ciphertext, "u", r.key_id, {}) == seed
    with pytest.raises(DecryptError, match="does not authenticate"):
        v2.decrypt(r.ciphertext[:-1] + bytes([r.ciphertext[-1] ^ 1]), "u", r.key_id, {})
    with pytest.raises(DecryptError, match="NOT_FOUND"):
        v2.decrypt(r.ciphertext, "u", "kek-unknown", {})
    v1 = client.GrpcKMSv1(p.endpoint)
    assert v1.decrypt(v1.encrypt(seed)) == seed
    assert v2.status().healthz == "ok"  # errors did not hurt the server

    # The key is in the token, sensitive and not extractable.
    import pkcs11

    monkeypatch.setenv("SOFTHSM2_CONF", softhsm["SOFTHSM2_CONF"])
    lib = pkcs11.lib(MODULE)
    with lib.get_token(token_label="kubecrypt").open(user_pin=PIN) as s:
        key = s.get_key(label="kek-1", key_type=pkcs11.KeyType.AES)
        assert key[pkcs11.Attribute.EXTRACTABLE] is False
        assert key[pkcs11.Attribute.SENSITIVE] is True
        assert key[pkcs11.Attribute.VALUE_LEN] == 32

    # Rotation: a new label is a new key_id; data under the old key still decrypts.
    p.terminate()
    p2 = start_plugin("pkcs11", _config(key_label="kek-2"), env=softhsm, name="rotated")
    v2b = client.GrpcKMSv2(p2.endpoint)
    assert v2b.status().key_id == "kek-2"
    assert v2b.encrypt(seed).key_id == "kek-2"
    assert v2b.decrypt(r.ciphertext, "u", "kek-1", {}) == seed


@pytest.mark.slow
def test_pkcs11_startup_errors(kubecrypt: Any, softhsm: dict[str, str], socket_dir: str) -> None:
    sock = os.path.join(socket_dir, "p.sock")
    cfg = Path(socket_dir, "p.yaml")
    cases = [
        (_config(pin="0000"), "rejected the PIN"),
        (_config(generate=False, key_label="absent"), "has no AES key labelled 'absent'"),
        (_config(token_label="other"), "has no token labelled 'other'"),
        (_config(module="/nonexistent/libpkcs11.so"), "cannot load PKCS#11 module"),
        ({"module": MODULE, "token_label": "kubecrypt", "key_label": "k"}, "exactly one of `pin`"),
    ]
    for config, expect in cases:
        cfg.write_text(json.dumps(config))
        r = kubecrypt("kms", "serve", "--listen", "unix://" + sock, "--backend", "pkcs11",
                      "--backend-config", str(cfg), env=softhsm, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 1 and err.startswith("error: ") and expect in err, err
        assert err.count("\n") == 1
        assert not os.path.exists(sock)


@pytest.mark.slow
def test_pkcs11_atrest_end_to_end(start_plugin: Any, softhsm: dict[str, str], socket_dir: str,
                                  kubecrypt: Any) -> None:
    p = start_plugin("pkcs11", _config(pin=None, pin_file=_pin_file(socket_dir)), env=softhsm)
    cfg = Path(socket_dir, "enc.yaml")
    cfg.write_text("kind: EncryptionConfiguration\napiVersion: apiserver.config.k8s.io/v1\n"
                   "resources:\n- resources: [secrets]\n  providers:\n"
                   f"  - kms: {{apiVersion: v2, name: hsm, endpoint: '{p.endpoint}'}}\n")
    r = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", "/registry/secrets/a/b",
                  input=b"k8s\x00hsm")
    assert r.returncode == 0, r.stderr
    r = kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", "/registry/secrets/a/b",
                  input=r.stdout)
    assert r.returncode == 0 and r.stdout == b"k8s\x00hsm"


def _pin_file(d: str) -> str:
    path = Path(d, "pin")
    path.write_text(PIN + "\n")
    path.chmod(0o600)
    return str(path)


def test_pkcs11_v1_decrypts_after_rotation(start_plugin: Any, softhsm: dict[str, str]) -> None:
    """v1 calls carry no key_id: after switching key_label, older v1 data must still decrypt."""
    seed = os.urandom(32)
    p = start_plugin("pkcs11", _config(key_label="kek-2026-11"), env=softhsm)
    old = client.GrpcKMSv1(p.endpoint).encrypt(seed)
    p.terminate()
    p2 = start_plugin("pkcs11", _config(key_label="kek-2026-12"), env=softhsm, name="rotated")
    v1 = client.GrpcKMSv1(p2.endpoint)
    assert v1.decrypt(old) == seed
    new = v1.encrypt(seed)
    assert v1.decrypt(new) == seed
    with pytest.raises(DecryptError, match="any of the 2 AES keys"):
        v1.decrypt(old[:-1] + bytes([old[-1] ^ 1]))
