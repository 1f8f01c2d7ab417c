"""``kubecrypt rotate sealed``: a new key, every SealedSecret file of a working tree re-encrypted
for it (and only it), idempotent; ``--compromised`` lists the Secrets to change at the source."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubecrypt.errors import KubecryptError
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.keys import KeyRegistry, SealingKey
from kubecrypt.sealed.keystore import KeyStore
from kubecrypt.sealed.kubeseal import render_sealed
from kubecrypt.sealed.seal import SealOptions, seal_secret
from kubecrypt.sealed.unseal import unseal

Run = Callable[..., subprocess.CompletedProcess[bytes]]
KEY_SIZE = "2048"  # the format is the same at 4096; the tests only need speed


def _secret(ns: str, name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "stringData": data}


SECRETS = {
    "apps/db.yaml": [_secret("prod", "db", password="pw1", user="app")],
    "apps/api.json": [_secret("prod", "api", token="t0k")],
    "multi/two.yaml": [_secret("dev", "a", x="1"), _secret("dev", "b", y="2")],
}


def _repo(tmp: Path, old: SealingKey) -> Path:
    repo = tmp / "repo"
    pub = old.private_key.public_key()
    for rel, secrets in SECRETS.items():
        f = repo / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        fmt = "json" if rel.endswith(".json") else "yaml"
        f.write_text("".join(render_sealed(seal_secret(s, pub, SealOptions()), fmt) for s in secrets))
    (repo / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n")
    (repo / "mixed.yaml").write_text(
        (repo / "apps/db.yaml").read_text() + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: c\n")
    return repo


@pytest.fixture
def keys_dir(tmp_path: Path, kubecrypt: Run) -> Path:
    d = tmp_path / "keys"
    r = kubecrypt("sealed", "keys", "generate", "--keys-dir", str(d), "--key-size", KEY_SIZE)
    assert r.returncode == 0, r.stderr
    return d


def _opened(repo: Path, keys: list[SealingKey]) -> dict[str, dict[str, Any]]:
    out = {}
    for rel in SECRETS:
        for doc in load_documents((repo / rel).read_bytes(), rel):
            secret = unseal(doc, KeyRegistry(keys))
            out[secret["metadata"]["name"]] = secret["data"]
    return out


def test_rotate_sealed_dir(kubecrypt: Run, keys_dir: Path, tmp_path: Path) -> None:
    (old,) = KeyStore(keys_dir).load()
    repo = _repo(tmp_path, old)
    before = _opened(repo, [old])
    mixed = (repo / "mixed.yaml").read_bytes()
    r = kubecrypt("rotate", "sealed", "--keys-dir", str(keys_dir), "--dir", str(repo),
                  "--key-size", KEY_SIZE)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "3 files re-encrypted (4 SealedSecrets), 0 already current, 0 failed" in out, out
    assert "skipped" in out and "mixed.yaml" in out
    keys = KeyStore(keys_dir).load()
    assert len(keys) == 2
    (new,) = [k for k in keys if k.fingerprint != old.fingerprint]
    assert f"new key {new.fingerprint}" in out
    assert _opened(repo, [new]) == before  # the new key alone opens everything
    for rel in SECRETS:
        for doc in load_documents((repo / rel).read_bytes(), rel):
            with pytest.raises(KubecryptError):
                unseal(doc, KeyRegistry([old]))
    assert (repo / "mixed.yaml").read_bytes() == mixed
    assert (repo / "apps/api.json").read_text().startswith("{")
    # Again, without a new key: nothing to do.
    r = kubecrypt("rotate", "sealed", "--keys-dir", str(keys_dir), "--dir", str(repo), "--no-renew")
    assert r.returncode == 0 and b"0 files re-encrypted (0 SealedSecrets), 3 already current" in r.stdout


def test_rotate_sealed_compromised(kubecrypt: Run, keys_dir: Path, tmp_path: Path) -> None:
    (old,) = KeyStore(keys_dir).load()
    repo = _repo(tmp_path, old)
    r = kubecrypt("rotate", "sealed", "--keys-dir", str(keys_dir), "--dir", str(repo),
                  "--key-size", KEY_SIZE, "--compromised", "--compromised-key", old.fingerprint,
                  "-o", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    exposed = sorted((e["namespace"], e["name"], tuple(e["items"])) for e in doc["exposed"])
    # mixed.yaml's SealedSecret is the same prod/db, listed once per file that holds it
    assert exposed == [("dev", "a", ("x",)), ("dev", "b", ("y",)), ("prod", "api", ("token",)),
                       ("prod", "db", ("password", "user")), ("prod", "db", ("password", "user"))]
    assert doc["new_key"] != old.fingerprint
    assert b"pw1" not in r.stdout and b"t0k" not in r.stdout
    r = kubecrypt("rotate", "sealed", "--keys-dir", str(keys_dir), "--compromised",
                  "--compromised-key", "not-a-key")
    assert r.returncode == 1 and b"no key with fingerprint not-a-key" in r.stderr


def test_rotate_sealed_dry_run_and_no_keys(kubecrypt: Run, keys_dir: Path, tmp_path: Path) -> None:
    (old,) = KeyStore(keys_dir).load()
    repo = _repo(tmp_path, old)
    snapshot = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    r = kubecrypt("rotate", "sealed", "--keys-dir", str(keys_dir), "--dir", str(repo),
                  "--key-size", KEY_SIZE, "--dry-run")
    assert r.returncode == 0 and b"would have: 3 files re-encrypted" in r.stdout, r.stdout
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == snapshot
    assert len(KeyStore(keys_dir).load()) == 1
    r = kubecrypt("rotate", "sealed", "--keys-dir", str(tmp_path / "empty"), "--dir", str(repo))
    assert r.returncode == 1 and b"no keys in" in r.stderr


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], capture_output=True, text=True, check=True).stdout.strip()


def test_rotate_sealed_compromised_covers_history(kubecrypt: Run, keys_dir: Path,
                                                  tmp_path: Path) -> None:
    """A Secret deleted from the tree long ago is still in history: --compromised lists it."""
    (old,) = KeyStore(keys_dir).load()
    repo = _repo(tmp_path, old)
    gone = repo / "gone.yaml"
    gone.write_text(render_sealed(seal_secret(_secret("prod", "legacy", apikey="old-api-key"),
                                              old.private_key.public_key(), SealOptions()),
                                  "yaml"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    first = _git(repo, "rev-parse", "HEAD")
    _git(repo, "rm", "-q", "gone.yaml")
    _git(repo, "commit", "-q", "-m", "two")
    r = kubecrypt("rotate", "sealed", "--keys-dir", str(keys_dir), "--dir", str(repo),
                  "--key-size", KEY_SIZE, "--compromised", "-o", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert "legacy" not in {e["name"] for e in doc["exposed"]}  # not in the working tree
    history = {(e["namespace"], e["name"], e["item"]): e for e in doc["history_exposed"]}
    assert set(history) == {("prod", "legacy", "apikey"), ("prod", "db", "password"),
                            ("prod", "db", "user"), ("prod", "api", "token"),
                            ("dev", "a", "x"), ("dev", "b", "y")}
    assert history[("prod", "legacy", "apikey")]["paths"] == ["gone.yaml"]
    assert history[("prod", "legacy", "apikey")]["last_commit"] == first
    assert b"old-api-key" not in r.stdout and b"pw1" not in r.stdout
    text = kubecrypt("rotate", "sealed", "--keys-dir", str(keys_dir), "--dir", str(repo),
                     "--key-size", KEY_SIZE, "--compromised", "--compromised-key", old.fingerprint,
                     "--dry-run")
    assert text.returncode == 0, text.stderr
    assert b"prod/legacy: apikey" in text.stdout
