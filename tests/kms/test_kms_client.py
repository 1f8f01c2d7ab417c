"""The gRPC client against a real plugin, and the at-rest ``kms`` providers through it:
``kubecrypt atrest encrypt|decrypt`` end to end, KEK rotation, and a plugin that dies."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from kubecrypt.atrest.chain import PrefixChain
from kubecrypt.atrest.providers.kms_v2 import (
    HEALTHY_POLL,
    STATE_TTL,
    STATUS_INTERVAL_ENV,
    KMSv2Provider,
    healthy_poll,
)
from kubecrypt.errors import EncryptError, KMSUnavailable
from kubecrypt.kms import client, keyring

from .conftest import Plugin

ETCD_KEY = "/registry/secrets/default/db"


def _atrest_config(path: Path, endpoint: str, api: str = "v2") -> Path:
    path.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        "  - resources: [secrets]\n    providers:\n"
        f"      - kms:\n          apiVersion: {api}\n          name: plugin\n"
        f"          endpoint: {endpoint}\n          timeout: 2s\n"
        "      - identity: {}\n"
    )
    return path


def test_missing_socket_is_one_sentence(socket_dir: str) -> None:
    endpoint = f"unix://{socket_dir}/absent.sock"
    start = time.monotonic()
    with pytest.raises(KMSUnavailable) as info:
        client.GrpcKMSv2(endpoint, timeout=0.5).status()
    assert time.monotonic() - start < 3
    msg = str(info.value)
    assert msg.startswith(f"KMS plugin at {endpoint} is not reachable: ")
    assert "socket does not exist" in msg
    assert msg.endswith("check that `kubecrypt kms serve` (or your plugin) is running")
    with pytest.raises(KMSUnavailable, match="not reachable"):
        client.GrpcKMSv1(endpoint, timeout=0.5).encrypt(b"x" * 32)


def test_wait_for_ready_waits_for_a_late_plugin(start_plugin: Any, keyring_path: str,
                                                socket_dir: str) -> None:
    import threading

    path = os.path.join(socket_dir, "late.sock")
    kms = client.GrpcKMSv2("unix://" + path, timeout=15)
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.setdefault("st", kms.status()))
    t.start()
    time.sleep(0.5)
    start_plugin("local", {"keyring": keyring_path}, path=path)
    t.join(20)
    assert result["st"].healthz == "ok"


@pytest.mark.slow
def test_atrest_cli_with_kms_provider(local_plugin: Plugin, keyring_path: str, socket_dir: str,
                                      kubecrypt: Any) -> None:
    cfg = _atrest_config(Path(socket_dir, "enc.yaml"), local_plugin.endpoint)
    secret = b"k8s\x00" + os.urandom(40)
    r = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY, input=secret)
    assert r.returncode == 0, r.stderr
    stored = r.stdout
    assert stored.startswith(b"k8s:enc:kms:v2:plugin:")
    r = kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY, "--json",
                  input=stored)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    first_key = keyring.load(keyring_path)[0].primary
    assert base64.b64decode(doc["plaintext_b64"]) == secret
    assert (doc["stale"], doc["provider"], doc["key_id"]) == (False, "kms", first_key)

    # KEK rotation: new writes use the new key_id, old values still read and are stale.
    new_key = keyring.rotate(keyring_path).primary
    r = kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY, "--json",
                  input=stored)
    doc = json.loads(r.stdout)
    assert base64.b64decode(doc["plaintext_b64"]) == secret
    assert doc["stale"] is True and doc["key_id"] == first_key
    time.sleep(1.1)
    r = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY, input=secret)
    r2 = kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY, "--json",
                   input=r.stdout)
    doc = json.loads(r2.stdout)
    assert (doc["stale"], doc["key_id"]) == (False, new_key)

    # Wrong etcd key (authenticated data): refused.
    r = kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY + "x",
                  input=stored)
    assert r.returncode == 1 and b"error: " in r.stderr

    # Plugin down: a fresh process cannot encrypt, and says why in one sentence.
    local_plugin.terminate()
    r = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY, input=secret)
    assert r.returncode != 0 and r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("error: ") and "Traceback" not in err
    assert local_plugin.endpoint in err and "kubecrypt kms serve" in err


def test_atrest_cli_kms_v1(local_plugin: Plugin, socket_dir: str, kubecrypt: Any) -> None:
    cfg = _atrest_config(Path(socket_dir, "enc.yaml"), local_plugin.endpoint, api="v1")
    r = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY,
                  input=b"k8s\x00v1-data")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"k8s:enc:kms:v1:plugin:")
    r = kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", ETCD_KEY,
                  input=r.stdout)
    assert r.returncode == 0 and r.stdout == b"k8s\x00v1-data"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.slow
def test_plugin_killed_and_restarted(local_plugin: Plugin) -> None:
    """Cached DEKs keep reads working; writes fail closed once the write state expires, then
    recover when the plugin is back. The provider's clock is simulated; the plugin is real."""
    clock = Clock()
    service = client.GrpcKMSv2(local_plugin.endpoint, timeout=1.0)
    chain = PrefixChain([KMSv2Provider("plugin", service, endpoint=local_plugin.endpoint,
                                       clock=clock)])
    values = {f"/registry/secrets/ns/s{i}": os.urandom(30) for i in range(5)}
    stored = {k: chain.encrypt(v, k.encode()) for k, v in values.items()}

    # A second process (another apiserver) has read everything once: its DEK cache is warm.
    reader_clock = Clock()
    reader = PrefixChain([KMSv2Provider("plugin", client.GrpcKMSv2(local_plugin.endpoint, 1.0),
                                        endpoint=local_plugin.endpoint, clock=reader_clock)])
    for k, v in stored.items():
        assert reader.decrypt(v, k.encode()).plaintext == values[k]

    local_plugin.kill()
    for c in (clock, reader_clock):
        c.now += HEALTHY_POLL + 1  # the next call re-checks Status, which fails
    for k, v in stored.items():
        assert chain.decrypt(v, k.encode()).plaintext == values[k]
        assert reader.decrypt(v, k.encode()).plaintext == values[k]
    # Within the state's TTL writes still work (as upstream); past it they fail closed.
    chain.encrypt(b"still-within-ttl", b"/registry/secrets/ns/t")
    clock.now += STATE_TTL + 1
    with pytest.raises(KMSUnavailable) as info:
        chain.encrypt(b"must-not-be-written", b"/registry/secrets/ns/u")
    assert "expired" in str(info.value) and "writes are refused" in str(info.value)
    assert isinstance(info.value, EncryptError)
    for k, v in stored.items():  # reads keep working while writes are refused
        assert chain.decrypt(v, k.encode()).plaintext == values[k]

    local_plugin.restart()
    clock.now += 11  # the unhealthy poll interval
    again = chain.encrypt(b"after-restart", b"/registry/secrets/ns/u")
    assert chain.decrypt(again, b"/registry/secrets/ns/u").plaintext == b"after-restart"
    for k, v in stored.items():
        assert chain.decrypt(v, k.encode()).plaintext == values[k]
    chain.close()
    reader.close()


@pytest.mark.parametrize(("raw", "expected"), [
    (None, 60.0), ("5", 5.0), ("1", 1.0), ("0.5", 60.0), ("0", 60.0), ("-3", 60.0),
    ("61", 60.0), ("nan", 60.0), ("soon", 60.0), ("", 60.0)])
def test_status_interval_shortens_only_within_a_minute(monkeypatch: pytest.MonkeyPatch,
                                                       raw: str | None, expected: float) -> None:
    """The lab's knob for seeing a rotated KEK sooner: 1-60 s, anything else keeps upstream's 60 s."""
    if raw is None:
        monkeypatch.delenv(STATUS_INTERVAL_ENV, raising=False)
    else:
        monkeypatch.setenv(STATUS_INTERVAL_ENV, raw)
    assert healthy_poll() == expected
