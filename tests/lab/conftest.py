"""One lab for the whole session: a real etcd and the lab API server started by ``lab up``,
driven with the real kubectl, etcdctl and lightkube. Tests use their own names/namespaces."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto_kms import moto  # noqa: F401  (the moto_server fixture)

from kubecrypt.lab import up as lab_up
from kubecrypt.lab.up import Lab


@dataclass
class LabHandle:
    lab: Lab
    dir: Path

    @property
    def etcd(self) -> str:
        return self.lab.etcd_endpoints[0]

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.lab.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True,
                           env=self.env(), timeout=60, check=False)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {p.stderr}")
        return p

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def etcd_get(self, key: str) -> tuple[bytes, int] | None:
        """The raw stored value and its mod_revision, read with the real etcdctl."""
        p = subprocess.run(["etcdctl", f"--endpoints={self.etcd}", "get", key, "-w", "json"],
                           capture_output=True, text=True, timeout=30, check=True)
        kvs = json.loads(p.stdout).get("kvs") or []
        if not kvs:
            return None
        return base64.b64decode(kvs[0]["value"]), int(kvs[0]["mod_revision"])

    def etcd_put(self, key: str, value: bytes) -> None:
        subprocess.run(["etcdctl", f"--endpoints={self.etcd}", "put", key],
                       input=value, capture_output=True, timeout=30, check=True)

    def etcd_del(self, key: str) -> None:
        subprocess.run(["etcdctl", f"--endpoints={self.etcd}", "del", key],
                       capture_output=True, timeout=30, check=True)

    def wait_reload(self, before: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.reloads() > before:
                return
            time.sleep(0.1)
        raise AssertionError("the lab did not reload the encryption configuration")

    def metric(self, series: str) -> float:
        """One series of the lab's /metrics, e.g. ``kubecrypt_lab_watches``."""
        for line in self.kubectl("get", "--raw", "/metrics").stdout.splitlines():
            name, _, value = line.rpartition(" ")
            if name == series:
                return float(value)
        return 0.0

    def reloads(self, status: str = "success") -> int:
        return int(self.metric("apiserver_encryption_config_controller_automatic_reloads_total"
                               f'{{status="{status}"}}'))


@contextlib.contextmanager
def running_lab(directory: Path) -> Iterator[LabHandle]:
    """A lab (real etcd, the lab API server, aesgcm) in ``directory``, purged afterwards."""
    handle = LabHandle(lab_up.up(directory, encryption="aesgcm"), directory)
    try:
        yield handle
    finally:
        lab_up.down(directory, purge=True)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    with running_lab(tmp_path_factory.mktemp("lab") / "lab") as handle:
        yield handle


@pytest.fixture
def unique() -> Callable[[str], str]:
    counter = iter(range(10**6))
    stamp = format(time.monotonic_ns() % 10**8, "x")
    return lambda prefix: f"{prefix}-{stamp}-{next(counter)}"
