"""Gaps the differential runs against the real sops 3.11 left open (issue 14), each reduced to
its smallest examples and run against the real binary in both directions: repeated YAML keys
where go-yaml v3 holds them, non-string leaves in INI and dotenv output, and sops' global
flags in front of a sub-command."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import compare, env_for, kc, sops

# ------------------------------------------------------------------ repeated YAML keys

# sops checks for a repeated key only where it decodes YAML into a Go map or struct: a plain
# file's first document (every mapping in it), an encrypted file's first top level (its
# metadata struct). go-yaml compares the keys' text and node kind: ``a`` and ``"a"`` clash,
# an alias and the scalar it names do not.
@pytest.mark.parametrize("text", [
    b"a: 1\na: 2\n",
    b"s:\n  a: 1\n  a: 2\n",
    b"l:\n  - a: 1\n    a: 2\n",
    b"s:\n  t: {a: 1, a: 2}\n",
    b'a: 1\n"a": 2\n',
    b"b: &m {c: 1}\nd: &n {e: 2}\nf:\n  <<: *m\n  <<: *n\n",
    b"# c\ns:\n  a: 1 # x\n  a: 2\n",
    b"a: 1\n---\nb: 1\nb: 2\n",                          # a later document holds it
    b"a: 1\n---\ns:\n  b: 1 # x\n  b: 2\n",
    b"# c\na: 1\n---\nb: 1\nb: 2\n",
    b"a: &k a\n*k : 2\n",            # sops writes it, then cannot open it: kubecrypt refuses
])
def test_repeated_yaml_keys_as_sops(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    compare(text, "yaml", age_keys["k1"])


@pytest.mark.parametrize("text", [
    b'{"s": {"a": "1", "a": "2"}}',
    b'{"l": [{"a": "1", "a": "2"}], "s": {"t": {"b": 1, "b": 2}}}',
])
def test_a_key_repeated_below_the_top_of_encrypted_yaml_opens_as_in_sops(
        text: bytes, age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    # sops decodes only an encrypted file's top level into a struct; deeper mappings are
    # go-yaml nodes, which keep both entries, and so does every output.
    want = compare(text, "json", age_keys["k1"], ["--output-type", "yaml"], out_ext="yaml")
    assert want is not None and want.count(b"a: ") >= 2
    for out in ("json", "yaml"):
        assert compare(text, "json", age_keys["k1"], ["--output-type", "yaml"], out_ext="yaml",
                       dec_args=["--output-type", out]) is not None


def test_a_key_repeated_at_the_top_of_encrypted_yaml_fails_as_in_sops(
        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: 1\nb: 2\n")
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, "p.yaml", env=env, cwd=tmp_path)
    (tmp_path / "e.yaml").write_bytes(enc.stdout.replace(b"\nb: ", b"\na: ", 1))
    theirs = sops("decrypt", "e.yaml", env=env, cwd=tmp_path)
    ours = kc("decrypt", "e.yaml", env=env, cwd=tmp_path)
    assert theirs.returncode == 1 and b"already defined" in theirs.stderr
    assert (ours.returncode, ours.stdout) == (1, b"")
    assert b"already defined at line 1" in ours.stderr and b"Traceback" not in ours.stderr
