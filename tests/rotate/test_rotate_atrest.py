"""``kubecrypt rotate atrest`` on the lab with a real etcd: a full rotation while a writer keeps
creating and updating Secrets, each step checked by reading every Secret back."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from lab.conftest import LabHandle

from kubecrypt.atrest.config import load_file
from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.kube.dynamic import Api
from kubecrypt.rotate.atrest import AtRestRotation, Options
from kubecrypt.rotate.proof import prove

from .conftest import first_keys, secret, value_of

NS = "default"


class Writer(threading.Thread):
    """Creates and updates Secrets through the API until stopped; remembers what it wrote."""

    def __init__(self, api: Api, prefix: str) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.prefix = prefix
        self.expected: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.idle = threading.Event()
        self.writes = 0
        self.errors: list[str] = []
        self.r = api.resource("secrets")

    def run(self) -> None:
        rng = random.Random(7)
        n = 0
        while not self.stop.is_set():
            if self.paused.is_set():
                self.idle.set()
                time.sleep(0.01)
                continue
            self.idle.clear()
            try:
                if not self.expected or rng.random() < 0.5:
                    name, n = f"{self.prefix}-{n}", n + 1
                    value = f"created-{name}".encode()
                    status = self.api.create(self.r, secret(name, NS, value))
                else:
                    name = rng.choice(sorted(self.expected))
                    value = f"updated-{rng.random()}".encode()
                    obj = self.api.get(self.r, NS, name)
                    assert obj is not None
                    obj["data"]["v"] = secret(name, NS, value)["data"]["v"]
                    status = self.api.update(self.r, obj)
                if status in (200, 201):
                    self.expected[name] = value
                    self.writes += 1
                elif status != 409:
                    self.errors.append(f"{name}: {status}")
            except Exception as exc:
                self.errors.append(repr(exc))

    def pause(self) -> None:
        self.paused.set()
        assert self.idle.wait(10)

    def resume(self) -> None:
        self.paused.clear()


def read_back(api: Api, writer: Writer) -> int:
    r = api.resource("secrets")
    for name, value in writer.expected.items():
        assert value_of(api.get(r, NS, name)) == value, name
    listed = {o["metadata"]["name"] for o in api.list(r)}
    assert set(writer.expected) <= listed
    return len(writer.expected)


@pytest.mark.slow
def test_rotation_with_concurrent_writer(rlab: LabHandle, api: Api, etcd: BlockingEtcdClient,
                                         config: Path, tmp_path: Path) -> None:
    (old_provider, old_key), *_ = first_keys(config)
    writer = Writer(Api.from_kubeconfig(str(rlab.lab.kubeconfig)), "w")
    for i in range(40):  # some Secrets under the old key before the rotation starts
        writer.api.create(writer.r, secret(f"w-pre-{i}", NS, f"pre-{i}".encode()))
        writer.expected[f"w-pre-{i}"] = f"pre-{i}".encode()
    writer.start()
    state = tmp_path / "state.json"
    lines: list[str] = []
    try:
        for step in range(1, 6):
            opts = Options(config, state, new_key_name="key-writer", stop_after=step,
                           wait_timeout=20)
            rotation = AtRestRotation(opts, out=lines.append)
            rotation.run(api, etcd)
            writer.pause()
            assert read_back(api, writer) >= 40
            keys = first_keys(config)
            if step == 1:
                assert keys[:2] == [(old_provider, old_key), (old_provider, "key-writer")]
            if step in (2, 3, 4):
                assert keys[:2] == [(old_provider, "key-writer"), (old_provider, old_key)]
            writer.resume()
            time.sleep(0.2)
    finally:
        writer.stop.set()
        writer.join(10)
    assert not writer.errors, writer.errors[:3]
    assert writer.writes > 40
    read_back(api, writer)
    assert [k for k in first_keys(config)] == [(old_provider, "key-writer")]
    assert config.stat().st_mode & 0o777 == 0o600
    assert not state.exists()
    proof = prove(etcd, load_file(config), ["secrets"], {(old_provider, old_key)}, "/registry")
    assert proof.clean and proof.total >= len(writer.expected)
    assert proof.keys == {f"{old_provider}:key-writer": proof.total}
    assert any("rotation complete" in line for line in lines)
    assert any("rewrote" in line for line in lines)
