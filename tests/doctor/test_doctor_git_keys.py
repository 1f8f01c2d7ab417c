"""git.sealed-foreign-key and git.sops-mac on repositories built with real git: SealedSecrets
sealed with ``kubecrypt seal --cert`` for our key and for a foreign one; sops files encrypted by
the real ``sops`` (age) and then edited by hand."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from doctor_support import PLANTED, commit, findings, init_repo, status

from kubecrypt.sealed.keys import SealingKey, backup_list, certificate_pem, generate_key

pytestmark = pytest.mark.slow  # each case runs the real command
Doctor = Callable[..., tuple[int, dict[str, Any], str]]


def make_key(directory: Path, name: str) -> tuple[SealingKey, Path]:
    private, cert = generate_key(bits=2048)
    key = SealingKey(private, cert, name=f"sealed-secrets-key{name}", namespace="kube-system")
    pem = directory / f"{name}.pem"
    pem.write_bytes(certificate_pem(cert))
    return key, pem


def seal(kubecrypt: Callable[..., Any], cert: Path, name: str, out: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": name, "namespace": "prod"},
              "stringData": {"pw": PLANTED[2]}}
    p = kubecrypt("seal", "--cert", str(cert), "-o", "yaml",
                  input=json.dumps(secret).encode())
    assert p.returncode == 0, p.stderr
    assert PLANTED[2].encode() not in p.stdout
    out.write_bytes(p.stdout)


def keys_dir(directory: Path, *keys: SealingKey) -> Path:
    directory.mkdir()
    backup = directory / "backup.yaml"
    backup.write_text(yaml.safe_dump(backup_list(keys)))
    backup.chmod(0o600)
    return directory


def test_sealed_secret_no_known_key_opens(tmp_path: Path, doctor: Doctor,
                                          kubecrypt: Callable[..., Any]) -> None:
    ours, our_cert = make_key(tmp_path, "ours")
    theirs, their_cert = make_key(tmp_path, "theirs")
    repo = init_repo(tmp_path / "repo")
    (repo / "apps").mkdir()
    seal(kubecrypt, our_cert, "db", repo / "apps" / "db.yaml")
    seal(kubecrypt, their_cert, "api", repo / "apps" / "api.yaml")
    commit(repo, "sealed secrets")
    known = keys_dir(tmp_path / "keys", ours)

    code, report, _ = doctor("--repo", str(repo), "--sealed-keys-dir", str(known))
    got = findings(report, "git.sealed-foreign-key")
    assert [f["subject"] for f in got] == [f"SealedSecret prod/api in {repo}/apps/api.yaml"]
    assert got[0]["severity"] == "medium"
    assert "none of the 1 known sealing keys opens it" in got[0]["evidence"]
    assert got[0]["location"] == {"repo": str(repo), "path": "apps/api.yaml"}
    assert status(report, "git.sealed-foreign-key") == "fail"
    assert code == 0  # medium: below the default --fail-on high
    code, _, _ = doctor("--repo", str(repo), "--sealed-keys-dir", str(known),
                        "--fail-on", "medium")
    assert code == 3

    # Negative: once the other cluster's key is known too, every SealedSecret opens.
    both = keys_dir(tmp_path / "both", ours, theirs)
    code, report, _ = doctor("--repo", str(repo), "--sealed-keys-dir", str(both),
                             "--fail-on", "low")
    assert findings(report, "git.sealed-foreign-key") == []
    assert status(report, "git.sealed-foreign-key") == "pass"
    assert code == 0


def age_identity(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    path.chmod(0o600)
    return next(line.split(": ", 1)[1].strip() for line in path.read_text().splitlines()
                if line.startswith("# public key: "))


def sops_env(home: Path, key_file: Path | None) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "GNUPGHOME"))}
    env.update(HOME=str(home), SOPS_DISABLE_VERSION_CHECK="1")
    if key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key_file)
    return env


def sops_encrypt(recipient: str, plain: Path, env: dict[str, str]) -> str:
    p = subprocess.run(["sops", "--encrypt", "--age", recipient, "--encrypted-regex",
                        "^(data|stringData)$", str(plain)], capture_output=True, text=True,
                       env=env, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


def sops_decrypt(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sops", "--decrypt", str(path)], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def test_sops_mac_fails_after_a_hand_edit(tmp_path: Path, doctor: Doctor) -> None:
    key_file = tmp_path / "age.txt"
    recipient = age_identity(key_file)
    env = sops_env(tmp_path / "home", key_file)
    plain = tmp_path / "secret.yaml"
    plain.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"},
        "stringData": {"password": PLANTED[0], "user": "app"}}))
    encrypted = sops_encrypt(recipient, plain, env)
    repo = init_repo(tmp_path / "repo")
    (repo / "good.enc.yaml").write_text(encrypted)
    # Tampered 1: the namespace (left in the clear by --encrypted-regex, but covered by the
    # MAC) is changed by hand, to land the Secret elsewhere.
    (repo / "moved.enc.yaml").write_text(
        encrypted.replace("namespace: prod", "namespace: kube-system", 1))
    # Tampered 2: an encrypted value is dropped (the MAC covers every value).
    doc = yaml.safe_load(encrypted)
    del doc["stringData"]["user"]
    (repo / "dropped.enc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    # Tampered 3: the ciphertext of a value is edited: its AES-GCM tag fails (sops exits 25
    # before it gets to the MAC; doctor once took that for "no key" and skipped the file).
    blob = re.search(r"password: ENC\[AES256_GCM,data:([^,]+),", encrypted)
    assert blob
    data = blob.group(1)
    (repo / "flipped.enc.yaml").write_text(
        encrypted.replace(data, ("A" if data[0] != "A" else "B") + data[1:], 1))
    commit(repo, "sops secrets")
    # The real sops agrees: it refuses both edited files, and opens the untouched one.
    assert sops_decrypt(repo / "good.enc.yaml", env).returncode == 0
    for bad in ("moved.enc.yaml", "dropped.enc.yaml"):
        p = sops_decrypt(repo / bad, env)
        assert p.returncode != 0 and "MAC mismatch" in p.stderr, (bad, p.stderr)
    p = sops_decrypt(repo / "flipped.enc.yaml", env)
    assert p.returncode == 25 and "message authentication failed" in p.stderr, p.stderr

    code, report, _ = doctor("--repo", str(repo), env=env)
    got = {f["subject"]: f for f in findings(report, "git.sops-mac")}
    assert set(got) == {f"{repo}/moved.enc.yaml", f"{repo}/dropped.enc.yaml",
                        f"{repo}/flipped.enc.yaml"}
    assert all(f["severity"] == "high" for f in got.values())
    assert "MAC does not verify" in got[f"{repo}/moved.enc.yaml"]["evidence"]
    assert "AES-GCM tag fails" in got[f"{repo}/flipped.enc.yaml"]["evidence"]
    assert status(report, "git.sops-mac") == "fail"
    assert status(report, "git.plaintext-secret") == "pass"  # sops files are not plaintext
    assert code == 3

    # Negative: the untouched file alone verifies.
    for bad in ("moved.enc.yaml", "dropped.enc.yaml", "flipped.enc.yaml"):
        (repo / bad).unlink()
    code, report, _ = doctor("--repo", str(repo), env=env)
    assert findings(report, "git.sops-mac") == []
    check = next(c for c in report["checks"] if c["id"] == "git.sops-mac")
    assert check["status"] == "pass" and "1 sops files verify" in check["reason"]
    assert code == 0

    # Without the age key the MAC cannot be checked: skipped, and it says why.
    code, report, _ = doctor("--repo", str(repo), env=sops_env(tmp_path / "home2", None))
    check = next(c for c in report["checks"] if c["id"] == "git.sops-mac")
    assert check["status"] == "skipped" and "SOPS_AGE_KEY_FILE" in check["reason"]
