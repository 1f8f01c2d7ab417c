"""Edges against the real sops 3.11: nesting up to sops' own limit (10,000 levels) and one
beyond it, and the exit codes of ``set`` and ``unset`` before the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import compare, env_for, kc, sops, sops_encrypted

# ------------------------------------------------------------------ deep nesting

LIMIT = 10_000  # go-yaml v3's max depth, Go's encoding/json maxNestingDepth


def _json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth + b"\n"


def _flow(depth: int) -> bytes:
    return b"{a: " * depth + b"1" + b"}" * depth + b"\n"


def _block(depth: int, comments: bool = False) -> bytes:
    note = b" # x" if comments else b""
    lines = [b"  " * i + b"a:" + note for i in range(depth - 1)]
    return (b"# top\n" if comments else b"") + b"\n".join(
        [*lines, b"  " * (depth - 1) + b"a: 1"]) + b"\n"


def _seqs(depth: int) -> bytes:
    return b"a:\n" + b"".join(b"  " * i + b"-\n" for i in range(depth - 2)) + \
        b"  " * (depth - 2) + b"- 1\n"


@pytest.mark.parametrize(("text", "ext"), [
    (_json(LIMIT), "json"),
    (_flow(LIMIT), "yaml"),
    (_block(2_000), "yaml"),
    (_seqs(2_000), "yaml"),
    (_block(300, comments=True), "yaml"),
    (_json(200), "json"),
], ids=["json", "flow", "block", "sequences", "comments", "json-200"])
def test_nesting_up_to_sops_limit_opens_both_ways(
        text: bytes, ext: str, age_keys: dict[str, AgeKey]) -> None:
    # kubecrypt refused more than 100 levels: a file sops wrote 200 deep could not be opened.
    assert compare(text, ext, age_keys["k1"]) is not None


@pytest.mark.parametrize(("text", "ext", "code"), [
    (_json(LIMIT + 1), "json", 4),     # sops reads it token by token, then cannot write it
    (_flow(LIMIT + 1), "yaml", 2),
    (_block(LIMIT + 1), "yaml", 2),
], ids=["json", "flow", "block"])
def test_beyond_sops_limit_refused_as_sops(
        text: bytes, ext: str, code: int, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / f"p.{ext}").write_bytes(text)
    args = ("encrypt", "--age", age_keys["k1"].recipient, f"p.{ext}")
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == code, (theirs.stderr, ours.stderr)
    assert ours.stdout == b""
    assert b"exceeded max depth of 10000" in ours.stderr
    assert ours.stderr.count(b"\n") == 1 and b"Traceback" not in ours.stderr


def test_other_readers_keep_their_limit() -> None:
    # Kubernetes manifests and every other untrusted input still stop at 100 levels.
    from kubecrypt import safeparse
    from kubecrypt.errors import InputError

    with pytest.raises(InputError, match="deeper than 100 levels"):
        safeparse.load_json(_json(101), "x")
    with pytest.raises(InputError, match="deeper than 100 levels"):
        safeparse.load_yaml(_flow(101), "x")


# ------------------------------------------------------------------ set / unset before the file

@pytest.mark.parametrize("cmd", [
    ["set", "nosuch.yaml", "bad", "1"],            # the index is read first: exit 7
    ["set", "nosuch.yaml", '["a"', "1"],
    ["set", "nosuch.yaml", '["a"]', "{bad"],       # then the value: exit 7
    ["set", "nosuch.yaml", '["a"]', "1"],          # then the file: "Error reading file", 2
    ["unset", "nosuch.yaml", "bad"],
    ["unset", "nosuch.yaml", '["a"]'],
    ["set", "e.yaml", "bad", "1"],                 # kubecrypt said 91 for a bad index
    ["unset", "e.yaml", '["a"'],
])
def test_set_and_unset_check_index_value_then_file_as_sops(
        cmd: list[str], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, "p.yaml", env=env, cwd=tmp_path)
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    theirs = sops(*cmd, env=env, cwd=tmp_path)
    ours = kc(*cmd, env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode != 0, (theirs.stderr, ours.stderr)
    assert (tmp_path / "e.yaml").read_bytes() == enc.stdout
    assert not (tmp_path / "nosuch.yaml").exists()


def test_deep_runner_gives_room_and_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from kubecrypt.sops.deep import SOPS_MAX_DEPTH, run_deep

    def down(n: int) -> int:
        return n if n == 0 else down(n - 1)

    limit = sys.getrecursionlimit()
    assert run_deep(lambda: down(4 * SOPS_MAX_DEPTH)) == 0
    assert sys.getrecursionlimit() == limit
    with pytest.raises(SystemExit) as exc:
        run_deep(lambda: down(10 ** 7))
    assert exc.value.code == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_without_room_for_the_deep_stack_a_plain_file_still_opens(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Under a tight address-space limit (ulimit -v, strict overcommit) the 512 MiB stack
    # cannot be reserved: the command runs on the main thread instead of failing, and only a
    # file nested past the interpreter's own limit is refused, in one sentence.
    import resource
    import subprocess

    from .sopsdiff import kubecrypt_argv

    def tight() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (400 * 2**20, 400 * 2**20))

    env = _files(tmp_path, age_keys["k1"])
    (tmp_path / "deep.json").write_bytes(_json(3_000))
    deep = sops("encrypt", "--age", age_keys["k1"].recipient, "deep.json", env=env, cwd=tmp_path)
    (tmp_path / "deep.enc.json").write_bytes(deep.stdout)
    for name, code in (("q.yaml", 0), ("deep.enc.json", 1)):
        ours = subprocess.run([*kubecrypt_argv(), "decrypt", name], env=env, cwd=tmp_path,
                              capture_output=True, preexec_fn=tight, timeout=120)
        assert ours.returncode == code, ours.stderr
        if code == 0:
            assert ours.stdout == sops("decrypt", name, env=env, cwd=tmp_path).stdout
        else:
            assert ours.stdout == b"" and ours.stderr.count(b"\n") == 1
            assert b"nested too deeply" in ours.stderr and b"Traceback" not in ours.stderr


# ------------------------------------------------------------------ Go boolean flags, key services

def _files(tmp_path: Path, key: AgeKey) -> dict[str, str]:
    return sops_encrypted(key, tmp_path, b"a: 1\n", "q.yaml")


@pytest.mark.parametrize("args", [
    ["decrypt", "-i=false", "q.yaml"],
    ["decrypt", "--in-place=false", "q.yaml"],
    ["decrypt", "--ignore-mac=true", "q.yaml"],
    ["decrypt", "-ignore-mac=T", "q.yaml"],
    ["decrypt", "q.yaml", "--ignore-mac=1"],
    ["-d", "--ignore-mac=TRUE", "q.yaml"],
    ["decrypt", "--ignore-mac=yes", "q.yaml"],      # ParseBool refuses it: exit 1
    ["decrypt", "--ignore-mac=", "q.yaml"],
    ["decrypt", "--", "--ignore-mac=yes"],          # after --: a file name
    ["-d", "q.yaml", "--ignore-mac=yes"],           # older form: a positional argument
    ["decrypt", "--enable-local-keyservice", "q.yaml"],
    ["decrypt", "--enable-local-keyservice=true", "q.yaml"],
    ["decrypt", "--enable-local-keyservice=false", "q.yaml"],  # no key service: 128
    ["rotate", "--enable-local-keyservice=0", "q.yaml"],
])
def test_go_boolean_flags_and_local_key_service_as_sops(
        args: list[str], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = _files(tmp_path, age_keys["k1"])
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert ours.returncode == theirs.returncode, (theirs.stderr, ours.stderr)
    if theirs.stdout.startswith(b"Incorrect Usage: "):  # each tool prints its own help
        assert ours.stdout.split(b"\n")[0] == theirs.stdout.split(b"\n")[0]
    else:
        assert ours.stdout == theirs.stdout
    assert b"Traceback" not in ours.stderr


@pytest.mark.parametrize(("args", "code"), [
    (["decrypt", "--keyservice", "tcp://127.0.0.1:1", "--enable-local-keyservice=false",
      "q.yaml"], 128),
    (["encrypt", "--keyservice", "tcp://127.0.0.1:1", "--enable-local-keyservice=false",
      "p.yaml"], 1),
])
def test_unreachable_key_service_exit_code_as_sops(
        args: list[str], code: int, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = _files(tmp_path, age_keys["k1"])
    if args[0] == "encrypt":
        args = [args[0], "--age", age_keys["k1"].recipient, *args[1:]]
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == code, (theirs.stderr, ours.stderr)
    assert ours.stdout == b""
    assert b"no key service client" in ours.stderr and ours.stderr.count(b"\n") == 1


def test_a_remote_key_service_beside_the_local_one_is_not_needed_as_in_sops(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops asks its local key service first and a remote one only when the local one fails, so
    # with the key at hand it decrypts without contacting the URI; kubecrypt, which has no
    # key service client, does the same and says in a warning that the URI is not used.
    env = _files(tmp_path, age_keys["k1"])
    for args in (["decrypt", "--keyservice", "unix:///nosock", "q.yaml"],
                 ["decrypt", "q.yaml", "--keyservice=tcp://127.0.0.1:1"]):
        theirs = sops(*args, env=env, cwd=tmp_path)
        ours = kc(*args, env=env, cwd=tmp_path)
        assert ours.returncode == theirs.returncode == 0, (theirs.stderr, ours.stderr)
        assert ours.stdout == theirs.stdout
        assert ours.stderr.count(b"\n") == 1 and b"no key service client" in ours.stderr


# ------------------------------------------------------------------ literal blocks in sequences

def test_a_sequence_item_block_sops_cannot_read_back_stays_quoted(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops writes these items as "- |4-" blocks that go-yaml cannot read again; kubecrypt's
    # double-quoted output reads back (with sops too) to the same values.
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(
        b'l:\n  - "\\u2028\\nabc"\n  - "\\nabc"\n  - " abc\\nd"\n  - k: "\\nz"\n')
    enc = sops("encrypt", "--age", key.recipient, "p.yaml", env=env, cwd=tmp_path)
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    want = sops("decrypt", "--output-type", "json", "e.yaml", env=env, cwd=tmp_path).stdout
    for tool, code in ((sops, 2), (kc, 0)):
        (tmp_path / "rt.yaml").write_bytes(tool("decrypt", "e.yaml", env=env, cwd=tmp_path).stdout)
        again = sops("encrypt", "--age", key.recipient, "rt.yaml", env=env, cwd=tmp_path)
        assert again.returncode == code, again.stderr
    (tmp_path / "e2.yaml").write_bytes(again.stdout)
    assert sops("decrypt", "--output-type", "json", "e2.yaml", env=env, cwd=tmp_path).stdout \
        == want
