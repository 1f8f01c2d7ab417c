"""Where the input comes from and what its name says, as the real sops 3.11 decides it: stdin
without ``--filename-override`` (encrypt refuses it, decrypt uses the binary store of an
empty name), ``-`` as a plain file name, a missing FILE in sops' older ``-d``/``-e``/``-r``
form and for ``rotate``, case-sensitive extensions, and ``edit`` with an ``--input-type`` the
file's name does not have (the editor sees the name's format, as in sops' editTree). Every
command runs through the console entry point (the click-free fast path where it applies) and
forced through click; both must give sops' exit code and stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import env_for, kc, sops

_CLICK = "import sys\nfrom kubecrypt.cli.app import main\nmain(sys.argv[1:])\n"


def _click(*args: str, env: dict[str, str], cwd: Path,
           input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", _CLICK, "sops", *args], env=env, cwd=cwd,
                          input=input, capture_output=True, timeout=60, check=False)


def _setup(tmp_path: Path, key: AgeKey) -> dict[str, str]:
    env = env_for(key, str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: 1\nb: x\n")
    enc = sops("encrypt", "--age", key.recipient, "p.yaml", env=env, cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    return env


@pytest.mark.parametrize("cmd", [
    ["encrypt", "--age", "@", "--input-type", "yaml"],              # exit 8: needs the name
    ["encrypt", "--age", "@", "--input-type", "yaml", "--output-type", "yaml"],
    ["encrypt", "--age", "@", "--input-type", "yaml", "-"],         # "-" is a file: exit 100
    ["decrypt", "--input-type", "yaml"],                            # binary output: exit 4
    ["decrypt"],                                                    # binary input: exit 1
    ["decrypt", "--output-type", "yaml"],
    ["decrypt", "--input-type", "yaml", "-"],
    ["decrypt", "-"],
    ["-d"], ["--decrypt", "--input-type", "yaml"], ["-e", "--age", "@"],   # exit 100
    ["rotate"], ["rotate", "--input-type", "yaml"], ["-r"],
    ["decrypt", "e.yaml", "x"], ["filestatus", "e.yaml", "x"],      # extra ones: ignored
    ["rotate", "-i", "e.yaml", "x"],
])
def test_stdin_and_missing_files_like_sops(cmd: list[str], tmp_path: Path,
                                           age_keys: dict[str, AgeKey]) -> None:
    env = _setup(tmp_path, age_keys["k1"])
    args = [age_keys["k1"].recipient if a == "@" else a for a in cmd]
    data = (tmp_path / ("p.yaml" if "encrypt" in cmd or "-e" in cmd else "e.yaml")).read_bytes()
    theirs = sops(*args, env=env, cwd=tmp_path, input=data)
    for tool in (kc, _click):
        ours = tool(*args, env=env, cwd=tmp_path, input=data)
        assert b"Traceback" not in ours.stderr, ours.stderr
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), (
            tool, ours.stderr, theirs.stderr)


@pytest.mark.parametrize("name", ["P.YAML", "p.Json", "p.ENV"])
def test_extensions_are_case_sensitive_like_sops(name: str, tmp_path: Path,
                                                 age_keys: dict[str, AgeKey]) -> None:
    # sops' FormatForPath: "P.YAML" is a binary file (the whole file is one value).
    env = _setup(tmp_path, age_keys["k1"])
    (tmp_path / name).write_bytes(b"a: 1\n")
    r = age_keys["k1"].recipient
    encrypted = {}
    for tool in (sops, kc, _click):
        out = tool("encrypt", "--age", r, name, env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        encrypted[tool] = out.stdout
        assert out.stdout.startswith(b'{\n\t"data": "ENC['), tool
    for enc in encrypted.values():
        (tmp_path / ("e" + name)).write_bytes(enc)
        results = [tool("decrypt", "e" + name, env=env, cwd=tmp_path)
                   for tool in (sops, kc, _click)]
        assert {(x.returncode, x.stdout) for x in results} == {(0, b"a: 1\n")}


_EDITOR = """#!/bin/sh
cat "$1" >> "{seen}"
if head -c1 "$1" | grep -q '{{'; then sed -i '1s/^{{/{{"added": 1,/' "$1"
else printf 'added: 1\\n' >> "$1"; fi
"""


@pytest.mark.parametrize(("name", "extra"), [
    ("e.txt", ["--input-type", "yaml"]),     # binary by name: cannot hold a:, b: (exit 4)
    ("e.ini", ["--input-type", "yaml"]),     # INI needs sections (exit 4)
    ("e.json", ["--input-type", "yaml"]),    # the editor sees JSON, YAML reads it back
    ("e.yaml", ["--output-type", "json"]),   # edited as JSON, written back as JSON
])
def test_edit_shows_the_format_of_the_name_like_sops(
        name: str, extra: list[str], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = _setup(tmp_path, age_keys["k1"])
    enc = (tmp_path / "e.yaml").read_bytes()
    results = []
    for tool in (sops, kc, _click):
        seen = tmp_path / "seen"
        seen.write_bytes(b"")
        editor = tmp_path / "ed.sh"
        editor.write_text(_EDITOR.format(seen=seen))
        editor.chmod(0o755)
        f = tmp_path / name
        f.write_bytes(enc)
        r = tool("edit", *extra, name, env={**env, "EDITOR": str(editor)}, cwd=tmp_path)
        assert b"Traceback" not in r.stderr, r.stderr
        data = f.read_bytes()
        (tmp_path / "out.txt").write_bytes(data)
        kind = "json" if data.startswith(b"{") else "yaml"
        plain = sops("decrypt", "--input-type", kind, "--output-type", "yaml", "out.txt",
                     env=env, cwd=tmp_path)
        results.append((r.returncode, seen.read_bytes(), kind, plain.returncode, plain.stdout))
    assert results[1] == results[0], (results[1], results[0])
    assert results[2] == results[0], (results[2], results[0])


@pytest.mark.parametrize("cmd", [
    ["edit"], ["filestatus"], ["unset"], ["unset", "e.yaml"],            # exit 100
    ["set"], ["set", "e.yaml"], ["set", "e.yaml", '["a"]'],
    ["set", "--value-stdin", "e.yaml", '["a"]', "1"],
    ["exec-env"], ["exec-env", "e.yaml"], ["exec-file", "e.yaml"],      # exit 1
    ["decrypt", "--nosuch", "e.yaml"], ["decrypt", "--extract"], ["nosuch"],
    ["updatekeys"], ["updatekeys", "@config"],                           # 1, or 100 with one
])
def test_a_wrong_command_line_exits_like_sops(cmd: list[str], tmp_path: Path,
                                              age_keys: dict[str, AgeKey]) -> None:
    # sops counts its positional arguments itself (exit 100, or 1 for exec-env/exec-file);
    # an unknown flag or one without its value is fatal in its CLI library (exit 1, and its
    # help text on stdout: kubecrypt prints its own there). click's own code for all is 2.
    env = _setup(tmp_path, age_keys["k1"])
    if cmd[-1] == "@config":
        cmd = cmd[:-1]
        (tmp_path / ".sops.yaml").write_text(
            f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n")
    theirs = sops(*cmd, env=env, cwd=tmp_path, input=b"")
    assert theirs.returncode in (1, 100), theirs.stderr
    for tool in (kc, _click):
        ours = tool(*cmd, env=env, cwd=tmp_path, input=b"")
        assert b"Traceback" not in ours.stderr, ours.stderr
        assert ours.returncode == theirs.returncode, (tool, ours.stderr, theirs.stderr)
        if theirs.stdout == b"":
            assert ours.stdout == b""
        else:
            assert theirs.stdout.startswith(b"Incorrect Usage")
            assert ours.stdout.startswith(b"Incorrect Usage") and b"\nUsage:" in ours.stdout
