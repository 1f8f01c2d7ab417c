"""Where age identities come from, and what a failure says, as the real sops 3.11 decides it
(age/keysource.go ``loadIdentities`` and ``formatError``): every source is tried, one that fails
is reported beside the others rather than ending the search, and the message lists each
location that gave no key in sops' order."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import kc, sops


def _message(stderr: bytes) -> str:
    """The age part of a 'Failed to get the data key' report, unwrapped (sops folds it at 60
    columns behind '| '), without kubecrypt's 'error: ' prefix."""
    text = stderr.decode()
    text = text.removeprefix("error: ")
    m = re.search(r"FAILED\n    - \| (.*?)\n\nRecovery failed", text, re.S)
    assert m, text
    return re.sub(r"\n\s+\| ", " ", m.group(1))


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SOPS_") and k != "XDG_CONFIG_HOME"}
    env.update(HOME=str(home), SOPS_DISABLE_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture
def encrypted(tmp_path: Path, age_keys: dict[str, AgeKey]) -> Path:
    (tmp_path / "p.yaml").write_bytes(b"a: secret\n")
    r = sops("encrypt", "--age", age_keys["k1"].recipient, "p.yaml",
             env=_env(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (tmp_path / "e.yaml").write_bytes(r.stdout)
    return tmp_path / "e.yaml"


def _both(encrypted: Path, env: dict[str, str]) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    theirs = sops("decrypt", str(encrypted), env=env, cwd=encrypted.parent)
    ours = kc("decrypt", str(encrypted), env=env, cwd=encrypted.parent)
    assert b"Traceback" not in ours.stderr
    return (theirs.returncode, theirs.stdout), (ours.returncode, ours.stdout)


@pytest.mark.parametrize("case", [
    "nothing",              # every location listed, the default key file last
    "default-wrong",        # the default file is read; SOPS_AGE_KEY_FILE listed as unused
    "file-wrong",           # a set variable is not listed, the default file not consulted
    "key-wrong",            # SOPS_AGE_KEY gave a key: the missing default file is not listed
    "file-missing",         # an error beside the unused locations, the default file listed
    "file-empty",           # set but holding no key: listed after SOPS_AGE_KEY_CMD
    "key-empty",            # set to "": a source all the same
    "cmd-fails",
])
def test_failure_lists_what_sops_lists(case: str, encrypted: Path, tmp_path: Path,
                                       age_keys: dict[str, AgeKey]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    wrong = age_keys["k2"].identity_file
    extra: dict[str, str] = {}
    if case == "default-wrong":
        (home / ".config" / "sops" / "age").mkdir(parents=True)
        (home / ".config" / "sops" / "age" / "keys.txt").write_bytes(wrong.read_bytes())
    elif case == "file-wrong":
        extra["SOPS_AGE_KEY_FILE"] = str(wrong)
    elif case == "key-wrong":
        extra["SOPS_AGE_KEY"] = wrong.read_text()
    elif case == "file-missing":
        extra["SOPS_AGE_KEY_FILE"] = str(tmp_path / "no-such-keys.txt")
    elif case == "file-empty":
        (tmp_path / "empty.txt").write_bytes(b"")
        extra["SOPS_AGE_KEY_FILE"] = str(tmp_path / "empty.txt")
    elif case == "key-empty":
        extra["SOPS_AGE_KEY"] = ""
    elif case == "cmd-fails":
        extra["SOPS_AGE_KEY_CMD"] = "false"
    env = _env(home, **extra)
    theirs = sops("decrypt", str(encrypted), env=env, cwd=tmp_path)
    ours = kc("decrypt", str(encrypted), env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == 128
    want, got = _message(theirs.stderr), _message(ours.stderr)
    if case == "cmd-fails":  # Go's and Python's words for the failed command differ
        want, got = (re.sub(r"(from SOPS_AGE_KEY_CMD: ).*?(\. Did not)", r"\1...\2", m)
                     for m in (want, got))
    assert got == want


def test_a_missing_key_file_does_not_stop_the_default_one(encrypted: Path, tmp_path: Path,
                                                          age_keys: dict[str, AgeKey]) -> None:
    """sops reports a SOPS_AGE_KEY_FILE it cannot open and goes on: the default key file still
    opens the file (kubecrypt once failed at the missing file)."""
    home = tmp_path / "home"
    (home / ".config" / "sops" / "age").mkdir(parents=True)
    (home / ".config" / "sops" / "age" / "keys.txt").write_bytes(
        age_keys["k1"].identity_file.read_bytes())
    env = _env(home, SOPS_AGE_KEY_FILE=str(tmp_path / "gone.txt"))
    theirs, ours = _both(encrypted, env)
    assert theirs == ours == (0, b"a: secret\n")
