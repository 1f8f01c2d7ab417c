"""Differences the differential runs (``test_sops_differential_*.py`` in explore mode) found,
each reduced to its smallest example and run against the real sops 3.11."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import compare, env_for, kc, sops

# ------------------------------------------------------------ an encrypted file that does not parse

_COMMANDS = [["decrypt"], ["decrypt", "--extract", '["a"]'], ["rotate", "-i"],
             ["set", "@", '["a"]', "1"], ["unset", "@", '["a"]'], ["updatekeys", "-y"],
             ["exec-env", "@", "true"], ["edit"], ["filestatus"]]


@pytest.mark.parametrize("ext", ["yaml", "json", "env", "ini", "bin"])
@pytest.mark.parametrize("cmd", _COMMANDS, ids=lambda c: c[0] + ("-x" if len(c) == 3 else ""))
def test_an_encrypted_file_that_does_not_parse_exits_1_like_sops(
        ext: str, cmd: list[str], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops returns the store's error unwrapped (exit 1); reading a plaintext file it is exit 2.
    env = {**env_for(age_keys["k1"], str(tmp_path)), "EDITOR": "true"}
    f = tmp_path / f"bad.{ext}"
    f.write_bytes(b"{")
    args = [a if a != "@" else f.name for a in cmd]
    if "@" not in cmd:
        args.append(f.name)
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == 1, theirs.stderr
    assert ours.returncode == 1, ours.stderr
    assert b"Traceback" not in ours.stderr and f.read_bytes() == b"{"


@pytest.mark.parametrize(("name", "text", "encrypted"), [
    ("p.yaml", b"a: 1\n", False),
    ("p.yaml", b"", False),
    ("p.yaml", b"sops: null\n", False),
    ("p.yaml", b"sops: 1\n", None),                            # damaged metadata
    ("p.yaml", b"sops: {}\n", None),
    ("p.json", b"{", None),                                    # does not parse
    ("p.bin", b'{"data": "x", "sops": {"version": "3.11.0", '
              b'"lastmodified": "2020-01-01T00:00:00Z", "mac": "x"}}', None),  # no keys
    ("missing.yaml", None, None),
])
def test_filestatus_fails_like_sops_on_a_damaged_file(
        name: str, text: bytes | None, encrypted: bool | None, tmp_path: Path,
        age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    if text is not None:
        (tmp_path / name).write_bytes(text)
    theirs = sops("filestatus", name, env=env, cwd=tmp_path)
    ours = kc("filestatus", name, env=env, cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    if encrypted is None:
        assert ours.returncode == 1 and ours.stdout == b""
        assert b"Traceback" not in ours.stderr
    else:
        assert ours.stdout == b'{"encrypted":%s}\n' % (b"true" if encrypted else b"false")


def test_filestatus_of_a_file_sops_encrypted(tmp_path: Path,
                                             age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, "p.yaml", env=env, cwd=tmp_path)
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    ours = kc("filestatus", "e.yaml", env=env, cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (0, b'{"encrypted":true}\n')


# ------------------------------------------------- the output format comes from the file name

@pytest.mark.parametrize("cmd", [
    ["decrypt", "--input-type", "yaml", "e.txt"],                   # binary output: exit 4
    ["decrypt", "--input-type", "yaml", "--extract", '["a"]', "e.txt"],   # exit 4
    ["decrypt", "--input-type", "yaml", "--extract", '["s"]', "e.txt"],   # a string: raw
    ["decrypt", "--input-type", "yaml", "--output-type", "json", "e.txt"],
    ["exec-file", "--input-type", "yaml", "e.txt", "cat {}"],
    ["rotate", "-i", "--input-type", "yaml", "e.txt"],              # written back as JSON
    ["set", "--input-type", "yaml", "e.txt", '["a"]', "2"],
    ["unset", "--input-type", "yaml", "e.txt", '["a"]'],
    ["rotate", "--output-type", "json", "e.yaml"],
    ["set", "--output-type", "json", "e.yaml", '["a"]', "2"],
    ["unset", "--output-type", "json", "e.yaml", '["a"]'],
    ["encrypt", "--age", "@", "--input-type", "yaml", "p.txt"],
])
def test_output_format_follows_the_file_name_like_sops(
        cmd: list[str], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops: without --output-type the output store is the one of the file's name, whatever
    # --input-type says (kubecrypt used the input type).
    env = env_for(age_keys["k1"], str(tmp_path))
    args = [age_keys["k1"].recipient if a == "@" else a for a in cmd]
    (tmp_path / "p.txt").write_bytes(b"a: 1\ns: x\n")
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, "--input-type", "yaml",
               "--output-type", "yaml", "p.txt", env=env, cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    results = []
    for tool in (sops, kc):
        for name in ("e.txt", "e.yaml"):
            (tmp_path / name).write_bytes(enc.stdout)
        r = tool(*args, env=env, cwd=tmp_path)
        assert b"Traceback" not in r.stderr
        out = r.stdout
        if cmd[0] in ("encrypt", "rotate") and out:  # fresh keys: compare format and content
            (tmp_path / "o.txt").write_bytes(out)
            out = out[:1] + sops("decrypt", "--input-type", "json" if out[:1] == b"{" else "yaml",
                                 "--output-type", "yaml", "o.txt", env=env, cwd=tmp_path).stdout
        files = []
        for name in ("e.txt", "e.yaml"):
            data = (tmp_path / name).read_bytes()
            plain = sops("decrypt", "--input-type", "json" if data[:1] == b"{" else "yaml",
                         "--output-type", "yaml", name, env=env, cwd=tmp_path)
            files.append((data[:1], plain.returncode, plain.stdout))
        results.append((r.returncode, out, files))
    assert results[0] == results[1]


# --------------------------------------------- repeated keys the output format cannot hold

@pytest.mark.parametrize(("name", "text", "out"), [
    ("p.ini", b"a = 1\n[DEFAULT]\nb = 2\n", "yaml"),       # implicit and explicit DEFAULT
    ("p.ini", b"[s]\na = 1\n[s]\nb = 2\n", "yaml"),         # one section name twice
    ("p.json", b'{"s": 1, "s": 2}', "yaml"),
    ("p.json", b'{"s": {"a": "1", "a": "2"}}', "ini"),      # go-ini keeps the last: MAC
])
def test_a_repeated_key_the_output_cannot_hold_is_refused(
        name: str, text: bytes, out: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: it writes the file, and then neither tool can open it.
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / name).write_bytes(text)
    args = ["encrypt", "--age", age_keys["k1"].recipient, "--output-type", out, name]
    theirs = sops(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == 0
    (tmp_path / f"s.{out}").write_bytes(theirs.stdout)
    assert sops("decrypt", f"s.{out}", env=env, cwd=tmp_path).returncode != 0
    ours = kc(*args, "--output", f"k.{out}", env=env, cwd=tmp_path)
    assert ours.returncode == 4 and b"appears twice" in ours.stderr, ours.stderr
    assert b"Traceback" not in ours.stderr and not (tmp_path / f"k.{out}").exists()


@pytest.mark.parametrize(("name", "text", "out"), [
    ("p.json", b'{"s": {"a": "1", "a": "2"}}', "json"),     # JSON holds it: kept as sops
    ("p.json", b'{"s": "1", "s": "2"}', "dotenv"),
    ("p.ini", b"[s]\na = 1\n[s]\nb = 2\n", "json"),
    ("p.ini", b"[s]\na = 1\n[s]\nb = 2\n", "ini"),
])
def test_a_repeated_key_the_output_holds_is_kept_like_sops(
        name: str, text: bytes, out: str, age_keys: dict[str, AgeKey]) -> None:
    ext = {"dotenv": "env"}.get(out, out)
    assert compare(text, name.split(".")[1], age_keys["k1"], ["--output-type", out],
                   out_ext=ext) is not None


def test_json_integers_beyond_float64_precision_differ_only_as_documented(
        age_keys: dict[str, AgeKey]) -> None:
    # sops 3.11 prints its own file's -2^56 through float64; kubecrypt's file keeps it exact.
    text = b'{"a": -72057594037927936, "b": [9007199254740993], "c": 1}'
    want = compare(text, "json", age_keys["k1"])
    assert want == b'{\n\t"a": -72057594037927940,\n\t"b": [\n\t\t9007199254740992\n\t],\n' \
                   b'\t"c": 1\n}\n'
    assert compare(text, "json", age_keys["k1"], ["--output-type", "yaml"],
                   out_ext="yaml") is not None


def test_the_int64_allowance_accepts_nothing_broader() -> None:
    from .sopsdiff import same_or_kubecrypt_kept_json_int64 as same

    assert same(b"\t-72057594037927940,", b"\t-72057594037927936,", True)
    assert same(b"a: -7.205759403792794e+16", b"a: -72057594037927936", True)
    assert not same(b"\t-72057594037927940,", b"\t-72057594037927936,", False)  # not JSON
    assert not same(b"a: 1", b"a: 2", True)
    assert not same(b"a: 9007199254740990", b"a: 9007199254740991", True)  # below 2^53
    assert not same(b"a: 72057594037927940", b"b: 72057594037927936", True)  # key differs
    assert not same(b"a: 7.2e+16", b"a: 72057594037927936", True)  # not the same float
    assert same(b"a: 1e+06", b"a: 1000000", True)  # JSON to YAML: go-yaml's float form
    assert not same(b"a: 1000000", b"a: 1e+06", True)  # only kubecrypt's side is exact


# ------------------------------------------------------------------ --extract with JSON output

@pytest.mark.parametrize("key", ["i", "f", "b", "n", "l", "e", "big", "s"])
@pytest.mark.parametrize("name", ["v.json", "v.yaml"])
def test_extract_as_json_writes_no_trailing_newline_like_sops(
        key: str, name: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / name).write_bytes(b'{"i": 9, "f": 1.5, "b": true, "n": null, "e": [], '
                                  b'"l": [1, "a", {"x": 1}], "big": 1e+30, "s": "str"}')
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, name, env=env, cwd=tmp_path)
    (tmp_path / ("e." + name)).write_bytes(enc.stdout)
    args = ["decrypt", "--output-type", "json", "--extract", f'["{key}"]', "e." + name]
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == 0 and not theirs.stdout.endswith(b"\n")
    assert (ours.returncode, ours.stdout) == (0, theirs.stdout)


@pytest.mark.parametrize("out", [[], ["--output-type", "json"], ["--output-type", "binary"]])
@pytest.mark.parametrize("key", ['["t"]', '["s"]["u"]'])
def test_extract_of_a_timestamp_is_a_value_not_a_raw_string_like_sops(
        out: list[str], key: str, age_keys: dict[str, AgeKey]) -> None:
    # sops prints only strings raw; a timestamp is a time.Time, written by the output store
    # (YAML: with a newline, JSON: quoted, binary: exit 4). kubecrypt printed it raw.
    text = b"t: 2001-12-14\ns:\n  u: 2002-01-01T10:00:00+02:00\n"
    compare(text, "yaml", age_keys["k1"], dec_args=["--extract", key, *out])


# ------------------------------------------------------------------ set through a scalar, arrays

@pytest.mark.parametrize(("path", "value"), [
    ('["c"]["n"]', "1"),                # a scalar on the way becomes a mapping (sops)
    ('["c"][0]', '{"q": [1]}'),         # ... or a list
    ('["c"]["n"]["m"]', "{}"),
    ('["a"][0]["k"]', "1"),             # a list item that is a scalar, too
    ('["a"][0][0]', '"s"'),
    ('["z"]', "[1, 2.5]"),              # a JSON array is refused (exit 7), nothing written
    ('["a"][5]', "[]"),
])
def test_set_through_a_scalar_and_array_values_like_sops(
        path: str, value: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    _set_like_sops(tmp_path, age_keys["k1"], b"a: [x]\nc: 80\n", path, value)


def _sops_encrypts(tmp_path: Path, key: AgeKey, name: str, plain: bytes
                   ) -> tuple[dict[str, str], subprocess.CompletedProcess[bytes]]:
    """The environment for ``key``, and the real sops' run encrypting ``plain`` written as
    ``name`` in ``tmp_path``."""
    env = env_for(key, str(tmp_path))
    (tmp_path / name).write_bytes(plain)
    return env, sops("encrypt", "--age", key.recipient, name, env=env, cwd=tmp_path)


def _set_like_sops(tmp_path: Path, key: AgeKey, plain: bytes, path: str, value: str) -> None:
    """``set PATH VALUE`` on one sops-encrypted file by each tool: the same exit code, and the
    real sops decrypts both results alike."""
    env, enc = _sops_encrypts(tmp_path, key, "p.yaml", plain)
    results = []
    for tool in (sops, kc):
        (tmp_path / "e.yaml").write_bytes(enc.stdout)
        r = tool("set", "e.yaml", path, value, env=env, cwd=tmp_path)
        assert b"Traceback" not in r.stderr, r.stderr
        decrypted = sops("decrypt", "e.yaml", env=env, cwd=tmp_path)
        results.append((r.returncode, decrypted.returncode, decrypted.stdout))
    assert results[1] == results[0]


def test_set_into_a_list_with_a_key_fails_where_sops_panics(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: a string key into a list panics (exit 2, a Go stack trace).
    env, enc = _sops_encrypts(tmp_path, age_keys["k1"], "p.yaml", b"a: [x]\n")
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    assert b"panic" in sops("set", "e.yaml", '["a"]["n"]', "1", env=env, cwd=tmp_path).stderr
    r = kc("set", "e.yaml", '["a"]["n"]', "1", env=env, cwd=tmp_path)
    assert r.returncode == 91 and b"does not fit" in r.stderr
    assert (tmp_path / "e.yaml").read_bytes() == enc.stdout


# ------------------------------------------------ several YAML documents into another format

@pytest.mark.parametrize("out", ["json", "binary", "dotenv", "ini"])
def test_several_yaml_documents_are_not_encrypted_into_one_document_format(
        out: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: JSON, binary and dotenv files it writes this way fail their MAC
    # (the documents after the first are dropped or merged); kubecrypt refuses, writing nothing.
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"s:\n  a: x\n---\nt:\n  n: y\n" if out == "ini"
                                      else b"a: x\n---\nn: y\n")
    ext = {"dotenv": "env", "binary": "bin"}.get(out, out)
    args = ["encrypt", "--age", age_keys["k1"].recipient, "--output-type", out, "p.yaml"]
    theirs = sops(*args, env=env, cwd=tmp_path)
    (tmp_path / f"s.{ext}").write_bytes(theirs.stdout)
    if out != "ini":
        assert sops("decrypt", f"s.{ext}", env=env, cwd=tmp_path).returncode == 51
    ours = kc(*args, "--output", f"k.{ext}", env=env, cwd=tmp_path)
    assert ours.returncode == 4 and b"2 YAML documents cannot be written" in ours.stderr
    assert b"Traceback" not in ours.stderr and not (tmp_path / f"k.{ext}").exists()
    # one document converts as before
    (tmp_path / "q.yaml").write_bytes(b"s:\n  a: x\n" if out == "ini" else b"a: x\n")
    assert kc("encrypt", "--age", age_keys["k1"].recipient, "--output-type", out, "q.yaml",
              env=env, cwd=tmp_path).returncode == 0


# ------------------------------------- an encrypted comment that happens to match the regex

def test_an_encrypted_comment_is_redrawn_until_it_does_not_match_the_regex(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: with unencrypted_comment_regex 'x' most ciphertexts contain an 'x'
    # somewhere (data, iv or tag), and sops 3.11 then refuses at random (exit 23; the next run
    # may pass). kubecrypt draws a new IV instead; a regex every ciphertext matches is still
    # refused (test_recipients_from_environment_and_comment_regex_guard).
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
        "    unencrypted_comment_regex: x\n")
    (tmp_path / "p.yaml").write_bytes(b"# a comment\nk: v\n# plain x\nl: w\n")
    for _ in range(5):
        r = kc("encrypt", "p.yaml", env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        (tmp_path / "e.yaml").write_bytes(r.stdout)
        assert b"# plain x\nl: w\n" in r.stdout
        plain = sops("decrypt", "e.yaml", env=env, cwd=tmp_path)
        assert plain.stdout == b"# a comment\nk: v\n# plain x\nl: w\n", plain.stderr


def test_an_ini_comment_of_several_lines_is_indented_in_yaml_like_sops(
        age_keys: dict[str, AgeKey]) -> None:
    # go-ini joins a key's comment lines and inline comment into one comment with line breaks;
    # go-yaml's emitter indents every line of it and puts "# " before a line without "#".
    text = b"[s]\n; c\n; d\n\n; e\nk = v # i\nj = 1\n"
    want = compare(text, "ini", age_keys["k1"], ["--output-type", "yaml"], out_ext="yaml")
    assert want is not None and b"\n    # ; d\n    # ; e\n    # i\n" in want


# ------------------------------------------------ YAML scalars go-yaml types differently

@pytest.mark.parametrize(("text", "plain"), [
    (b"h: 1e400\n", b"h: 1e400\n"),            # beyond float64: go-yaml keeps a string
    (b"h: [-1e400, .5e999]\n", b"h:\n    - -1e400\n    - .5e999\n"),
    (b'h: "1e400"\n', b"h: 1e400\n"),          # that string needs no quotes on output
])
def test_a_float_beyond_float64_is_a_string_like_sops(
        text: bytes, plain: bytes, age_keys: dict[str, AgeKey]) -> None:
    assert compare(text, "yaml", age_keys["k1"]) == plain


@pytest.mark.parametrize("text", [
    b"e: !!bool yes\n", b"e: !!int 1.5\n", b"e: !!int\n", b"e: !!null x\n",
    b"e: !!float 1e400\n", b"e: !!timestamp 1\n", b"e: !!binary aGVsb*G8=\n",
    b"e: !!binary aGVsbG8\n",
])
def test_a_tag_the_value_does_not_resolve_to_is_refused_like_sops(
        text: bytes, age_keys: dict[str, AgeKey]) -> None:
    # go-yaml v3 (resolve.go) fails "cannot decode !!str `yes` as a !!bool"; sops exits 2.
    assert compare(text, "yaml", age_keys["k1"]) is None


# ------------------------------------------------------- non-string scalars as dotenv

def test_dotenv_output_spells_scalars_with_sops_valtostring(
        age_keys: dict[str, AgeKey]) -> None:
    # sops' dotenv store writes a non-string value with stores.ValToString (%G floats with a
    # decimal, <nil>): kubecrypt wrote 15000000000.0, 1e-07 and an empty value.
    text = b"a: 1.5e10\nb: 100\nc: true\nd: 1.0\ne: ~\nf: 2001-12-14\ng: 1e-7\nh: -0.0\ni: .inf\n"
    want = compare(text, "yaml", age_keys["k1"], dec_args=["--output-type", "dotenv"])
    assert want == (b"a=1.5E+10\nb=100\nc=true\nd=1.0\ne=<nil>\nf=2001-12-14T00:00:00Z\n"
                    b"g=1E-07\nh=-0.0\ni=+Inf\n")


_TIMES = b"a: 2002-01-01T10:00:00.5+02:00\nb: 2001-12-14t21:59:43.10-05:00\nc: 2002-01-01\n"


@pytest.mark.parametrize("out", ["dotenv", "ini"])
def test_a_timestamp_is_written_in_whole_seconds_by_valtostring_like_sops(
        out: str, age_keys: dict[str, AgeKey]) -> None:
    # stores.ValToString formats a time.Time as time.RFC3339, dropping the fraction of a
    # second; kubecrypt kept it (2002-01-01T10:00:00.5+02:00).
    text = _TIMES if out == "dotenv" else b"s:\n" + b"".join(
        b"  " + line + b"\n" for line in _TIMES.splitlines())
    assert b":00.5" not in (compare(text, "yaml", age_keys["k1"],
                                    dec_args=["--output-type", out]) or b":00.5")


def test_exec_env_writes_a_timestamp_in_whole_seconds_like_sops(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(_TIMES)
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, "p.yaml", env=env, cwd=tmp_path)
    (tmp_path / "e.yaml").write_bytes(enc.stdout)
    args = ["exec-env", "e.yaml", 'printf "%s|%s|%s" "$a" "$b" "$c"']
    theirs = sops(*args, env=env, cwd=tmp_path)
    ours = kc(*args, env=env, cwd=tmp_path)
    assert theirs.returncode == 0 and b".5" not in theirs.stdout, theirs.stderr
    assert (ours.returncode, ours.stdout) == (0, theirs.stdout)


def test_a_null_encrypted_into_dotenv_opens_where_sops_file_does_not(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: it writes a null into an encrypted dotenv file as "<nil>", which
    # reads back as a string that is not ENC[...] (exit 25 in both tools). kubecrypt writes an
    # empty value, which both tools open.
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: ~\nb: x\n")
    r = age_keys["k1"].recipient
    for tool, name, code in ((sops, "s.env", 25), (kc, "k.env", 0)):
        enc = tool("encrypt", "--age", r, "--output-type", "dotenv", "p.yaml", env=env,
                   cwd=tmp_path)
        assert enc.returncode == 0, enc.stderr
        (tmp_path / name).write_bytes(enc.stdout)
        for reader in (sops, kc):
            out = reader("decrypt", name, env=env, cwd=tmp_path)
            assert out.returncode == code, (name, reader, out.stderr)
            assert out.stdout == (b"a=\nb=x\n" if code == 0 else b"")


@pytest.mark.parametrize(("ext", "text", "index", "want"), [
    ("env", b"A=1\nB=2\n", '["A"]', b"A=\nB=2\n"),
    ("ini", b"[s]\na = 1\nb = 2\n", '["s"]["a"]', b"[s]\na = \nb = 2\n"),
])
def test_set_of_a_null_in_dotenv_or_ini_opens_where_sops_file_does_not(
        ext: str, text: bytes, index: str, want: bytes, tmp_path: Path,
        age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: ``sops set f.env '["A"]' null`` writes ``A=<nil>``, a plaintext
    # value in an encrypted file that neither tool opens (exit 25). kubecrypt writes it empty
    # (as encrypting a null into dotenv or INI does), and both tools open its file.
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / f"p.{ext}").write_bytes(text)
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, f"p.{ext}", env=env, cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    for tool, name, code in ((sops, f"s.{ext}", 25), (kc, f"k.{ext}", 0)):
        (tmp_path / name).write_bytes(enc.stdout)
        r = tool("set", name, index, "null", env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        for reader in (sops, kc):
            out = reader("decrypt", name, env=env, cwd=tmp_path)
            assert (out.returncode, out.stdout) == (code, want if code == 0 else b""), (
                name, reader, out.stderr)


@pytest.mark.parametrize("text", [b"2001-01-01: x\n", b"a:\n  2001-01-01T10:00:00Z: x\n"])
def test_a_timestamp_key_is_refused_like_sops(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    # go-yaml reads the key as a time.Time; sops refuses non-string keys (exit 23).
    assert compare(text, "yaml", age_keys["k1"]) is None


# --------------------------------------------- JSON numbers and constants Go's decoder refuses

@pytest.mark.parametrize("text", [b'{"a": NaN}', b'{"a": [Infinity]}', b'{"a": {"b": -Infinity}}',
                                  b'{"a": 1' + b"0" * 400 + b"}"])
def test_json_that_go_refuses_is_refused_like_sops(text: bytes,
                                                   age_keys: dict[str, AgeKey]) -> None:
    # Python's json reads NaN and Infinity, and float() of a 400-digit integer raised
    # OverflowError (a traceback); sops exits 2 on all of them.
    assert compare(text, "json", age_keys["k1"]) is None


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400", "1" + "0" * 400, '"\\ud800"',
                                   "-0", "-1.5", '{"x": [1, -0]}'])
def test_set_values_are_json_as_go_reads_it_like_sops(
        value: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # NaN/Infinity/1e400 are not JSON (exit 7); a lone surrogate is U+FFFD (kubecrypt raised
    # UnicodeEncodeError); -0 is a value, not an option, and keeps its sign.
    _set_like_sops(tmp_path, age_keys["k1"], b"a: 1\n", '["a"]', value)


def test_json_after_the_first_value_is_refused_where_sops_drops_it(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: its JSON store decodes the first value and ignores the rest, so
    # {"a": 1}{"b": 2} is encrypted as {"a": 1} and "b" is lost. kubecrypt refuses (exit 2).
    env, theirs = _sops_encrypts(tmp_path, age_keys["k1"], "p.json", b'{"a": 1}{"b": 2}')
    (tmp_path / "s.json").write_bytes(theirs.stdout)
    assert sops("decrypt", "s.json", env=env, cwd=tmp_path).stdout == b'{\n\t"a": 1\n}\n'
    ours = kc("encrypt", "--age", age_keys["k1"].recipient, "p.json", env=env, cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (2, b"")


@pytest.mark.parametrize(("text", "out", "code"), [
    (b"sops_x: 1\n", "dotenv", 203),   # the output store reads sops_ keys as metadata
    (b"sops: 1\n", "dotenv", 0),       # "sops" is data in dotenv
    (b"'#x': a\n", "dotenv", 4),       # where sops is wrong: reads back as a comment
    (b"'a=b': a\n", "dotenv", 4),      # reads back as key "a"
])
def test_keys_the_output_store_reads_back_otherwise(
        text: bytes, out: str, code: int, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops checks for metadata keys with the output store (encrypt.go ensureNoMetadata);
    # kubecrypt checked the input's. A dotenv key with "#" or "=" is written by sops into a
    # file neither tool can open (MAC mismatch); kubecrypt refuses it (exit 4).
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(text)
    r = age_keys["k1"].recipient
    ours = kc("encrypt", "--age", r, "--output-type", out, "p.yaml", env=env, cwd=tmp_path)
    theirs = sops("encrypt", "--age", r, "--output-type", out, "p.yaml", env=env, cwd=tmp_path)
    assert ours.returncode == code, ours.stderr
    if code == 4:
        (tmp_path / "s.env").write_bytes(theirs.stdout)
        assert sops("decrypt", "s.env", env=env, cwd=tmp_path).returncode in (25, 51)
    else:
        assert theirs.returncode == code
        if code == 0:
            (tmp_path / "k.env").write_bytes(ours.stdout)
            assert sops("decrypt", "k.env", env=env, cwd=tmp_path).stdout == b"sops=1\n"


@pytest.mark.parametrize("key", ["'#x'", "';x'", "'[x]'", "' a'", "'a '"])
def test_an_ini_key_go_ini_reads_back_otherwise_is_refused(
        key: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: go-ini writes these keys unquoted and reads them back as a comment,
    # a section header or a trimmed name; sops' file fails in both tools (exit 51 or 25).
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"s:\n  " + key.encode() + b": x\n")
    r = age_keys["k1"].recipient
    theirs = sops("encrypt", "--age", r, "--output-type", "ini", "p.yaml", env=env, cwd=tmp_path)
    (tmp_path / "s.ini").write_bytes(theirs.stdout)
    assert theirs.returncode == 0
    for tool in (sops, kc):
        assert tool("decrypt", "s.ini", env=env, cwd=tmp_path).returncode in (25, 51)
    ours = kc("encrypt", "--age", r, "--output-type", "ini", "p.yaml", env=env, cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (4, b"")
