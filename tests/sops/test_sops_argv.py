"""sops 3.11's command line as its CLI library (urfave/cli v1.22.17) reads it: which
sub-command takes ``--indent`` (none), what a flag error prints where (help on stdout, the
error on stderr, exit 1), and flags after FILE (moved in front in the sub-command form, extra
positional arguments in the older ``-d``/``-e`` form and when unknown). Every command runs
through the console entry point (the click-free fast path where it applies) and forced through
click, against the real sops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubecrypt.cli.sops_argv import reorder_args

from .conftest import AgeKey
from .sopsdiff import kc, sops
from .test_sops_input_names import _click, _setup

_MORE = b"More than one positional argument provided. Only the first one will be used!"
_NAMED = re.compile(rb'ignored positional argument is (".*?"), which looks like a flag')


def _warnings(stderr: bytes) -> tuple[int, list[bytes]]:
    """sops' two warnings about extra positional arguments, whatever the log format (logrus
    escapes the quotes in sops' message)."""
    stderr = stderr.replace(b'\\"', b'"')
    return stderr.count(_MORE), _NAMED.findall(stderr)


# ------------------------------------------------------------------ 1. --indent

@pytest.mark.parametrize("cmd", [
    ["decrypt", "--indent", "4", "e.yaml"], ["encrypt", "--indent", "2", "p.yaml"],
    ["rotate", "--indent", "2", "e.yaml"], ["edit", "--indent", "2", "e.yaml"],
    ["set", "--indent", "2", "e.yaml", '["a"]', "2"], ["decrypt", "--indent=4", "e.yaml"],
])
def test_no_sub_command_takes_indent(cmd: list[str], tmp_path: Path,
                                     age_keys: dict[str, AgeKey]) -> None:
    # cmd/sops/main.go (v3.11.0) defines --indent only among the global flags.
    env = _setup(tmp_path, age_keys["k1"])
    before = (tmp_path / "e.yaml").read_bytes()
    theirs = sops(*cmd, env={**env, "EDITOR": "true"}, cwd=tmp_path, input=b"")
    assert theirs.returncode == 1 and b"-indent" in theirs.stderr
    assert theirs.stdout.startswith(b"Incorrect Usage")
    for tool in (kc, _click):
        ours = tool(*cmd, env={**env, "EDITOR": "true"}, cwd=tmp_path, input=b"")
        assert ours.returncode == 1, ours.stderr
        assert b"--indent" in ours.stderr and b"Traceback" not in ours.stderr
        assert ours.stdout.startswith(b"Incorrect Usage")
    assert (tmp_path / "e.yaml").read_bytes() == before


@pytest.mark.parametrize("cmd", [
    ["--indent", "6", "-d", "e.yaml"], ["-d", "--indent", "6", "e.yaml"],   # honoured
    ["--indent", "6", "decrypt", "e.yaml"],                                 # ignored
    ["-d", "e.yaml", "--indent", "6"],                  # after FILE: positional, ignored
    ["--indent", "x", "decrypt", "e.yaml"], ["--indent", "x", "-d", "e.yaml"],  # exit 1
])
def test_the_global_indent_is_read_where_sops_reads_it(
        cmd: list[str], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = _setup(tmp_path, age_keys["k1"])
    (tmp_path / "e.yaml").write_bytes(
        sops("encrypt", "--age", age_keys["k1"].recipient, "--input-type", "yaml",
             "--output-type", "yaml", "/dev/stdin", env=env, cwd=tmp_path,
             input=b"a:\n  b: [1, 2]\n").stdout)
    theirs = sops(*cmd, env=env, cwd=tmp_path)
    for tool in (kc, _click):
        ours = tool(*cmd, env=env, cwd=tmp_path)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) or (
            theirs.returncode == ours.returncode == 1
            and theirs.stdout.startswith(b"Incorrect Usage")
            and ours.stdout.startswith(b"Incorrect Usage")), (tool, ours.stderr)
        assert _warnings(ours.stderr) == _warnings(theirs.stderr)
    if cmd[:3] == ["--indent", "6", "-d"]:
        assert theirs.stdout == b"a:\n      b:\n            - 1\n            - 2\n"


# ------------------------------------------------------------------ 2. flag errors

@pytest.mark.parametrize(("cmd", "flag"), [
    (["decrypt", "--bogus", "e.yaml"], b"bogus"),
    (["encrypt", "--age", "@", "--bogus", "p.yaml"], b"bogus"),
    (["set", "--bogus", "e.yaml", '["a"]', "2"], b"bogus"),
    (["unset", "--bogus", "e.yaml", '["a"]'], b"bogus"),
    (["rotate", "--bogus", "e.yaml"], b"bogus"),
    (["decrypt", "--output"], b"output"),                      # a flag without its value
    (["encrypt", "--age"], b"age"),
    (["set", "--input-type"], b"input-type"),
    (["encrypt", "--age", "@", "--shamir-secret-sharing-threshold", "x", "p.yaml"],
     b"shamir-secret-sharing-threshold"),                     # not a number
    (["--bogus", "decrypt", "e.yaml"], b"bogus"),              # sops' global flags
    (["--config"], b"config"),
])
def test_a_flag_error_prints_help_on_stdout_and_the_error_on_stderr(
        cmd: list[str], flag: bytes, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops: "Incorrect Usage: flag provided but not defined: -bogus" and the command's help on
    # stdout, the error again on stderr, exit 1. kubecrypt prints its own help there.
    env = _setup(tmp_path, age_keys["k1"])
    cmd = [age_keys["k1"].recipient if a == "@" else a for a in cmd]
    before = (tmp_path / "e.yaml").read_bytes()
    theirs = sops(*cmd, env=env, cwd=tmp_path, input=b"")
    assert theirs.returncode == 1 and theirs.stdout.startswith(b"Incorrect Usage")
    assert flag in theirs.stderr
    for tool in (kc, _click):
        ours = tool(*cmd, env=env, cwd=tmp_path, input=b"")
        assert ours.returncode == 1, ours.stderr
        assert ours.stdout.startswith(b"Incorrect Usage") and b"\nUsage:" in ours.stdout
        assert flag in ours.stderr and b"Usage" not in ours.stderr, ours.stderr
        assert b"Traceback" not in ours.stderr
    assert (tmp_path / "e.yaml").read_bytes() == before


# ------------------------------------------------------------------ 5. flags after FILE

@pytest.mark.parametrize("cmd", [
    ["decrypt", "e.yaml", "--extract", '["a"]'],        # moved in front: extracts
    ["decrypt", "e.yaml", "--extract=" + '["a"]'],
    ["decrypt", "e.yaml", "-extract", '["a"]'],         # Go reads -name as --name
    ["decrypt", "e.yaml", "--output-type", "json", "--ignore-mac"],
    ["decrypt", "e.yaml", "--", "--extract", '["a"]'],  # after --: positional, warned
    ["decrypt", "--", "e.yaml"],
    ["decrypt", "e.yaml", "--bogus"],                   # unknown: positional, warned
    ["decrypt", "e.yaml", "--indent", "4"],             # decrypt has no --indent: the same
    ["decrypt", "e.yaml", "x", "--bogus", "y"],
    ["decrypt", "p.yaml", "--ignore-mac", "e.yaml"],    # the flag takes e.yaml along: FILE
    ["decrypt", "e.yaml", "--ignore-mac", "p.yaml"],
    ["decrypt", "e.yaml", "--extract"],                 # --extract takes e.yaml: exit 91
    ["-d", "e.yaml", "--extract", '["a"]'],             # older form: not moved, warned
    ["-d", "e.yaml", "--ignore-mac"],
    ["--decrypt", "e.yaml", "--", "x"],
    ["encrypt", "p.yaml", "--age", "@"],                # moved in front: encrypts
    ["encrypt", "p.yaml", "--age=@", "--encrypted-regex", "^b$"],
    ["encrypt", "p.yaml", "-a", "@"],
    ["encrypt", "--age", "@", "p.yaml", "--", "x"],
    ["encrypt", "p.yaml", "--age", "-x"],               # -x is the recipient: exit 1
    ["encrypt", "--age", "@", "p.yaml", "--bogus"],
    ["encrypt", "--age", "@", "p.yaml", "--mac-only-encrypted"],  # not sops' encrypt flag
    ["decrypt", "e.yaml", "--config", "nosuch"],                 # --config: global in sops
    ["-e", "p.yaml", "--age", "@"],                     # older form: no key, exit 1
    ["-e", "--age", "@", "p.yaml", "--unencrypted-suffix", "b"],
    ["set", "e.yaml", '["a"]', "2", "--bogus"],         # four positional arguments: 100
    ["set", "e.yaml", '["a"]', "-2"],                   # a value, not a flag
    ["set", "e.yaml", '["a"]', "2", "--idempotent"],
    ["set", "e.yaml", '["a"]', "--input-type"],         # takes e.yaml along: one left, 100
    ["unset", "e.yaml", '["a"]', "--bogus"],            # three: 100
    ["unset", "e.yaml", '["zz"]', "--idempotent"],
    ["filestatus", "e.yaml", "--bogus"],
    ["filestatus", "e.yaml", "--input-type", "json"],   # read as JSON: exit 1
])
def test_flags_after_file_as_sops(cmd: list[str], tmp_path: Path,
                                  age_keys: dict[str, AgeKey]) -> None:
    env = _setup(tmp_path, age_keys["k1"])
    cmd = [age_keys["k1"].recipient if a == "@" else a for a in cmd]
    encrypting = cmd[0] in ("encrypt", "-e")
    writes = cmd[0] in ("set", "unset")
    enc = (tmp_path / "e.yaml").read_bytes()
    results = []
    for tool in (sops, kc, _click):
        (tmp_path / "e.yaml").write_bytes(enc)
        r = tool(*cmd, env=env, cwd=tmp_path, input=b"")
        assert b"Traceback" not in r.stderr
        out = r.stdout
        if encrypting and r.returncode == 0:  # fresh keys: what it decrypts to, in sops
            (tmp_path / "o.yaml").write_bytes(r.stdout)
            back = sops("decrypt", "o.yaml", env=env, cwd=tmp_path)
            assert back.returncode == 0, back.stderr
            out = back.stdout + b"|%d" % r.stdout.count(b"ENC[")
        if writes:
            back = sops("decrypt", "e.yaml", env=env, cwd=tmp_path)
            out += b"|" + back.stdout
        results.append((r.returncode, out, _warnings(r.stderr)))
    assert results[1] == results[0], (results[1], results[0])
    assert results[2] == results[0], (results[2], results[0])


# ------------------------------------------------------------------ the reordering itself

@pytest.mark.parametrize(("args", "want"), [
    (["f", "--extract", "x"], ["--extract", "x", "f"]),
    (["f", "--in-place", "g"], ["--in-place", "g", "f"]),   # even after a flag with no value
    (["--extract", "--in-place", "f"], ["--extract", "--in-place", "f"]),  # a flag is no value
    (["f", "--", "--extract", "x"], ["--", "f", "--extract", "x"]),
    (["--extract", "--", "f"], ["--extract", "--", "f"]),   # "--" as a flag's value
    (["f", "-extract=x", "--i"], ["--extract=x", "-i", "f"]),
    (["f", "-a=R"], ["-a", "R", "f"]),                   # Go's value R; click's -a=R is "=R"
    (["f", "--bogus", "x", "-"], ["f", "--bogus", "x", "-"]),
])
def test_reorder_args_is_urfave_clis(args: list[str], want: list[str]) -> None:
    flags = {"extract": "--extract", "in-place": "--in-place", "i": "-i", "a": "-a"}
    assert reorder_args(flags, args) == want
