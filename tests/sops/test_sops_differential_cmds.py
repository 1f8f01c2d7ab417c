"""Differential hunt on sops' commands and PGP keys: ``kubecrypt sops`` against the real sops
3.11 and gpg (throw-away keyrings), for ``edit`` with a scripted editor, ``exec-env`` and
``exec-file``, and PGP encryption and decryption. Each case here once differed."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import AgeKey, gpg_key
from .sopsdiff import env_for, kc, sops, sops_encrypted


def _same_failure(theirs: subprocess.CompletedProcess[bytes],
                  ours: subprocess.CompletedProcess[bytes]) -> None:
    assert ours.returncode == theirs.returncode, (theirs.stderr, ours.stderr)
    assert b"Traceback" not in ours.stderr


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """(GNUPGHOME, [primary fingerprint, subkey fingerprint]) of a key without passphrase."""
    with gpg_key(tmp_path_factory, "kubecrypt cmds <cmds@test.invalid>") as key:
        yield key


# ------------------------------------------------------------------------------------ PGP

@pytest.mark.parametrize("which", [
    "short id",        # the last 8 hex digits: gpg refuses it as --trusted-key (sops exit 1)
    "name",            # a user id, not a key id
    "trailing comma",  # an empty fingerprint after the comma is a key of its own in sops
])
def test_pgp_recipient_sops_refuses_is_refused(which: str, gnupg: tuple[str, list[str]],
                                                age_keys: dict[str, AgeKey],
                                                tmp_path: Path) -> None:
    """sops passes the fingerprint's last 16 hex digits to gpg as --trusted-key, so a short
    key ID, a name or an empty entry fails to encrypt (exit 1); kubecrypt wrote a file."""
    home, (fp, _) = gnupg
    value = {"short id": fp[-8:], "name": "cmds@test.invalid", "trailing comma": fp + ","}[which]
    env = {**env_for(age_keys["k1"], str(tmp_path)), "GNUPGHOME": home}
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    theirs = sops("encrypt", "--pgp", value, "p.yaml", env=env, cwd=tmp_path)
    ours = kc("encrypt", "--pgp", value, "p.yaml", env=env, cwd=tmp_path)
    assert theirs.returncode == 1, theirs.stderr
    _same_failure(theirs, ours)
    assert ours.stdout == b"" and b"is not a valid long keyID" in ours.stderr


@pytest.mark.parametrize("which", ["long id", "subkey", "spaced", "lower case"])
def test_pgp_recipient_sops_takes_opens_in_both(which: str, gnupg: tuple[str, list[str]],
                                                age_keys: dict[str, AgeKey],
                                                tmp_path: Path) -> None:
    home, (fp, sub) = gnupg
    value = {"long id": fp[-16:], "subkey": sub,
             "spaced": " ".join(fp[i:i + 4] for i in range(0, 40, 4)),
             "lower case": fp.lower()}[which]
    env = {**env_for(age_keys["k1"], str(tmp_path)), "GNUPGHOME": home,
           "SOPS_AGE_KEY_FILE": str(tmp_path / "none")}
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    ours = kc("encrypt", "--pgp", value, "p.yaml", env=env, cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    (tmp_path / "k.yaml").write_bytes(ours.stdout)
    back = sops("decrypt", "k.yaml", env=env, cwd=tmp_path)
    assert back.returncode == 0 and back.stdout == b"a: 1\n", back.stderr


def test_gpg_that_prints_nothing_fails_like_sops(gnupg: tuple[str, list[str]],
                                                  age_keys: dict[str, AgeKey],
                                                  tmp_path: Path) -> None:
    """A gpg that succeeds with no output (an old gpg dropping an AEAD packet): sops reports
    "zero bytes returned" and exits 128; kubecrypt crashed with a traceback (exit 1)."""
    home, (fp, _) = gnupg
    env = {**env_for(age_keys["k1"], str(tmp_path)), "GNUPGHOME": home,
           "SOPS_AGE_KEY_FILE": str(tmp_path / "none")}
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    enc = sops("encrypt", "--pgp", fp, "p.yaml", env=env, cwd=tmp_path)
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    env["SOPS_GPG_EXEC"] = "true"
    theirs = sops("decrypt", "e.yaml", env=env, cwd=tmp_path)
    ours = kc("decrypt", "e.yaml", env=env, cwd=tmp_path)
    assert theirs.returncode == 128
    _same_failure(theirs, ours)
    assert b"zero bytes returned" in ours.stderr


def test_pgp_key_missing_at_decrypt_reports_as_sops(gnupg: tuple[str, list[str]],
                                                    age_keys: dict[str, AgeKey],
                                                    tmp_path: Path) -> None:
    """No secret key for either recipient: the report is sops' word for word (gpg's whole
    stderr, sops' OpenPGP attempt first, a blank indented line between the keys)."""
    home, (fp, _) = gnupg
    empty = tmp_path / "empty-gpg"
    empty.mkdir(mode=0o700)
    subprocess.run(["gpg", "--batch", "--list-keys"], env={**os.environ, "GNUPGHOME": str(empty)},
                   check=True, capture_output=True)  # the keybox: gpg says when it creates it
    env = {**env_for(age_keys["k1"], str(tmp_path)), "GNUPGHOME": home}
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    enc = sops("encrypt", "--pgp", fp, "--age", age_keys["k1"].recipient, "p.yaml", env=env,
               cwd=tmp_path)
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    env.update(GNUPGHOME=str(empty), SOPS_AGE_KEY_FILE=str(age_keys["k2"].identity_file))
    try:
        theirs = sops("decrypt", "e.yaml", env=env, cwd=tmp_path)
        ours = kc("decrypt", "e.yaml", env=env, cwd=tmp_path)
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"],
                       env={**os.environ, "GNUPGHOME": str(empty)}, check=False,
                       capture_output=True)
    assert theirs.returncode == 128
    _same_failure(theirs, ours)
    assert ours.stderr.decode() == "error: " + theirs.stderr.decode()


# ----------------------------------------------------------------------------------- edit

def _edit(ext: str, text: bytes, script: str, key: AgeKey, tmp_path: Path,
          ) -> tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes],
                     Path, Path]:
    """Both tools edit a copy of the same sops file with ``sh -c script``."""
    env = env_for(key, str(tmp_path))
    (tmp_path / f"p.{ext}").write_bytes(text)
    enc = sops("encrypt", "--age", key.recipient, f"p.{ext}", env=env, cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    s, k = tmp_path / f"s.{ext}", tmp_path / f"k.{ext}"
    s.write_bytes(enc.stdout)
    k.write_bytes(enc.stdout)
    env["EDITOR"] = f"sh -c {shlex.quote(script)} ed"
    return (sops("edit", s.name, env=env, cwd=tmp_path, input=b""),
            kc("edit", k.name, env=env, cwd=tmp_path, input=b""), s, k)


@pytest.mark.parametrize("ext,text", [("yaml", b"a: 1\n"), ("json", b'{"a": 1}\n'),
                                      ("env", b"A=1\n"), ("ini", b"[s]\na = 1\n"),
                                      ("bin", b"hello\n")])
def test_edit_whose_editor_fails_exits_201(ext: str, text: bytes, age_keys: dict[str, AgeKey],
                                           tmp_path: Path) -> None:
    """sops: "Could not run editor: exit status 3", exit 201 (kubecrypt exited 1); the file
    is left as it was in both."""
    theirs, ours, s, k = _edit(ext, text, "exit 3", age_keys["k1"], tmp_path)
    assert theirs.returncode == 201
    _same_failure(theirs, ours)
    assert b"Could not run editor: exit status 3" in ours.stderr
    assert k.read_bytes() == s.read_bytes()


def test_edit_that_empties_a_yaml_file_keeps_it_openable(age_keys: dict[str, AgeKey],
                                                         tmp_path: Path) -> None:
    """Where sops is wrong (docs/sops.md): a YAML file emptied in the editor is written by
    sops 3.11 as an empty file, metadata and all gone: nobody can open it again ("sops
    metadata not found"). kubecrypt writes the empty mapping, encrypted, which both open."""
    env = env_for(age_keys["k1"], str(tmp_path))
    theirs, ours, s, k = _edit("yaml", b"a: 1\n", ': > "$1"', age_keys["k1"], tmp_path)
    assert theirs.returncode == 0 and s.read_bytes() == b""
    assert sops("decrypt", s.name, env=env, cwd=tmp_path).returncode == 1
    assert ours.returncode == 0, ours.stderr
    for tool in (sops, kc):
        r = tool("decrypt", k.name, env=env, cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == b"{}\n", r.stderr


# ------------------------------------------------------------------------- exec-env/file

def _sops_file(key: AgeKey, tmp_path: Path) -> dict[str, str]:
    return sops_encrypted(key, tmp_path, b"A: 1\nB: hi\n", "e.yaml")


@pytest.mark.parametrize("args,code,message", [
    (["exec-env", "e.yaml", "exit 7"], 7, b"exit status 7"),
    (["exec-env", "e.yaml", "kill -9 $$"], 255, b"signal: killed"),
    (["exec-file", "e.yaml", "cat {} >/dev/null; exit 9"], 9, b"exit status 9"),
    (["exec-file", "--no-fifo", "e.yaml", "exit 9"], 9, b"exit status 9"),
])
def test_exec_command_failure_passed_on_as_sops(args: list[str], code: int, message: bytes,
                                                age_keys: dict[str, AgeKey],
                                                tmp_path: Path) -> None:
    """sops exits with the command's status and says so ("exit status 7"); a command killed
    by a signal exits 255 ("signal: killed"), kubecrypt exited 247 and said nothing."""
    env = _sops_file(age_keys["k1"], tmp_path)
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == code and message in theirs.stderr
    _same_failure(theirs, ours)
    assert message in ours.stderr


def test_exec_file_without_placeholder_runs_the_command_as_given(
        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """sops replaces ``{}`` and nothing else; kubecrypt appended the file's path to a command
    without ``{}``."""
    env = _sops_file(age_keys["k1"], tmp_path)
    for extra in ([], ["--no-fifo"]):
        args = ["exec-file", *extra, "e.yaml", "echo nobrace"]
        theirs = sops(*args, env=env, cwd=tmp_path)
        ours = kc(*args, env=env, cwd=tmp_path)
        assert theirs.returncode == ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout == b"nobrace\n"


@pytest.mark.parametrize("command", ["exec-env", "exec-file"])
def test_exec_takes_decryption_order(command: str, age_keys: dict[str, AgeKey],
                                     tmp_path: Path) -> None:
    """sops' exec-env and exec-file take --decryption-order; kubecrypt refused the flag."""
    env = _sops_file(age_keys["k1"], tmp_path)
    args = [command, "--decryption-order", "age", "e.yaml",
            "echo $A" if command == "exec-env" else "cat {}"]
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


# ------------------------------------------------------------------------------------ set

@pytest.mark.parametrize("missing", ["nonexist.json", "adir"])
def test_set_value_file_that_cannot_be_read(missing: str, age_keys: dict[str, AgeKey],
                                            tmp_path: Path) -> None:
    """sops: "open nonexist.json: no such file or directory", exit 1, the file untouched;
    kubecrypt crashed with a traceback."""
    env = _sops_file(age_keys["k1"], tmp_path)
    (tmp_path / "adir").mkdir()
    before = (tmp_path / "e.yaml").read_bytes()
    theirs = sops("set", "--value-file", "e.yaml", '["A"]', missing, env=env, cwd=tmp_path)
    ours = kc("set", "--value-file", "e.yaml", '["A"]', missing, env=env, cwd=tmp_path)
    assert theirs.returncode == 1
    _same_failure(theirs, ours)
    assert ours.stderr.startswith(b"error: ") and missing.encode() in ours.stderr
    assert (tmp_path / "e.yaml").read_bytes() == before


# ---------------------------------------------------------------- filestatus and version

@pytest.mark.parametrize("version", ["1.0", "1", "x", "3.11", "3.11.0.1", "03.1.0", "v3.1.0",
                                     "3.11.0-rc1", "3..0", "''"])
def test_file_version_read_as_sops_reads_it(version: str, age_keys: dict[str, AgeKey],
                                            tmp_path: Path) -> None:
    """sops checks the file's version only while decrypting (blang/semver's Make, and a "1."
    version passes as sops 1.x's); filestatus only asks that a version and a MAC be there.
    kubecrypt refused "1.0" (which sops opens), took "3.11.0.1", and failed filestatus on
    any version it could not parse."""
    env = _sops_file(age_keys["k1"], tmp_path)
    text = (tmp_path / "e.yaml").read_bytes().replace(b"version: 3.11.0",
                                                      f"version: {version}".encode())
    (tmp_path / "v.yaml").write_bytes(text)
    for args in (["filestatus", "v.yaml"], ["decrypt", "v.yaml"]):
        theirs = sops(*args, env=env, cwd=tmp_path)
        ours = kc(*args, env=env, cwd=tmp_path)
        assert ours.returncode == theirs.returncode, (args, theirs.stderr, ours.stderr)
        assert ours.stdout == theirs.stdout
        if theirs.returncode:
            assert ours.stderr == b"error: " + theirs.stderr


def test_filestatus_without_a_mac_is_not_encrypted(age_keys: dict[str, AgeKey],
                                                   tmp_path: Path) -> None:
    env = _sops_file(age_keys["k1"], tmp_path)
    text = (tmp_path / "e.yaml").read_bytes().replace(b"    mac:", b"    not_mac:")
    (tmp_path / "v.yaml").write_bytes(text)
    theirs = sops("filestatus", "v.yaml", env=env, cwd=tmp_path)
    ours = kc("filestatus", "v.yaml", env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == 0
    assert ours.stdout == theirs.stdout == b'{"encrypted":false}\n'


def test_edit_takes_decryption_order(age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """sops' edit takes --decryption-order; kubecrypt refused the flag."""
    theirs, ours, s, k = _edit("yaml", b"a: 1\n", 'sed -i s/1/2/ "$1"', age_keys["k1"], tmp_path)
    env = env_for(age_keys["k1"], str(tmp_path))
    env["EDITOR"] = "sh -c " + shlex.quote('sed -i s/2/3/ "$1"') + " ed"
    theirs = sops("edit", "--decryption-order", "age", s.name, env=env, cwd=tmp_path)
    ours = kc("edit", "--decryption-order", "age", k.name, env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == 0, ours.stderr
    for f in (s, k):
        assert sops("decrypt", f.name, env=env, cwd=tmp_path).stdout == b"a: 3\n"


def test_exec_env_value_with_nul_is_refused(age_keys: dict[str, AgeKey],
                                           tmp_path: Path) -> None:
    """A JSON string holding U+0000: sops fails ("exec: environment variable contains NUL",
    exit 1); kubecrypt crashed with a traceback."""
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.json").write_bytes(b'{"S": "a\\u0000b", "T": "ok"}')
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, "p.json", env=env, cwd=tmp_path)
    (tmp_path / "e.json").write_bytes(enc.stdout)
    theirs = sops("exec-env", "e.json", "echo ran", env=env, cwd=tmp_path)
    ours = kc("exec-env", "e.json", "echo ran", env=env, cwd=tmp_path)
    assert theirs.returncode == 1 and b"contains NUL" in theirs.stderr
    _same_failure(theirs, ours)
    assert ours.stdout == b"" and b"contains NUL" in ours.stderr
