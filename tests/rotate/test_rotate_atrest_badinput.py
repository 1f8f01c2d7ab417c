"""Bad input stops ``kubecrypt rotate atrest`` with one sentence before anything is written."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kubecrypt.rotate.state import default_path

Run = Callable[..., subprocess.CompletedProcess[bytes]]
KEY = base64.b64encode(b"k" * 32).decode()


def write(path: Path, providers: list[dict[str, object]], resources: list[str] | None = None) -> Path:
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": resources or ["secrets"], "providers": providers}]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


def aesgcm(*names: str) -> dict[str, object]:
    return {"aesgcm": {"keys": [{"name": n, "secret": KEY} for n in names]}}


# Unreachable API server and etcd: every case must fail before it would connect.
NOWHERE = {"KUBECONFIG": "/nonexistent", "ETCDCTL_ENDPOINTS": "127.0.0.1:9"}


def run(kubecrypt: Run, *args: str) -> subprocess.CompletedProcess[bytes]:
    return kubecrypt("rotate", "atrest", *args, env=NOWHERE)


@pytest.mark.parametrize(("providers", "resources", "message"), [
    ([{"aesgcm": {"keys": [{"name": "k1", "secret": "c2hvcnQ="}]}}], None, b"secret"),
    ([{"identity": {}}, aesgcm("k1")], None, b"nothing to rotate"),
    ([aesgcm("k1"), {"identity": {}}], ["*.*"], b"wildcard"),
], ids=["key-too-short", "identity-first", "wildcard"])
def test_config_refused(kubecrypt: Run, tmp_path: Path, providers: list[dict[str, object]],
                        resources: list[str] | None, message: bytes) -> None:
    cfg = write(tmp_path / "enc.yaml", providers, resources)
    before = cfg.read_bytes()
    r = run(kubecrypt, "--config", str(cfg))
    assert r.returncode == 1 and r.stderr.startswith(b"error: ") and message in r.stderr, r.stderr
    assert b"Traceback" not in r.stderr and KEY.encode() not in r.stderr
    assert cfg.read_bytes() == before and not default_path(cfg).exists()


@pytest.mark.slow
def test_missing_config(kubecrypt: Run, tmp_path: Path) -> None:
    r = run(kubecrypt, "--config", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1 and b"no such file" in r.stderr


@pytest.mark.slow
def test_resume_without_state(kubecrypt: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path / "enc.yaml", [aesgcm("k1")])
    r = run(kubecrypt, "--config", str(cfg), "--resume")
    assert r.returncode == 1 and b"nothing to resume" in r.stderr
    assert not default_path(cfg).exists()


@pytest.mark.slow
def test_foreign_and_corrupt_state(kubecrypt: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path / "enc.yaml", [aesgcm("k1")])
    other = write(tmp_path / "other.yaml", [aesgcm("k1")])
    r = run(kubecrypt, "--config", str(other), "--dry-run")
    assert r.returncode == 0
    state = tmp_path / "state.json"
    state.write_text(json.dumps({
        "kind": "kubecrypt.rotate.atrest", "version": 1, "config": str(other.resolve()),
        "completed": 0, "entries": [{"index": 0, "resources": ["secrets"], "old_provider": "aesgcm",
                                     "old_key": "k1", "new_provider": "aesgcm", "new_key": "k2"}]}))
    r = run(kubecrypt, "--config", str(cfg), "--state", str(state))
    assert r.returncode == 1 and b"belongs to a rotation of" in r.stderr
    state.write_text('{"kind": "something-else"}')
    r = run(kubecrypt, "--config", str(cfg), "--state", str(state))
    assert r.returncode == 1 and b"not a kubecrypt at-rest rotation state file" in r.stderr
    state.write_text("{not json")
    r = run(kubecrypt, "--config", str(cfg), "--state", str(state))
    assert r.returncode == 1 and b"unreadable" in r.stderr


def test_keys_edited_by_hand(kubecrypt: Run, tmp_path: Path) -> None:
    # State says the new key k2 was added second; someone removed it from the file since.
    cfg = write(tmp_path / "enc.yaml", [aesgcm("k1", "k9")])
    state = tmp_path / "state.json"
    state.write_text(json.dumps({
        "kind": "kubecrypt.rotate.atrest", "version": 1, "config": str(cfg.resolve()),
        "completed": 1, "entries": [{"index": 0, "resources": ["secrets"], "old_provider": "aesgcm",
                                     "old_key": "k1", "new_provider": "aesgcm", "new_key": "k2"}]}))
    before = cfg.read_bytes()
    r = run(kubecrypt, "--config", str(cfg), "--state", str(state), "--resume")
    assert r.returncode == 1 and b"edited" in r.stderr, r.stderr
    assert cfg.read_bytes() == before


def test_dry_run_changes_nothing(kubecrypt: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path / "enc.yaml", [aesgcm("k1"), {"identity": {}}], ["secrets", "configmaps"])
    before = cfg.read_bytes()
    r = run(kubecrypt, "--config", str(cfg), "--dry-run", "--new-key-name", "k2",
            "--provider", "secretbox")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "resources[0] (secrets, configmaps): aesgcm key k1 -> secretbox key k2" in out
    assert out.count("[todo]") == 5
    assert cfg.read_bytes() == before and not default_path(cfg).exists()
