"""One parser of KMS ``unix://`` endpoints: a host part (``unix://lab/kms.sock``, which
kube-apiserver would silently turn into ``/kms.sock``) is refused by every reader."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kubecrypt.atrest import config as atrest_config
from kubecrypt.errors import ConfigError
from kubecrypt.kms import client, endpoint


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("unix:///var/run/kms.sock", "/var/run/kms.sock"),
        ("unix:///@kms-abstract", "@kms-abstract"),
        ("unix:///tmp/a b.sock", "/tmp/a b.sock"),
    ],
)
def test_accepted(url: str, path: str) -> None:
    assert endpoint.socket_path(url) == path
    assert endpoint.endpoint_problem(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("unix://lab/kms.sock", "host part 'lab'"),
        ("unix://localhost/var/run/kms.sock", "host part 'localhost'"),
        ("unix://kms.sock", "host part 'kms.sock'"),
        ("unix://", "names no socket path"),
        ("unix:///", "names no socket path"),
        ("unix:relative.sock", "names no socket path"),
        ("tcp://127.0.0.1:1", "unsupported scheme 'tcp'"),
        ("/var/run/kms.sock", "unsupported scheme ''"),
        ("", "is empty"),
    ],
)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        endpoint.socket_path(url, "--listen")


def test_host_part_error_names_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        endpoint.socket_path("unix://lab/kms.sock")
    msg = str(info.value)
    assert "'/kms.sock'" in msg and "unix:///abs/lab/kms.sock" in msg


def test_client_refuses_host_part() -> None:
    with pytest.raises(ConfigError, match="host part 'lab'"):
        client.GrpcKMSv2("unix://lab/kms.sock")
    with pytest.raises(ConfigError, match="host part 'lab'"):
        client.dial("unix://lab/kms.sock", "v1")


def _kms_config(ep: str) -> str:
    return f"""apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - kms: {{apiVersion: v2, name: k, endpoint: "{ep}"}}
  - identity: {{}}
"""


def test_encryption_config_refuses_host_part() -> None:
    atrest_config.loads(_kms_config("unix:///var/run/kms.sock"))
    with pytest.raises(ConfigError) as info:
        atrest_config.loads(_kms_config("unix://lab/kms.sock"))
    assert any("providers[0].kms.endpoint" in p and "host part 'lab'" in p
               for p in info.value.problems), info.value.problems


@pytest.mark.parametrize("cmd", [["kms", "serve", "--backend", "local"], ["kms", "status"],
                                 ["kms", "encrypt"]])
def test_cli_refuses_host_part(kubecrypt: Any, tmp_path: Path, cmd: list[str]) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    r = kubecrypt(*cmd, "--listen", "unix://lab/kms.sock", input=b"x", cwd=tmp_path, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("error: ") and "host part 'lab'" in err, err
    assert "Traceback" not in err
    assert not os.listdir(lab)
