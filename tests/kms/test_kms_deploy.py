"""deploy/kms: the example EncryptionConfigurations load, and the static pod's command line
really starts the plugin (with host paths swapped for temporary ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubecrypt.atrest.config import KMSConfig, load_file
from kubecrypt.kms import client

from .conftest import Plugin, env_with_tests_path, kubecrypt_argv

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kms"
SOCKET = "unix:///var/run/kmsplugin/socket.sock"


@pytest.mark.parametrize("name", ["encryption-config.yaml", "encryption-config-v1.yaml"])
def test_encryption_configs_load(name: str) -> None:
    cfg = load_file(DEPLOY / name)
    kms = cfg.resources[0].providers[0]
    assert isinstance(kms, KMSConfig) and kms.endpoint == SOCKET
    assert cfg.resources[0].resources == ("secrets",)


def test_static_pod_command_starts_the_plugin(socket_dir: str, keyring_path: str) -> None:
    pod = yaml.safe_load((DEPLOY / "kubecrypt-kms-plugin.yaml").read_text())
    container = pod["spec"]["containers"][0]
    assert pod["spec"]["priorityClassName"] == "system-node-critical"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/run/kmsplugin" in mounts
    command = container["command"]
    assert command[:3] == ["kubecrypt", "kms", "serve"]
    backend_cfg = Path(socket_dir, "backend.yaml")
    backend_cfg.write_text(f"keyring: {keyring_path}\n")
    sock = f"{socket_dir}/socket.sock"
    args = [a.replace("/var/run/kmsplugin/socket.sock", sock)
             .replace("/etc/kubernetes/kms/backend.yaml", str(backend_cfg))
             .replace("127.0.0.1:9464", "127.0.0.1:0") for a in command[3:]]
    plugin = Plugin([*kubecrypt_argv(), "kms", "serve", *args], sock, env_with_tests_path(),
                    Path(socket_dir, "pod.log"))
    try:
        plugin.start()
        assert client.GrpcKMSv2("unix://" + sock).status().healthz == "ok"
        assert client.GrpcKMSv1("unix://" + sock).version() == "v1beta1"
    finally:
        plugin.stop()


def test_liveness_probe_command(local_plugin: Plugin, kubecrypt: Any) -> None:
    pod = yaml.safe_load((DEPLOY / "kubecrypt-kms-plugin.yaml").read_text())
    probe = pod["spec"]["containers"][0]["livenessProbe"]["exec"]["command"]
    args = [a.replace("unix:///var/run/kmsplugin/socket.sock", local_plugin.endpoint)
            for a in probe[1:]]
    r = kubecrypt(*args)
    assert r.returncode == 0 and b'"healthz": "ok"' in r.stdout
    local_plugin.terminate()
    r = kubecrypt(*args[:-1], args[-1], "--timeout", "0.5")
    assert r.returncode == 1 and b"is not reachable" in r.stderr
