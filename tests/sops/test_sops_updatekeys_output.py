"""``updatekeys`` talks as sops 3.11 does: both tools run on the same file, each in a directory
of its own (same file name, same ``.sops.yaml``), and their stdout and stderr are compared
separately. stdout (the change list, the prompt) must be byte-equal; stderr (Go's log lines)
equal once the time stamps and the directory are masked. Then the two files must both decrypt
to the same plaintext with the identities the rule now names."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import kubecrypt_argv

PLAIN = b"a: 1\nb: text\n"
STAMP = re.compile(rb"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", re.M)


@dataclass
class Ran:
    code: int
    out: bytes
    err: bytes  # time stamps and directory masked
    file: Path


def _env(tmp: Path, identities: Sequence[AgeKey]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "NO_COLOR"))}
    if env.get("PYTHONPATH"):  # the tools run in other directories
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    keys = tmp / "identities.txt"
    keys.write_bytes(b"".join(k.identity_file.read_bytes() for k in identities))
    keys.chmod(0o600)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(SOPS_AGE_KEY_FILE=str(keys), SOPS_DISABLE_VERSION_CHECK="1", HOME=str(home),
               XDG_CONFIG_HOME=str(home / ".cfg"), TERM="dumb")
    return env


def _rule(groups: Sequence[Sequence[AgeKey]], threshold: int | None = None) -> str:
    if len(groups) == 1:
        return "creation_rules:\n  - age: " + ",".join(k.recipient for k in groups[0]) + "\n"
    out = "creation_rules:\n  - "
    out += f"shamir_threshold: {threshold}\n    " if threshold else ""
    out += "key_groups:\n"
    for g in groups:
        out += "      - age: [" + ", ".join(k.recipient for k in g) + "]\n"
    return out


def _encrypted(tmp: Path, env: dict[str, str], groups: Sequence[Sequence[AgeKey]],
               threshold: int | None = None) -> bytes:
    """A file the real sops encrypts for ``groups`` (through a creation rule)."""
    d = tmp / "enc"
    d.mkdir(exist_ok=True)
    (d / ".sops.yaml").write_text(_rule(groups, threshold))
    (d / "p.yaml").write_bytes(PLAIN)
    r = subprocess.run(["sops", "encrypt", "p.yaml"], env=env, cwd=d, capture_output=True,
                       check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _both(tmp: Path, env: dict[str, str], encrypted: bytes, rule: str, args: Sequence[str],
          answer: bytes | None = None, files: Sequence[str] = ("s.enc.yaml",)
          ) -> tuple[Ran, Ran]:
    out = []
    for name, argv in (("sops", ["sops"]), ("kubecrypt", kubecrypt_argv())):
        d = tmp / name
        d.mkdir()
        (d / ".sops.yaml").write_text(rule)
        (d / "s.enc.yaml").write_bytes(encrypted)
        r = subprocess.run([*argv, "updatekeys", *args, *files], env=env, cwd=d,
                           input=answer if answer is not None else b"", capture_output=True,
                           timeout=60, check=False)
        err = STAMP.sub(b"TIME ", r.stderr).replace(str(d).encode(), b"DIR")
        out.append(Ran(r.returncode, r.stdout, err, d / "s.enc.yaml"))
    return out[0], out[1]


def _subdir(tmp: Path, prefix: str) -> Path:
    d = tmp / f"{prefix}-{len(list(tmp.glob(prefix + '-*')))}"
    d.mkdir()
    return d


def _decrypts(ran: Ran, keys: Sequence[AgeKey], tmp: Path) -> bool:
    """Whether the real sops opens the file with exactly these identities."""
    env = _env(_subdir(tmp, "dec"), keys)
    r = subprocess.run(["sops", "decrypt", str(ran.file)], env=env, capture_output=True,
                       check=False)
    return r.returncode == 0 and r.stdout == PLAIN


def _same(s: Ran, k: Ran) -> None:
    assert k.out == s.out, (s.out, k.out)
    assert k.err == s.err, (s.err, k.err)
    assert k.code == s.code


HEADER = b"The following changes will be made to the file's groups:\n"


@pytest.mark.parametrize("case", ["add", "remove", "replace"])
def test_yes_prints_changes_on_stdout_and_log_on_stderr_as_sops(
        case: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    k1, k2, k3 = age_keys["k1"], age_keys["k2"], age_keys["k3"]
    before, after = {"add": ([k1], [k1, k2]), "remove": ([k1, k2], [k2]),
                     "replace": ([k1, k2], [k2, k3])}[case]
    env = _env(tmp_path, [k1, k2])
    s, k = _both(tmp_path, env, _encrypted(tmp_path, env, [before]), _rule([after]), ["-y"])
    _same(s, k)
    assert s.code == 0 and s.out.startswith(HEADER)
    added = [x for x in after if x not in before]
    removed = [x for x in before if x not in after]
    for x in added:
        assert f"+++ {x.recipient}\n".encode() in s.out
    for x in removed:
        assert f"--- {x.recipient}\n".encode() in s.out
    assert s.err == (b"TIME Syncing keys for file DIR/s.enc.yaml\n"
                     b"TIME File DIR/s.enc.yaml synced with new keys\n")
    for ran in (s, k):  # the rule's keys open it, a removed one no more
        assert all(_decrypts(ran, [x], tmp_path) for x in after)
        assert not any(_decrypts(ran, [x], tmp_path) for x in removed)


@pytest.mark.parametrize("answer,updated", [
    (b"y\n", True), (b"n\n", False), (b"maybe\nY\nn\n", False), (b"x\ny\n", True),
    (b"  y  \n", True), (b"y", True),
    (b"", None), (b"\n", None), (b"y n\n", None), (b"yes\n", None),  # fail: exit 1
])
def test_the_question_is_asked_and_read_as_sops_does(
        answer: bytes, updated: bool | None, tmp_path: Path,
        age_keys: dict[str, AgeKey]) -> None:
    k1, k2 = age_keys["k1"], age_keys["k2"]
    env = _env(tmp_path, [k1])
    enc = _encrypted(tmp_path, env, [[k1]])
    s, k = _both(tmp_path, env, enc, _rule([[k1, k2]]), [], answer=answer)
    assert k.out == s.out and k.code == s.code, (s, k)
    assert s.out.count(b"Is this okay? (y/n):") >= 1 and not s.out.endswith(b"\n")
    if updated is None:  # no answer: sops says why in Go's words, kubecrypt in a sentence
        assert s.code == k.code == 1
        assert k.err.startswith(b"TIME Syncing keys for file DIR/s.enc.yaml\nerror: ")
        assert k.err.count(b"\n") == 2 and b"Traceback" not in k.err
        assert s.file.read_bytes() == k.file.read_bytes() == enc
        return
    assert k.err == s.err
    assert s.code == 0
    last = b"synced with new keys" if updated else b"left unchanged"
    assert s.err.endswith(last + b"\n")
    for ran in (s, k):
        assert (ran.file.read_bytes() != enc) is updated
        assert _decrypts(ran, [k2], tmp_path) is updated


def test_shamir_threshold_line_and_groups(tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    k1, k2, k3 = age_keys["k1"], age_keys["k2"], age_keys["k3"]
    env = _env(tmp_path, [k1, k2])
    enc = _encrypted(tmp_path, env, [[k1], [k2]], threshold=2)
    # Threshold kept: sops prints it plain. A key added to group 1, one removed from group 2.
    s, k = _both(tmp_path, env, enc, _rule([[k1, k3], [k2]], threshold=2), ["-y"])
    _same(s, k)
    assert s.out == HEADER + (f"shamir_threshold: 2\nGroup 1\n    {k1.recipient}\n"
                              f"+++ {k3.recipient}\nGroup 2\n    {k2.recipient}\n").encode()
    # Down to one group: the threshold drops to 1 (+++/---), the second group is removed.
    d = tmp_path / "one"
    d.mkdir()
    s, k = _both(d, env, enc, _rule([[k1]]), ["-y"])
    _same(s, k)
    assert s.out == HEADER + (f"+++ shamir_threshold: 1\n--- shamir_threshold: 2\nGroup 1\n"
                              f"    {k1.recipient}\nGroup 2\n--- {k2.recipient}\n").encode()


def test_up_to_date_and_a_new_order_of_the_same_keys(tmp_path: Path,
                                                     age_keys: dict[str, AgeKey]) -> None:
    k1, k2 = age_keys["k1"], age_keys["k2"]
    env = _env(tmp_path, [k1])
    enc = _encrypted(tmp_path, env, [[k1, k2]])
    s, k = _both(tmp_path, env, enc, _rule([[k2, k1]]), [])  # no question: nothing to do
    _same(s, k)
    assert s.code == 0 and s.out == b""
    assert s.err.endswith(b"TIME File DIR/s.enc.yaml already up to date\n")
    assert s.file.read_bytes() == k.file.read_bytes() == enc


def test_changes_are_shown_before_the_data_key_is_needed(tmp_path: Path,
                                                         age_keys: dict[str, AgeKey]) -> None:
    k1, k2, stranger = age_keys["k1"], age_keys["k2"], age_keys["stranger"]
    enc = _encrypted(tmp_path, _env(tmp_path, [k1]), [[k1]])
    env = _env(_subdir(tmp_path, "id"), [stranger])  # no identity for the file
    s, k = _both(tmp_path, env, enc, _rule([[k1, k2]]), ["-y"])
    assert s.code == k.code == 128 and k.out == s.out and s.out.startswith(HEADER)
    assert b"Traceback" not in k.err
    assert s.file.read_bytes() == k.file.read_bytes() == enc


def test_several_files_go_on_past_a_failure(tmp_path: Path,
                                            age_keys: dict[str, AgeKey]) -> None:
    k1, k2 = age_keys["k1"], age_keys["k2"]
    env = _env(tmp_path, [k1])
    enc = _encrypted(tmp_path, env, [[k1]])
    s, k = _both(tmp_path, env, enc, _rule([[k1, k2]]), ["-y"],
                 files=("missing.yaml", "s.enc.yaml"))
    assert s.code == k.code == 1 and k.out == s.out and s.out.startswith(HEADER)
    for ran in (s, k):
        assert b"File DIR/s.enc.yaml synced with new keys" in ran.err
        assert _decrypts(ran, [k2], tmp_path)
    assert b"missing.yaml" in k.err and b"Traceback" not in k.err


def _on_a_terminal(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bytes]:
    """Runs with stdout on a pseudo-terminal (stdin and stderr not), returns what it showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=slave, stdin=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(timeout=60), shown


@pytest.mark.parametrize("term,colour", [("xterm", True), ("dumb", False)])
def test_colours_on_a_terminal_as_sops(term: str, colour: bool, tmp_path: Path,
                                       age_keys: dict[str, AgeKey]) -> None:
    k1, k2, k3 = age_keys["k1"], age_keys["k2"], age_keys["k3"]
    env = {**_env(tmp_path, [k1, k2]), "TERM": term}
    enc = _encrypted(tmp_path, env, [[k1, k2]])
    shown = []
    for name, argv in (("sops", ["sops"]), ("kubecrypt", kubecrypt_argv())):
        d = tmp_path / name
        d.mkdir()
        (d / ".sops.yaml").write_text(_rule([[k1, k3]]))
        (d / "s.enc.yaml").write_bytes(enc)
        code, out = _on_a_terminal([*argv, "updatekeys", "-y", "s.enc.yaml"], env, d)
        assert code == 0
        shown.append(out)
    assert shown[1] == shown[0]
    assert (b"\x1b[4mGroup 1\r\n\x1b[0m" in shown[0]) is colour
    assert (f"\x1b[32m+++ {k3.recipient}\r\n\x1b[0m".encode() in shown[0]) is colour
    assert (f"\x1b[31m--- {k2.recipient}\r\n\x1b[0m".encode() in shown[0]) is colour
