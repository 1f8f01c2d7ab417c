"""One lab (real etcd + lab API server, aesgcm) for the rotation tests, and the helpers they
share: the lab's own LabHandle (kubectl, etcdctl, /metrics) and an in-process API client."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lab.conftest import LabHandle, running_lab

from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.etcd.settings import EtcdSettings
from kubecrypt.kube.dynamic import Api


@pytest.fixture(scope="session")
def rlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    """A lab of its own: rotation rewrites the encryption configuration."""
    with running_lab(tmp_path_factory.mktemp("rotate-lab") / "lab") as handle:
        yield handle


@pytest.fixture(scope="session")
def api(rlab: LabHandle) -> Api:
    return Api.from_kubeconfig(str(rlab.lab.kubeconfig))


@pytest.fixture(scope="session")
def etcd(rlab: LabHandle) -> Iterator[BlockingEtcdClient]:
    with BlockingEtcdClient(EtcdSettings.resolve({}, endpoints=rlab.etcd)) as client:
        yield client


@pytest.fixture
def config(rlab: LabHandle) -> Path:
    assert rlab.lab.encryption_config
    return Path(rlab.lab.encryption_config)


def first_keys(path: Path, index: int = 0) -> list[tuple[str, str]]:
    """(provider, key name) of every keyed provider of resources[index], in order."""
    doc = yaml.safe_load(path.read_text())
    out = []
    for p in doc["resources"][index]["providers"]:
        kind = next(iter(p))
        for k in (p[kind] or {}).get("keys") or []:
            out.append((kind, k["name"]))
    return out


def secret(name: str, ns: str, value: bytes) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": ns},
            "data": {"v": base64.b64encode(value).decode()}}


def value_of(obj: dict[str, Any] | None) -> bytes | None:
    if obj is None:
        return None
    return base64.b64decode(obj["data"]["v"])


@pytest.fixture
def cli_env(rlab: LabHandle) -> Callable[..., dict[str, str]]:
    def env(**extra: str) -> dict[str, str]:
        e = {"KUBECONFIG": str(rlab.lab.kubeconfig), "ETCDCTL_ENDPOINTS": rlab.etcd}
        e.update(extra)
        return {**os.environ, **e}
    return env
