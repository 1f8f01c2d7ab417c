"""``kubecrypt rotate sops --dir``: every SOPS file a ``.sops.yaml`` rule matches gets a new data
key and the rule's recipients; the real ``sops`` decrypts the result with the new recipient and
no longer with the removed one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyrage
import pytest

Run = Callable[..., subprocess.CompletedProcess[bytes]]

PLAIN = {
    "secrets/db.enc.yaml": b"apiVersion: v1\nkind: Secret\nstringData:\n    password: s3cr3t\n",
    "secrets/sub/app.enc.json": b'{\n    "token": "t0k3n",\n    "n": 3\n}\n',
    "env/app.enc.env": b"API_KEY=abc123\n",
}


def _identity(tmp: Path, name: str) -> tuple[str, Path]:
    ident = pyrage.x25519.Identity.generate()
    f = tmp / f"{name}.txt"
    f.write_text(str(ident) + "\n")
    f.chmod(0o600)
    return str(ident.to_public()), f


def _rules(d: Path, *recipients: str) -> None:
    (d / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: \\.enc\\.(yaml|json|env)$\n"
        f"    age: {','.join(recipients)}\n")


def _sops(*args: str, key: Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key), "HOME": str(cwd)}
    env.pop("SOPS_AGE_KEY", None)
    return subprocess.run(["sops", *args], capture_output=True, env=env, cwd=cwd, timeout=60,
                          check=False)


@pytest.mark.slow
def test_rotate_sops_dir(kubecrypt: Run, tmp_path: Path) -> None:
    a, a_key = _identity(tmp_path, "a")
    b, b_key = _identity(tmp_path, "b")
    c, c_key = _identity(tmp_path, "c")
    repo = tmp_path / "repo"
    repo.mkdir()
    _rules(repo, a, b)
    for rel, text in PLAIN.items():
        f = repo / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(text)
        r = _sops("encrypt", "-i", rel, key=a_key, cwd=repo)
        assert r.returncode == 0, r.stderr
    (repo / "README.md").write_text("not a secret\n")
    (repo / "secrets/plain.enc.yaml").write_text("a: 1\n")  # matches the rule, not encrypted
    before = {rel: (repo / rel).read_bytes() for rel in PLAIN}
    plain = {rel: _sops("decrypt", rel, key=a_key, cwd=repo).stdout for rel in PLAIN}
    assert all(plain.values())
    assert _sops("decrypt", "secrets/db.enc.yaml", key=b_key, cwd=repo).returncode == 0

    _rules(repo, a, c)  # b leaves the team, c joins
    env = {"SOPS_AGE_KEY_FILE": str(a_key), "HOME": str(tmp_path)}
    r = kubecrypt("rotate", "sops", "--dir", str(repo), "--dry-run", env=env)
    assert r.returncode == 0, r.stderr
    assert {rel: (repo / rel).read_bytes() for rel in PLAIN} == before
    r = kubecrypt("rotate", "sops", "--dir", str(repo), env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "3 files rotated (3 of them with new recipients), 2 skipped, 0 failed" in out, out
    assert f"+++ {c}" in out and f"--- {b}" in out
    for rel, text in PLAIN.items():
        after = (repo / rel).read_bytes()
        assert after != before[rel] and b"ENC[" in after
        got = _sops("decrypt", rel, key=c_key, cwd=repo)
        assert got.returncode == 0, got.stderr
        assert got.stdout == plain[rel] and text.split(b"\n")[0][-3:] in got.stdout
        assert _sops("decrypt", rel, key=b_key, cwd=repo).returncode != 0
    assert (repo / "README.md").read_text() == "not a secret\n"

    # A file nobody here can open fails alone; the others are still rotated.
    (repo / "secrets/db.enc.yaml").write_bytes(before["secrets/db.enc.yaml"])
    _rules(repo, a, c)
    r = kubecrypt("rotate", "sops", "--dir", str(repo), env={"SOPS_AGE_KEY_FILE": str(c_key),
                                                              "HOME": str(tmp_path)})
    assert r.returncode == 1
    assert b"failed   " in r.stdout and b"1 failed" in r.stdout and b"error: 1 files" in r.stderr


def test_rotate_sops_dir_without_config(kubecrypt: Run, tmp_path: Path) -> None:
    r = kubecrypt("rotate", "sops", "--dir", str(tmp_path), env={"HOME": str(tmp_path)})
    assert r.returncode == 1 and b"no .sops.yaml" in r.stderr
