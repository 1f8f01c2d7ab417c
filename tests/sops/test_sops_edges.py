"""Edges against the real sops 3.11: nesting up to sops' own limit (10,000 levels) and one
beyond it, and the exit codes of ``set`` and ``unset`` before the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import compare, env_for, kc, sops

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
