"""A custom backend is any class with status(), encrypt() and decrypt(); Backend is optional."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kubecrypt.errors import ConfigError
from kubecrypt.kms import backends, client
from kubecrypt.kms.backends.base import Backend

HERE = Path(__file__).resolve().parent
KEK = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))


@pytest.mark.parametrize("cls", ["PlainBackend", "RegisteredBackend", "WithV1"])
def test_structural_backends_serve_v2_and_v1(start_plugin: Any, cls: str) -> None:
    p = start_plugin(f"kms_custom_backends:{cls}", {"kek_b64": KEK})
    v2 = client.GrpcKMSv2(p.endpoint)
    assert v2.status().healthz == "ok"
    r = v2.encrypt(b"s" * 32)
    assert v2.decrypt(r.ciphertext, "u", r.key_id, {}) == b"s" * 32
    v1 = client.GrpcKMSv1(p.endpoint)
    cipher = v1.encrypt(b"d" * 32)
    assert cipher.startswith(b"V1") == (cls == "WithV1")
    assert v1.decrypt(cipher) == b"d" * 32
    assert p.terminate() == 0
    assert "AttributeError" not in p.output()


def test_adapter_calls_own_close_and_defaults(tmp_path: Path) -> None:
    b = backends.create("kms_custom_backends:WithV1", {"kek_b64": KEK})
    assert isinstance(b, Backend) and b.name == "WithV1"
    b.inner.closed_marker = str(tmp_path / "closed")  # type: ignore[attr-defined]
    b.close()
    assert (tmp_path / "closed").exists()
    reg = backends.create("kms_custom_backends:RegisteredBackend", {"kek_b64": KEK})
    assert reg.name == "registered"
    reg.close()  # no close() of its own: the default does nothing
    assert reg.decrypt(reg.encrypt_v1(b"k" * 32), "", {}) == b"k" * 32
    local_cls = backends.resolve("local")
    assert issubclass(local_cls, Backend)


@pytest.mark.parametrize(
    ("target", "expect"),
    [
        ("kms_custom_backends:NoDecrypt", r"has no decrypt\(\) method"),
        ("json:JSONDecoder", r"has no status\(\), encrypt\(\), decrypt\(\) methods"),
        ("kms_custom_backends:instance", "is a object, not a class"),
    ],
)
def test_missing_methods_are_named(target: str, expect: str) -> None:
    with pytest.raises(ConfigError, match=expect):
        backends.create(target, {})


def test_cli_names_missing_method(kubecrypt: Any, socket_dir: str) -> None:
    env = {"PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""),
                                          str(HERE)])}
    r = kubecrypt("kms", "serve", "--listen", f"unix://{socket_dir}/s.sock", "--backend",
                  "kms_custom_backends:NoDecrypt", env=env)
    err = r.stderr.decode()
    assert r.returncode == 1 and "has no decrypt() method" in err and "Traceback" not in err
    assert not os.path.exists(f"{socket_dir}/s.sock")
