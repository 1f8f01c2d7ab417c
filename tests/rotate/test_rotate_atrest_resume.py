"""Resuming: an API server that has not loaded the edit yet ("not yet", exit 4), a run that died
between writing the configuration and its state file, and step 5 refused while a stored value
still needs the old key."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from kms.conftest import kubecrypt_argv
from lab.conftest import LabHandle

from kubecrypt.atrest.config import (
    EncryptionConfiguration,
    Key,
    KeyedProviderConfig,
    ResourceConfig,
)
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.kube.dynamic import Api
from kubecrypt.rotate import configedit as ce
from kubecrypt.rotate.atrest import AtRestRotation, Options
from kubecrypt.rotate.errors import RotateError, StaleValues
from kubecrypt.rotate.state import RotationState
from kubecrypt.storage.codec import encode

from .conftest import first_keys, secret, value_of

Run = Callable[..., subprocess.CompletedProcess[bytes]]


def install(src: Path, dst: Path) -> None:
    """What an operator does on a control-plane node: put the edited file in place, atomically."""
    tmp = dst.with_name(".install.tmp")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, dst)


@pytest.mark.slow
def test_not_loaded_says_not_yet_and_resumes(rlab: LabHandle, config: Path, tmp_path: Path,
                                             kubecrypt: Run, cli_env: Callable[..., dict[str, str]],
                                             api: Api) -> None:
    # The tool edits a copy the API server does not read: it never sees the change by itself.
    copy, state = tmp_path / "enc.yaml", tmp_path / "state.json"
    install(config, copy)
    before = config.read_bytes()
    (old,) = [k for k in first_keys(config)][:1]
    args = ("rotate", "atrest", "--config", str(copy), "--state", str(state),
            "--new-key-name", "key-late", "--wait-timeout", "2")
    r = kubecrypt(*args, env=cli_env())
    assert r.returncode == 4, r.stderr
    assert b"not yet" in r.stderr and b"reads aesgcm key key-late" in r.stderr
    assert b"restart every kube-apiserver" in r.stdout
    assert config.read_bytes() == before
    assert first_keys(copy)[:2] == [old, ("aesgcm", "key-late")]
    assert json.loads(state.read_text())["completed"] == 0

    install(copy, config)  # "restart the API server with the new file"
    r = kubecrypt(*args, "--resume", env=cli_env())
    assert r.returncode == 4, r.stderr  # step 1 now passes; step 2's promotion is not loaded
    assert b"writes with aesgcm key key-late" in r.stderr
    assert json.loads(state.read_text())["completed"] == 1
    install(copy, config)
    r = kubecrypt(*args, "--resume", env=cli_env())
    assert r.returncode == 4, r.stderr  # steps 2-4 done, step 5's removal not loaded yet
    assert json.loads(state.read_text())["completed"] == 4
    assert first_keys(copy) == [("aesgcm", "key-late")]
    install(copy, config)
    r = kubecrypt(*args, "--resume", env=cli_env())
    assert r.returncode == 0, r.stderr
    assert b"rotation complete" in r.stdout and not state.exists()
    assert first_keys(config) == [("aesgcm", "key-late")]
    r = api.resource("secrets")
    assert all(value_of(api.get(r, o["metadata"]["namespace"], o["metadata"]["name"])) is not None
               for o in api.list(r) if (o.get("data") or {}).get("v"))


def test_crash_between_config_and_state_resumes(config: Path, tmp_path: Path, api: Api,
                                                etcd: BlockingEtcdClient) -> None:
    state = tmp_path / "state.json"
    opts = Options(config, state, new_key_name="key-crash", stop_after=4, wait_timeout=20)
    AtRestRotation(opts, out=lambda _: None).run(api, etcd)
    saved = RotationState.load(state, config.resolve())
    assert saved.completed == 4
    # The run that died had written step 5's configuration but not its state.
    doc = yaml.safe_load(config.read_text())
    for e in saved.entries:
        doc = ce.retire(doc, e)
    tmp = config.with_name(".crash.tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    os.chmod(tmp, 0o600)
    os.replace(tmp, config)
    lines: list[str] = []
    AtRestRotation(Options(config, state, resume=True, wait_timeout=20), lines.append).run(api, etcd)
    assert first_keys(config) == [("aesgcm", "key-crash")]
    assert not state.exists()
    assert lines[0].startswith("step 5/5")


def _put_with_key(etcd: BlockingEtcdClient, config: Path, provider: str, name: str, key: str,
                  value: bytes) -> None:
    doc = yaml.safe_load(config.read_text())
    for p in doc["resources"][0]["providers"]:
        for k in (p.get(provider) or {}).get("keys") or []:
            if k["name"] == name:
                secret_bytes = base64.b64decode(k["secret"])
    cfg = EncryptionConfiguration((ResourceConfig(("secrets",), (
        KeyedProviderConfig(provider, (Key(name, secret_bytes),)),)),))
    obj = secret(key.rsplit("/", 1)[1], "default", value)
    obj["metadata"].update(uid="0e7b4a46-0000-4000-8000-000000000001",
                           creationTimestamp="2026-01-01T00:00:00Z")
    etcd.put(key, TransformerSet(cfg).for_resource("secrets").encrypt(encode(obj), key.encode()))


def test_step5_refused_while_a_value_needs_the_old_key(config: Path, tmp_path: Path, api: Api,
                                                       etcd: BlockingEtcdClient) -> None:
    state = tmp_path / "state.json"
    (old_provider, old_key), *_ = first_keys(config)
    AtRestRotation(Options(config, state, new_key_name="key-guard", stop_after=4, wait_timeout=20),
                   out=lambda _: None).run(api, etcd)
    # Written behind the rotation's back (a restored backup, an API server on the old file).
    key = "/registry/secrets/default/behind-our-back"
    _put_with_key(etcd, config, old_provider, old_key, key, b"old-key-value")
    key2 = "/registry/secrets/default/behind-our-back-2"
    _put_with_key(etcd, config, old_provider, old_key, key2, b"old-key-value-2")
    snapshot = etcd.get(key)  # as an etcd snapshot taken before the rotation holds it
    assert snapshot is not None
    # Classified with the old key present: both are under the old key, none is unreadable.
    with pytest.raises(StaleValues, match=r"refusing to remove the old key.*behind-our-back") as info:
        AtRestRotation(Options(config, state, resume=True, wait_timeout=20),
                       out=lambda _: None).run(api, etcd)
    assert " 0 unreadable, 2 under the old key" in str(info.value), str(info.value)
    assert (old_provider, old_key) in first_keys(config)
    assert RotationState.load(state, config.resolve()).completed == 2
    # Running again rewrites it through the API (which still reads the old key), then retires.
    lines: list[str] = []
    AtRestRotation(Options(config, state, resume=True, wait_timeout=20),
                   out=lines.append).run(api, etcd)
    assert first_keys(config) == [(old_provider, "key-guard")]
    r = api.resource("secrets")
    assert value_of(api.get(r, "default", "behind-our-back")) == b"old-key-value"
    raw = etcd.get(key)
    assert raw is not None and raw.value.startswith(b"k8s:enc:aesgcm:v1:key-guard:")
    for k in (key, key2):
        etcd.delete(k)

    # The retired key is kept, 0600, beside the state, and reads the pre-rotation snapshot.
    kept = [p for p in tmp_path.iterdir() if f".retired-{old_key}-" in p.name]
    assert len(kept) == 1 and (kept[0].stat().st_mode & 0o777) == 0o600
    assert any(f"kept the retired key in {kept[0]}" in line and "snapshots" in line
               for line in lines), lines
    from kubecrypt.atrest.config import load_file

    chain = TransformerSet(load_file(kept[0])).for_resource("secrets")
    read = chain.decrypt(snapshot.value, key.encode())
    assert read.key == old_key and b"old-key-value" in read.plaintext


@pytest.mark.slow
def test_provider_change_aesgcm_to_secretbox_and_back(config: Path, tmp_path: Path, api: Api,
                                                      etcd: BlockingEtcdClient) -> None:
    r = api.resource("secrets")
    api.create(r, secret("provider-change", "default", b"kept"))
    for provider, name in (("secretbox", "sb-1"), ("aesgcm", "gcm-back")):
        AtRestRotation(Options(config, tmp_path / f"{name}.json", provider=provider,
                               new_key_name=name, wait_timeout=20), out=lambda _: None).run(api, etcd)
        doc = yaml.safe_load(config.read_text())
        providers = doc["resources"][0]["providers"]
        assert [next(iter(p)) for p in providers] == [provider, "identity"]
        assert first_keys(config) == [(provider, name)]
        assert value_of(api.get(r, "default", "provider-change")) == b"kept"
        stored = etcd.get("/registry/secrets/default/provider-change")
        assert stored is not None and stored.value.startswith(f"k8s:enc:{provider}:v1:{name}:".encode())


def _variant(config: Path, dest: Path, edit: Callable[[list[dict[str, str]]], None]) -> Path:
    doc = yaml.safe_load(config.read_text())
    edit(doc["resources"][0]["providers"][0]["aesgcm"]["keys"])
    dest.write_text(yaml.safe_dump(doc, sort_keys=False))
    dest.chmod(0o600)
    return dest


@pytest.mark.parametrize(("edit", "message"), [
    # Same key name, another secret: what is stored cannot be read with it.
    (lambda keys: keys[0].update(secret=base64.b64encode(b"x" * 32).decode()),
     "keys do not match what is in etcd"),
    # Readable (the real key is second), but the server writes with another first key.
    (lambda keys: keys.insert(0, {"name": "elsewhere", "secret": base64.b64encode(b"y" * 32).decode()}),
     "does not write with aesgcm key elsewhere"),
], ids=["foreign-secret", "not-the-servers-config"])
def test_refuses_a_config_the_server_does_not_use(
        config: Path, tmp_path: Path, api: Api, etcd: BlockingEtcdClient,
        edit: Callable[[list[dict[str, str]]], None], message: str) -> None:
    r = api.resource("secrets")
    api.create(r, secret("preflight", "default", b"v"))
    other = _variant(config, tmp_path / "other.yaml", edit)
    before = other.read_bytes()
    state = tmp_path / "state.json"
    with pytest.raises(RotateError, match=message):
        AtRestRotation(Options(other, state, wait_timeout=5), out=lambda _: None).run(api, etcd)
    assert other.read_bytes() == before and not state.exists()


@pytest.mark.slow
def test_killed_during_rewrite_resumes(config: Path, tmp_path: Path, api: Api,
                                       etcd: BlockingEtcdClient,
                                       cli_env: Callable[..., dict[str, str]]) -> None:
    r = api.resource("secrets")

    def create(i: int) -> int:
        obj = secret(f"bulk-{i}", "default", f"bulk-{i}".encode())
        obj["metadata"]["labels"] = {"rotate-test": "bulk"}
        return api.create(r, obj)

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(create, range(300))) == {201}
    state = tmp_path / "state.json"
    argv = [*kubecrypt_argv(), "rotate", "atrest", "--config", str(config), "--state", str(state),
            "--new-key-name", "key-killed", "--wait-timeout", "20"]
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=cli_env(PYTHONUNBUFFERED="1"))
        assert proc.stdout is not None
        for line in proc.stdout:  # the first progress line of the rewrite: kill it there
            if b"read and written back" in line:
                proc.kill()
                break
        proc.wait(30)
        assert proc.returncode == -9
        assert json.loads(state.read_text())["completed"] == 2  # died in step 3
        lines: list[str] = []
        AtRestRotation(Options(config, state, resume=True, wait_timeout=20), lines.append).run(api, etcd)
        assert lines[0].startswith("step 3/5") and not state.exists()
        assert first_keys(config) == [("aesgcm", "key-killed")]
        for i in (0, 150, 299):
            assert value_of(api.get(r, "default", f"bulk-{i}")) == f"bulk-{i}".encode()
        kv = etcd.get("/registry/secrets/default/bulk-299")
        assert kv is not None and kv.value.startswith(b"k8s:enc:aesgcm:v1:key-killed:")
    finally:
        api.call("DELETE", r.collection("default") + "?labelSelector=rotate-test%3Dbulk")
