"""``kubecrypt rotate kms`` on labs whose Secrets are KMS v2 encrypted: the lab's own plugin with
the local keyring backend, and a plugin on a Vault transit key in a real ``bao server -dev``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kms.conftest import Plugin, env_with_tests_path, kubecrypt_argv, short_tmpdir
from kms.test_kms_vault import ROOT_TOKEN, _token, bao  # noqa: F401 - bao is a fixture

from kubecrypt.atrest.classify import classify
from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.etcd.settings import EtcdSettings
from kubecrypt.kms.backends import load_config
from kubecrypt.kube.dynamic import Api
from kubecrypt.lab import up as lab_up
from kubecrypt.rotate.errors import NotLoaded, RotateError
from kubecrypt.rotate.kms import KmsOptions, KmsRotation

from .conftest import secret, value_of

Run = Callable[..., subprocess.CompletedProcess[bytes]]


def key_ids(etcd: BlockingEtcdClient) -> dict[str, int]:
    out: dict[str, int] = {}
    for kv in etcd.items("/registry/secrets/"):
        c = classify(kv.value)
        out[str(c.key_id)] = out.get(str(c.key_id), 0) + 1
    return out


def rotate_with_restart(directory: Path, opts: KmsOptions, api: Api, etcd: BlockingEtcdClient,
                        n: int, check_not_yet: bool = False) -> tuple[str, str]:
    """Rotates the KEK (step 1), restarts the API server as an operator would rather than wait
    for its next Status poll, resumes; checks every Secret before and after."""
    r = api.resource("secrets")
    for i in range(n):
        assert api.create(r, secret(f"kms-{i}", "default", f"v{i}".encode())) == 201
    before = key_ids(etcd)
    assert len(before) == 1
    KmsRotation(KmsOptions(**{**opts.__dict__, "stop_after": 1}), out=lambda _: None).run(api, etcd)
    state = json.loads(opts.state.read_text())
    old, new = state["old_key_id"], state["new_key_id"]
    assert state["completed"] == 1 and old != new and set(before) == {old}
    if check_not_yet:
        # The API server asks the plugin for its key_id once a minute: not yet.
        with pytest.raises(NotLoaded, match=f"write with key_id {new}") as info:
            KmsRotation(KmsOptions(**{**opts.__dict__, "resume": True, "wait_timeout": 1}),
                        out=lambda _: None).run(api, etcd)
        # rotate kms edits no configuration, so it must not ask for an "edited" one.
        assert "edited" not in str(info.value) and "restart every kube-apiserver" in str(info.value)
        assert json.loads(opts.state.read_text())["completed"] == 1
    lab_up.up(directory)  # restart the API server: it asks the plugin for the key_id at once
    lines: list[str] = []
    KmsRotation(KmsOptions(**{**opts.__dict__, "resume": True}), out=lines.append).run(api, etcd)
    assert not opts.state.exists()
    assert key_ids(etcd) == {new: n}
    for i in range(n):
        assert value_of(api.get(r, "default", f"kms-{i}")) == f"v{i}".encode()
    assert any("rotation complete" in line for line in lines)
    return old, new


@pytest.fixture
def kms_lab(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "lab"
    lab_up.up(directory, encryption="kms")
    try:
        yield directory
    finally:
        lab_up.down(directory, purge=True)


def _clients(directory: Path) -> tuple[Api, BlockingEtcdClient]:
    lab = lab_up.Lab.load(directory)
    assert lab is not None
    return (Api.from_kubeconfig(str(lab.kubeconfig)),
            BlockingEtcdClient(EtcdSettings.resolve({}, endpoints=lab.etcd_endpoints[0])))


def test_kms_rotation_local_keyring(kms_lab: Path, tmp_path: Path) -> None:
    api, etcd = _clients(kms_lab)
    with etcd:
        opts = KmsOptions(kms_lab / "encryption-config.yaml", tmp_path / "kms-state.json", "local",
                          load_config(kms_lab / "kms-backend.yaml"), wait_timeout=20)
        old, new = rotate_with_restart(kms_lab, opts, api, etcd, 15, check_not_yet=True)
    ring = json.loads((kms_lab / "kms-keyring.json").read_text())
    assert ring["primary"] == new and old in [k["id"] for k in ring["keys"]]


@pytest.mark.slow
def test_kms_rotation_refuses_a_backend_config_the_plugin_does_not_use(
        kms_lab: Path, tmp_path: Path) -> None:
    from kubecrypt.kms import keyring

    other = tmp_path / "other-keyring.json"
    keyring.init(str(other))
    before = other.read_bytes()
    lab_ring = (kms_lab / "kms-keyring.json").read_bytes()
    api, etcd = _clients(kms_lab)
    with etcd:
        opts = KmsOptions(kms_lab / "encryption-config.yaml", tmp_path / "kms-state.json", "local",
                          {"keyring": str(other)}, wait_timeout=20)
        t0 = time.monotonic()
        with pytest.raises(RotateError, match="is not the backend the plugin uses") as info:
            KmsRotation(opts, out=lambda _: None).run(api, etcd)
        assert time.monotonic() - t0 < 10
    assert "nothing was changed" in str(info.value)
    assert other.read_bytes() == before  # the wrong keyring was not rotated
    assert (kms_lab / "kms-keyring.json").read_bytes() == lab_ring
    state = json.loads(opts.state.read_text())
    assert state["completed"] == 0 and state["new_key_id"] is None


@pytest.mark.slow
def test_kms_rotation_vault(bao: str, tmp_path: Path) -> None:  # noqa: F811
    sock_dir = short_tmpdir()
    plugin: Plugin | None = None
    directory = tmp_path / "lab"
    try:
        token = Path(sock_dir) / "token"
        token.write_text(_token(bao))
        backend = Path(sock_dir) / "backend.json"
        backend.write_text(json.dumps({"address": bao, "key_name": "kek", "token_file": str(token)}))
        path = f"{sock_dir}/vault.sock"
        plugin = Plugin([*kubecrypt_argv(), "kms", "serve", "--listen", f"unix://{path}",
                         "--backend", "vault", "--backend-config", str(backend)],
                        path, env_with_tests_path(), Path(sock_dir) / "plugin.log").start()
        enc = tmp_path / "enc.yaml"
        enc.write_text(yaml.safe_dump({
            "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"], "providers": [
                {"kms": {"apiVersion": "v2", "name": "vault", "endpoint": f"unix://{path}"}},
                {"identity": {}}]}]}))
        enc.chmod(0o600)
        lab_up.up(directory, encryption_provider_config=enc)
        api, etcd = _clients(directory)
        # The plugin's token may only encrypt and decrypt; the operator's may rotate.
        operator = {"address": bao, "key_name": "kek", "token": ROOT_TOKEN}
        with etcd:
            old, new = rotate_with_restart(
                directory, KmsOptions(enc, tmp_path / "s.json", "vault", operator, wait_timeout=20),
                api, etcd, 10)
        assert (old, new) == ("transit/kek:v1", "transit/kek:v2")
    finally:
        if directory.exists():
            lab_up.down(directory, purge=True)
        if plugin is not None:
            plugin.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_kms_bad_input(kubecrypt: Run, tmp_path: Path) -> None:
    enc = tmp_path / "enc.yaml"
    enc.write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [{"identity": {}}]}]}))
    r = kubecrypt("rotate", "kms", "--config", str(enc), env={"KUBECONFIG": "/nonexistent"})
    assert r.returncode == 1 and b"no KMS v2 provider" in r.stderr, r.stderr
    r = kubecrypt("rotate", "kms", "--config", str(enc), "--backend", "local")
    assert r.returncode != 0 and b"--backend-config" in r.stderr


@pytest.mark.slow
def test_kms_refuses_v1_and_missing_state(kubecrypt: Run, tmp_path: Path) -> None:
    enc = tmp_path / "enc.yaml"

    def write(api_version: str) -> None:
        enc.write_text(yaml.safe_dump({
            "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"], "providers": [
                {"kms": {"apiVersion": api_version, "name": "p", "endpoint": "unix:///tmp/none.sock"}},
                {"identity": {}}]}]}))

    write("v1")
    r = kubecrypt("rotate", "kms", "--config", str(enc))
    assert r.returncode == 1 and b"apiVersion v1, which has no key_id" in r.stderr, r.stderr
    write("v2")
    r = kubecrypt("rotate", "kms", "--config", str(enc), "--resume")
    assert r.returncode == 1 and b"nothing to resume" in r.stderr
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"kind": "kubecrypt.rotate.kms", "config": "/elsewhere.yaml",
                                 "provider": "p", "completed": 1}))
    r = kubecrypt("rotate", "kms", "--config", str(enc), "--state", str(state))
    assert r.returncode == 1 and b"belongs to a rotation of provider p in /elsewhere.yaml" in r.stderr
    r = kubecrypt("rotate", "kms", "--config", str(enc), "--dry-run")
    assert r.returncode == 0 and r.stdout.count(b"[todo]") == 4
