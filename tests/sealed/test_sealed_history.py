"""``kubecrypt sealed history-audit`` over a synthetic repository built with git: SealedSecrets
sealed with key A, later re-sealed with key B, then deleted; a rename; a branch never merged;
a SealedSecret inside a JSON List; a SOPS file to a revoked age key. Key A finds exactly the
items A opens anywhere in history, and no output holds a plaintext value."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from kubecrypt.history import gitwalk
from kubecrypt.sealed.keys import sealing_public_key
from kubecrypt.sealed.scope import Scope
from kubecrypt.sealed.seal import SealOptions, seal_secret

HMAC_KEY = b"0123456789abcdef-test-hmac-key"
VALUES = {  # every plaintext in the repository; none may appear in any output
    "db-password-a": b"pw-A-1-hunter2", "db-user": b"admin-A", "db-password-b": b"pw-B-2-hunter3",
    "api-token": b"tok-in-a-list", "feat": b"feature-only-value", "feat-b": b"feature-b-value",
    "wide": b"namespace-wide-value", "sops": b"sops-plaintext-value",
}

pytestmark = pytest.mark.slow  # each case runs the CLI in subprocesses


def _git(repo: Path, *args: str, when: int | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{1700000000 + when * 100} +0000"
    return subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def _sealed(cert: Path, name: str, items: dict[str, bytes], scope: Scope = Scope.STRICT
            ) -> dict:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "app"},
              "data": {k: base64.b64encode(v).decode() for k, v in items.items()}}
    return seal_secret(secret, sealing_public_key(cert.read_bytes()), SealOptions(scope=scope))


def _commit(repo: Path, message: str, when: int) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message, when=when)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path, sealed_dir):
    keys = sealed_dir / "keys"
    a, b = keys / "rsa2048-a.crt.pem", keys / "rsa2048-b.crt.pem"
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "apps").mkdir()
    (repo / "apps" / "db.yaml").write_text(yaml.safe_dump(_sealed(a, "db", {
        "password": VALUES["db-password-a"], "user": VALUES["db-user"]})))
    listed = {"apiVersion": "v1", "kind": "List",
              "items": [_sealed(a, "api", {"token": VALUES["api-token"]})]}
    (repo / "list.json").write_text(json.dumps(listed, indent=2))
    # Two documents in one file: a namespace-wide one sealed with A, a Secret that is not sealed.
    (repo / "multi.yaml").write_text(
        yaml.safe_dump(_sealed(a, "wide", {"v": VALUES["wide"]}, Scope.NAMESPACE_WIDE))
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (repo / "README.md").write_text("hello\n")
    c1 = _commit(repo, "c1: sealed with A", 1)

    _git(repo, "checkout", "-q", "-b", "feature")  # a branch that is never merged
    (repo / "feature.yaml").write_text(yaml.safe_dump(_sealed(a, "feat", {"k": VALUES["feat"]}))
                                       + "---\n" + yaml.safe_dump(_sealed(b, "featb", {
                                           "k": VALUES["feat-b"]})))
    feature = _commit(repo, "feature: more", 2)
    _git(repo, "checkout", "-q", "main")

    (repo / "apps" / "db.yaml").write_text(yaml.safe_dump(_sealed(b, "db", {
        "password": VALUES["db-password-b"], "user": VALUES["db-user"]})))
    sops_env = dict(os.environ, SOPS_AGE_RECIPIENTS="")
    plain = tmp_path / "s.yaml"
    plain.write_text(f"password: {VALUES['sops'].decode()}\n")
    for name, recipients in (("revoked.enc.yaml", "REVOKED,OTHER"), ("fine.enc.yaml", "OTHER")):
        enc = subprocess.run(
            ["sops", "--encrypt", "--age", recipients.replace("REVOKED", REVOKED_AGE)
             .replace("OTHER", OTHER_AGE), str(plain)], capture_output=True, env=sops_env,
            cwd=tmp_path, check=True).stdout
        (repo / name).write_bytes(enc)
    c2 = _commit(repo, "c2: re-sealed with B, sops files", 3)

    _git(repo, "mv", "list.json", "lists-all.json")
    c3 = _commit(repo, "c3: rename", 4)
    _git(repo, "rm", "-q", "apps/db.yaml")
    c4 = _commit(repo, "c4: delete", 5)
    return {"repo": repo, "c1": c1, "c2": c2, "c3": c3, "c4": c4, "feature": feature}


REVOKED_AGE = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
OTHER_AGE = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


def _hmac(value: bytes) -> str:
    return hmac.new(HMAC_KEY, value, hashlib.sha256).hexdigest()


def _audit(run_kubecrypt, tmp_path, repo, *args: str):
    key_file = tmp_path / "hmac.key"
    key_file.write_bytes(HMAC_KEY)
    result = run_kubecrypt("sealed", "history-audit", "--repo", str(repo), "--hmac-key-file",
                           str(key_file), *args)
    assert result.returncode == 0, result.stderr.decode()
    _no_plaintext(result.stdout + result.stderr)
    return result


def _no_plaintext(output: bytes) -> None:
    for value in VALUES.values():
        assert value not in output
        assert base64.b64encode(value) not in output


def test_key_a_finds_exactly_what_it_opens_anywhere(run_kubecrypt, sealed_dir, tmp_path,
                                                     history):
    h = history
    key_a = sealed_dir / "keys" / "rsa2048-a.key.pem"
    result = _audit(run_kubecrypt, tmp_path, h["repo"], "--key", str(key_a), "-o", "json")
    exposed = json.loads(result.stdout)["exposed"]
    got = {(e["kind"], e["namespace"], e["name"], e["item"], e["scope"], e["first_commit"],
            e["last_commit"], tuple(e["paths"]), e["value_hmac"], e["live"]) for e in exposed}
    s = "SealedSecret"
    assert got == {
        # re-sealed with B in c2 and deleted in c4: last held by the unmerged branch
        (s, "app", "db", "password", "strict", h["c1"], h["feature"], ("apps/db.yaml",),
         _hmac(VALUES["db-password-a"]), None),
        (s, "app", "db", "user", "strict", h["c1"], h["feature"], ("apps/db.yaml",),
         _hmac(VALUES["db-user"]), None),
        # inside a JSON List, renamed in c3, still on main
        (s, "app", "api", "token", "strict", h["c1"], h["c4"], ("list.json", "lists-all.json"),
         _hmac(VALUES["api-token"]), None),
        (s, "app", "wide", "v", "namespace-wide", h["c1"], h["c4"], ("multi.yaml",),
         _hmac(VALUES["wide"]), None),
        # only on the branch never merged
        (s, "app", "feat", "k", "strict", h["feature"], h["feature"], ("feature.yaml",),
         _hmac(VALUES["feat"]), None),
    }
    # Nothing sealed with B: the re-sealed password and the branch's second object.
    assert _hmac(VALUES["db-password-b"]) not in result.stdout.decode()
    assert all(e["key"] == exposed[0]["key"] for e in exposed)


def test_key_b_finds_only_b(run_kubecrypt, sealed_dir, tmp_path, history):
    key_b = sealed_dir / "keys" / "rsa2048-b.key.pem"
    exposed = json.loads(_audit(run_kubecrypt, tmp_path, history["repo"], "--key", str(key_b),
                                "-o", "json").stdout)["exposed"]
    assert {(e["name"], e["item"], e["value_hmac"]) for e in exposed} == {
        ("db", "password", _hmac(VALUES["db-password-b"])),
        ("db", "user", _hmac(VALUES["db-user"])),
        ("featb", "k", _hmac(VALUES["feat-b"]))}
    db = next(e for e in exposed if e["item"] == "password")
    assert (db["first_commit"], db["last_commit"]) == (history["c2"], history["c3"])


def test_revoked_age_recipient(run_kubecrypt, tmp_path, history):
    exposed = json.loads(_audit(run_kubecrypt, tmp_path, history["repo"], "--revoked-age",
                                REVOKED_AGE, "-o", "json").stdout)["exposed"]
    assert exposed == [{
        "kind": "sops", "namespace": "", "name": "", "item": REVOKED_AGE, "scope": None,
        "first_commit": history["c2"], "last_commit": history["c4"],
        "paths": ["revoked.enc.yaml"], "value_hmac": None, "live": None, "key": REVOKED_AGE}]


def test_table_output_and_random_hmac_key(run_kubecrypt, sealed_dir, tmp_path, history):
    key_a = str(sealed_dir / "keys" / "rsa2048-a.key.pem")
    table = _audit(run_kubecrypt, tmp_path, history["repo"], "--key", key_a)
    text = table.stdout.decode()
    assert "app/db" in text and "list.json, lists-all.json" in text
    assert "5 exposed in 5 commits" in table.stderr.decode()
    # Without --hmac-key-file the hashes differ per run: nothing to compare against offline.
    runs = [run_kubecrypt("sealed", "history-audit", "--repo", str(history["repo"]), "--key",
                          key_a, "-o", "json") for _ in range(2)]
    hashes = [{e["value_hmac"] for e in json.loads(r.stdout)["exposed"]} for r in runs]
    assert hashes[0].isdisjoint(hashes[1])
    for r in runs:
        _no_plaintext(r.stdout + r.stderr)


def test_bad_input(run_kubecrypt, sealed_dir, tmp_path):
    key_a = str(sealed_dir / "keys" / "rsa2048-a.key.pem")
    cases = [
        (("--repo", str(tmp_path)), "give the leaked key with --key FILE (or --revoked-age / "
                                    "--revoked-pgp for SOPS files)"),
        (("--repo", str(tmp_path), "--key", key_a),
         f"{tmp_path} is not a Git repository; pass one with --repo"),
        (("--repo", str(tmp_path / "nope"), "--key", key_a), None),
        (("--repo", str(tmp_path), "--key", str(tmp_path / "k.pem")),
         f"cannot read key file {tmp_path / 'k.pem'}: No such file or directory"),
    ]
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    cases.append((("--repo", str(tmp_path), "--key", key_a, "--hmac-key-file", str(short)),
                  f"--hmac-key-file {short} holds 3 bytes; use at least 16 random bytes "
                  "(head -c 32 /dev/urandom > FILE)"))
    for args, message in cases:
        result = run_kubecrypt("sealed", "history-audit", *args)
        assert result.returncode != 0, args
        assert b"Traceback" not in result.stderr
        if message:
            assert result.stderr.decode() == f"error: {message}\n"


def test_replay_reads_each_blob_once(history, monkeypatch):
    """The walk asks git cat-file --batch for each blob exactly once."""
    asked: list[list[str]] = []
    real = gitwalk.read_blobs

    def spy(repo, oids):
        asked.append(list(oids))
        return real(repo, oids)

    monkeypatch.setattr(gitwalk, "read_blobs", spy)
    from kubecrypt.history.audit import audit
    audit(history["repo"], [], HMAC_KEY, {REVOKED_AGE}, set())
    assert len(asked) == 1 and len(asked[0]) == len(set(asked[0]))
