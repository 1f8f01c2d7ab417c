"""Gaps the differential runs against the real sops 3.11 left open (issue 14), each reduced to
its smallest examples and run against the real binary in both directions: repeated YAML keys
where go-yaml v3 holds them, non-string leaves in INI and dotenv output, and sops' global
flags in front of a sub-command."""

from __future__ import annotations

import re
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


# ------------------------------------------------------------ values INI and dotenv cannot hold

_NESTED_JSON = (b'{"a": {"b": {"c": "x", "d": [1, 1.5, null, true, 1e6, 123456789.0, 0.00001, '
                b'-0.0, "s p"]}, "e": [], "f": {}, "g": [[1], {"h": 2}]}}')
_NESTED_YAML = (b"a:\n  b:\n    # c\n    d: 1 # e\n  l:\n    # x\n    - 1\n"
                b"  t: 2020-01-01T00:00:00.5Z\n  u: [2020-01-01T00:00:00Z, 2020-01-01T00:00:00+02:00]\n"
                b"  bin: !!binary aGk=\n  n: null\n  f: 1e21\n")


@pytest.mark.parametrize(("text", "ext"), [
    (b'{"a": {"a": []}}', "json"), (_NESTED_JSON, "json"), (_NESTED_YAML, "yaml")])
def test_nested_values_in_an_ini_section_are_printed_as_sops_prints_them(
        text: bytes, ext: str, age_keys: dict[str, AgeKey]) -> None:
    # sops writes them with Go's %v (``b = [{c x} {d [1 1.5]}]``), comments and all.
    want = compare(text, ext, age_keys["k1"], dec_args=["--output-type", "ini"])
    assert want is not None and b" = [" in want


def test_non_string_values_in_dotenv_are_printed_as_sops_prints_them(
        age_keys: dict[str, AgeKey]) -> None:
    text = b"n: null\nf: 1.5\ng: 2.0\nh: 1e21\nt: true\ni: 1\nd: 2020-01-01T00:00:00.5Z\n"
    want = compare(text, "yaml", age_keys["k1"], dec_args=["--output-type", "dotenv"])
    assert want is not None and b"n=<nil>\n" in want and b"h=1E+21\n" in want


def _sops_writes(tmp_path: Path, key: AgeKey, text: bytes, out: str
                 ) -> tuple[dict[str, str], list[str], str]:
    """The real sops encrypts JSON ``text`` into ``out`` as ``s.EXT`` (it succeeds: the file
    it writes is the point); returns the environment, the encrypt arguments and EXT."""
    env = env_for(key, str(tmp_path))
    (tmp_path / "p.json").write_bytes(text)
    args = ["encrypt", "--age", key.recipient, "--output-type", out, "p.json"]
    theirs = sops(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == 0, theirs.stderr
    ext = {"dotenv": "env"}.get(out, out)
    (tmp_path / f"s.{ext}").write_bytes(theirs.stdout)
    return env, args, ext


@pytest.mark.parametrize(("text", "out"), [
    (b'{"a": {"a": []}}', "ini"),
    (b'{"a": {"b": {"c": "x"}}}', "ini"),
    (b'{"a": {"b": [1, "x"]}}', "ini"),
    (b'{"a": {"b_unencrypted": []}}', "ini"),
    (b'{"a": {"b_unencrypted": true}}', "ini"),
    (b'{"a": {"b_unencrypted": 2.0}}', "ini"),
    (b'{"b_unencrypted": false}', "dotenv"),
    (b'{"b_unencrypted": 1e21}', "dotenv"),
])
def test_an_ini_or_dotenv_file_sops_cannot_open_is_refused(
        text: bytes, out: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: a nested value in an INI section (``a = []``) does not decrypt
    # (exit 25); a non-string left in plaintext reads back as text the MAC did not cover
    # (exit 51). sops writes the file and then neither tool can open it.
    env, args, ext = _sops_writes(tmp_path, age_keys["k1"], text, out)
    assert sops("decrypt", f"s.{ext}", env=env, cwd=tmp_path).returncode in (25, 51)
    ours = kc(*args, "--output", f"k.{ext}", env=env, cwd=tmp_path)
    assert ours.returncode == 4 and b"could not be opened again" in ours.stderr, ours.stderr
    assert b"Traceback" not in ours.stderr and not (tmp_path / f"k.{ext}").exists()


@pytest.mark.parametrize(("text", "out"), [
    (b'{"a": {"b": null, "c": "x"}}', "ini"), (b'{"b": null, "c": "x"}', "dotenv")])
def test_a_null_in_encrypted_ini_or_dotenv_is_written_empty_and_opens(
        text: bytes, out: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: it writes ``<nil>``, which does not decrypt (exit 25). kubecrypt
    # writes it empty (the MAC covers nothing for a null, as for ""): both tools open it.
    env, args, ext = _sops_writes(tmp_path, age_keys["k1"], text, out)
    assert sops("decrypt", f"s.{ext}", env=env, cwd=tmp_path).returncode == 25
    ours = kc(*args, "--output", f"k.{ext}", env=env, cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    want = b"[a]\nb = \nc = x\n" if out == "ini" else b"b=\nc=x\n"
    for tool in (sops, kc):
        r = tool("decrypt", f"k.{ext}", env=env, cwd=tmp_path)
        assert (r.returncode, r.stdout) == (0, want), r.stderr


@pytest.mark.parametrize("text", [
    b'{"a": {"a": "", "a": ""}}',          # go-ini keeps one; the MAC saw only empties
    b'{"a": {"a": "", "a": "z"}}',         # the first position, the last value: same MAC
    b'{"a": {"": "x"}}', b'{"": {"a": "x"}}',   # go-ini refuses an empty name (exit 4)
])
@pytest.mark.parametrize("when", ["enc", "dec"])
def test_json_into_ini_as_sops_where_go_ini_holds_it(
        text: bytes, when: str, age_keys: dict[str, AgeKey]) -> None:
    if when == "enc":
        compare(text, "json", age_keys["k1"], ["--output-type", "ini"], out_ext="ini")
    else:
        compare(text, "json", age_keys["k1"], dec_args=["--output-type", "ini"])


# ------------------------------------------------------------ --extract of a value as INI/dotenv

@pytest.mark.parametrize("out", ["ini", "dotenv"])
@pytest.mark.parametrize("key", ["m", "l", "i", "f", "t", "n", "s", "d", "ln", "lm"])
@pytest.mark.parametrize("ext", ["yaml", "json"])
def test_extract_of_a_value_as_ini_or_dotenv_as_sops(
        ext: str, key: str, out: str, age_keys: dict[str, AgeKey]) -> None:
    # sops' INI store writes any value but a mapping with Go's encoding/json (a mapping as its
    # list of {"Key","Value"} items, < > & escaped); its dotenv store only strings (exit 4).
    if ext == "yaml":
        text = (b"m: {a: 1}\nl: [1, '<&>', {k: v}, [2]]\ni: 1\nf: 1e21\nt: true\nn: null\n"
                b"s: x\nd: 2020-01-01T00:00:00Z\nln: [[]]\nlm: [{}]\n")
    else:
        text = (b'{"m": {"a": 1}, "l": [1, "<&>", {"k": "v"}, [2]], "i": 1, "f": 1e21, '
                b'"t": true, "n": null, "s": "x", "d": "2020", "ln": [[]], "lm": [{"k": []}]}')
    compare(text, ext, age_keys["k1"],
            dec_args=["--extract", f'["{key}"]', "--output-type", out])


@pytest.mark.parametrize(("ext", "args", "out_ext"), [
    ("json", [], None),
    ("yaml", [], None),
    ("yaml", ["--output-type", "json"], "json"),   # encrypted as JSON: read by the JSON store
])
def test_an_empty_mapping_in_an_extracted_ini_value_is_typed_by_the_encrypted_files_format(
        ext: str, args: list[str], out_ext: str | None, age_keys: dict[str, AgeKey]) -> None:
    # sops' JSON store leaves an empty object a nil TreeBranch (Go's JSON: null), its YAML
    # store makes an empty one ([]): what counts is the store that reads the encrypted file.
    text = (b'{"lm": [{}, {"a": {}, "b": [{}]}]}' if ext == "json"
            else b"lm: [{}, {a: {}, b: [{}]}]\n")
    want = compare(text, ext, age_keys["k1"], args, out_ext=out_ext,
                   dec_args=["--extract", '["lm"]', "--output-type", "ini"])
    nil = (out_ext or ext) == "json"
    assert want == (b'[null,[{"Key":"a","Value":null},{"Key":"b","Value":[null]}]]' if nil
                    else b'[[],[{"Key":"a","Value":[]},{"Key":"b","Value":[[]]}]]')


# ------------------------------------------------------------ sops' global flags

_ENC = re.compile(rb"ENC\[AES256_GCM,[^\]]*\]")
_RANDOM_JSON = re.compile(rb'(?m)^(\s*"(?:lastmodified|enc)":).*$')
_RANDOM = re.compile(rb"(?m)^(\s*(?:lastmodified|mac|enc):).*\n(?:\s+[A-Za-z0-9+/=-]+.*\n)*")


def _shape(out: bytes) -> bytes:
    """An encrypted YAML file with what is random in it (values, IVs, time, age stanza)
    masked: what both tools must write alike."""
    out = _RANDOM.sub(rb"\1 *\n", _ENC.sub(b"ENC[...]", out))
    return _RANDOM_JSON.sub(rb"\1 *", out)


_PLAIN = b"# c\na: 1 # x\nb: x\nc_unencrypted: y\n"


@pytest.mark.parametrize("flags", [
    ["--mac-only-encrypted"], ["--encrypted-comment-regex", "^ x$"],
    ["--unencrypted-comment-regex", "^ x$"], ["--encrypted-regex", "^a"],
    ["--unencrypted-suffix", "_x"], ["--encrypted-comment-regex", "x", "--encrypted-regex", "b"],
    ["--indent", "2"], ["-i"], ["--output-type", "json"], ["--kms", "arn:x"], ["--verbose"],
    ["--shamir-secret-sharing-threshold", "2"], ["--ignore-mac"],
])
@pytest.mark.parametrize("form", ["sub-command", "legacy"])
def test_global_flags_are_taken_where_sops_takes_them(
        flags: list[str], form: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops 3.11 accepts every global flag in front of a sub-command and ignores it there
    # (urfave/cli reads a sub-command's flags from its own set); in the older form
    # (``sops --x -e f``) the same flags are honoured or, where the mode has no use for them,
    # ignored too. Each tool's file must have the same shape and open in the other.
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "f.yaml").write_bytes(_PLAIN)
    mode = ["encrypt"] if form == "sub-command" else ["-e"]
    args = [*flags, *mode, "--age", age_keys["k1"].recipient, "f.yaml"]
    outs = []
    for tool in (sops, kc):
        (tmp_path / "f.yaml").write_bytes(_PLAIN)
        r = tool(*args, env=env, cwd=tmp_path)
        assert b"Traceback" not in r.stderr
        # -i in the older form writes the file back (in front of a sub-command it is ignored)
        outs.append((r.returncode, r.stdout or (tmp_path / "f.yaml").read_bytes()))
    (code, theirs), (ours_code, ours) = outs
    assert ours_code == code
    if code:
        return
    assert _shape(ours) == _shape(theirs), (theirs, ours)
    (tmp_path / "s.yaml").write_bytes(theirs)
    (tmp_path / "k.yaml").write_bytes(ours)
    want = sops("decrypt", "s.yaml", env=env, cwd=tmp_path)
    assert want.returncode == 0
    for tool, f in ((sops, "k.yaml"), (kc, "s.yaml")):
        r = tool("decrypt", f, env=env, cwd=tmp_path)
        assert (r.returncode, r.stdout) == (0, want.stdout), r.stderr


@pytest.mark.parametrize("flags", [
    ["--ignore-mac"], ["--extract", '["b"]'], ["--output-type", "json"], ["-s"],
    ["--decryption-order", "pgp"], ["--age", "x"], ["--mac-only-encrypted"], ["-i"],
])
@pytest.mark.parametrize("form", ["sub-command", "legacy"])
def test_global_flags_before_decrypt_as_sops(
        flags: list[str], form: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "f.yaml").write_bytes(_PLAIN)
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, "f.yaml", env=env, cwd=tmp_path)
    mode = ["decrypt"] if form == "sub-command" else ["-d"]
    results = []
    for tool in (sops, kc):
        (tmp_path / "e.yaml").write_bytes(enc.stdout)
        r = tool(*flags, *mode, "e.yaml", env=env, cwd=tmp_path)
        results.append((r.returncode, r.stdout, (tmp_path / "e.yaml").read_bytes()))
        assert b"Traceback" not in r.stderr
    assert results[0] == results[1]


@pytest.mark.parametrize(("flags", "code"), [
    (["--unencrypted-suffix", "_x"], 8),     # a second selection field: conflict
    (["--encrypted-regex", "^a"], 0),        # the rule's own field: the flag wins
])
@pytest.mark.parametrize("form", ["sub-command", "legacy"])
def test_a_selection_flag_and_a_rule_merge_field_by_field_as_sops(
        flags: list[str], code: int, form: str, tmp_path: Path,
        age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - encrypted_regex: '^b'\n    age: {age_keys['k1'].recipient}\n")
    (tmp_path / "f.yaml").write_bytes(_PLAIN)
    args = ["encrypt", *flags] if form == "sub-command" else [*flags, "-e"]
    theirs = sops(*args, "f.yaml", env=env, cwd=tmp_path)
    ours = kc(*args, "f.yaml", env=env, cwd=tmp_path)
    assert (theirs.returncode, ours.returncode) == (code, code), (theirs.stderr, ours.stderr)
    assert _shape(ours.stdout) == _shape(theirs.stdout)
    if code:
        assert b"more than one of" in ours.stderr and b"Traceback" not in ours.stderr
