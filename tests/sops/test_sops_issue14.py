"""Issue 14: files the real sops 3.11 could not open, and output that differed from sops.
Each case runs both tools (``sopsdiff.compare``: each tool's file decrypts with the other to
exactly what sops prints) and, where the shape matters, checks kubecrypt's bytes directly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubecrypt.sops.stores import store_for
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment

from .conftest import AgeKey
from .sopsdiff import compare, encrypted_body, env_for, kc, sops

# ------------------------------------------------------------------ 1. empty flow collections


def test_empty_flow_mapping_with_comment_is_written_as_go_yaml_does() -> None:
    tree = Branch([("key", Branch([(Comment(" c"), None)])),
                   ("d", Branch([("e", Branch([(Comment(" x"), None)]))]))])
    out = store_for("yaml").emit_plain([tree]).decode()
    # A block form (``key:\n    # c``) reads back as null; go-yaml keeps the flow mapping.
    assert out == "key: {\n    # c\n}\nd:\n    e: {\n        # x\n}\n"
    back = store_for("yaml").load_plain(out.encode())[0]
    assert back.get("key") == Branch() and back.get("d") == Branch([("e", Branch())])


@pytest.mark.parametrize("text", [
    b"key: {} # comment\nb: [] # c2\nc: 1\n",
    b"d:\n  e: {} # x\n  f: [] # y\n  g:\n    - a: {} # q\n      b: 1\n",
    b"k: {\n    # inside\n}\nl: [\n  # inside\n]\n",
])
def test_empty_flow_collections_with_comments_open_in_both_tools(
        text: bytes, age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    want = compare(text, "yaml", age_keys["k1"])
    assert want is not None and b"null" not in want
    # The comment is encrypted inside the flow mapping, exactly where sops puts it.
    env = env_for(age_keys["k1"], str(tmp_path))
    src = tmp_path / "p.yaml"
    src.write_bytes(text)
    ours = kc("encrypt", "--age", age_keys["k1"].recipient, "--encrypted-regex", "^zz$",
              str(src), env=env)
    theirs = sops("encrypt", "--age", age_keys["k1"].recipient, "--encrypted-regex", "^zz$",
                  str(src), env=env)
    assert encrypted_body(ours.stdout) == encrypted_body(theirs.stdout)


def test_edit_keeps_an_empty_mapping_with_a_comment(age_keys: dict[str, AgeKey],
                                                    tmp_path: Path) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    src = tmp_path / "p.yaml"
    src.write_bytes(b"other: 1\n")
    enc = tmp_path / "e.yaml"
    enc.write_bytes(kc("encrypt", "--age", age_keys["k1"].recipient, str(src), env=env).stdout)
    editor = tmp_path / "ed.sh"
    editor.write_text("#!/bin/sh\nprintf 'key: {} # note\\nother: 2\\n' > \"$1\"\n")
    editor.chmod(0o755)
    r = kc("edit", str(enc), env={**env, "EDITOR": str(editor)})
    assert r.returncode == 0, r.stderr
    assert b"key: {\n    #ENC[" in enc.read_bytes()
    plain = sops("decrypt", str(enc), env=env)
    assert plain.returncode == 0, plain.stderr
    # An empty mapping, not null (go-yaml drops a comment inside ``{}`` when reading).
    assert plain.stdout == b"key: {}\nother: 2\n"


# ------------------------------------------------------------------ 5. comment attachment

@pytest.mark.parametrize("text", [
    b"a: |- # note\n  text\nz: 1\n",                      # after a block scalar header
    b"q:\n  - | # fo\n    m0\n  # up\n  - {}\n",          # ... of a sequence item
    b"b: &x # c\n  k: v\nc: *x\n",                         # after an anchor (and its alias)
    b"a: &anc # after anchored key\n  - 1\n  - 2\nb: 1\n",
    b"a: [] # d\n# p\nb: 1\n",                             # the next head comment wins
    b"l:\n  - a\n  - b\n  # end of list\nm: 1\n",
    b"l:\n  - # after dash\n    k: v\n  - x\n",
    b"l:\n  # head of nested\n  - - a\n    - b\n",
])
def test_yaml_comments_placed_as_go_yaml_attaches_them(text: bytes,
                                                       age_keys: dict[str, AgeKey]) -> None:
    assert compare(text, "yaml", age_keys["k1"]) is not None


def test_json_negative_zero_keeps_its_sign(age_keys: dict[str, AgeKey]) -> None:
    assert compare(b'{"d": -0, "e": 0}', "json", age_keys["k1"]) == b'{\n\t"d": -0,\n\t"e": 0\n}\n'


# ------------------------------------------------------------------ 2, 3. INI sections and keys

@pytest.mark.parametrize("text", [
    b"[a]\nx = 1\n\n[DEFAULT]\n; dc\ny = 2\n\n[b]\nz = 3\n",   # DEFAULT not first
    b"; top\n[DEFAULT]\n\n[a]\nx = 1\n",                       # empty DEFAULT with a comment
    b"[DEFAULT]\nx = 1\n[a]\ny = 2\n",                         # leading explicit header
    b"[a]\n; c\n[DEFAULT]\n",
    b"[a]\nk = 1\nk = 2\nj = 3\n[DEFAULT]\nq=1\n; qc\nq=2\n",  # duplicate keys: the last wins
    b'[s]\nm = """line1\nline2""" ; after\n`a=b` = 1\n"q:x" = 2\n\xc3\xbc\xc3\xbc = 3\n'
    b'k = x \\\n  y\nv = "  sp  "\n[t] ; sc\nz = a#b\n',      # multi-line, quoted keys, bytes
])
def test_ini_files_open_in_both_tools(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    assert compare(text, "ini", age_keys["k1"]) is not None


def test_ini_duplicate_key_keeps_the_last_value_at_the_first_position() -> None:
    tree = store_for("ini").load_plain(b"[a]\nk = 1\nj = 0\nk = 2\n")[0]
    assert tree.get("a") == Branch([("k", "2"), ("j", "0")])


def test_ini_default_header_written_unless_first_and_empty() -> None:
    store = store_for("ini")
    out = store.emit_plain(store.load_plain(b"[a]\nx = 1\n[DEFAULT]\ny = 2\n"))
    assert out == b"[a]\nx = 1\n\n[DEFAULT]\ny = 2\n"


# ------------------------------------------------------------------ 4. uint64 integers

@pytest.mark.parametrize("text", [b"a: 9223372036854775808\n",
                                  b"a_unencrypted: 18446744073709551615\nb: 1\n",
                                  b"a: 0x8000000000000000\n"])
def test_yaml_uint64_integers_are_refused_like_sops(text: bytes, age_keys: dict[str, AgeKey],
                                                    tmp_path: Path) -> None:
    assert compare(text, "yaml", age_keys["k1"]) is None  # same exit code as sops
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(text)
    r = kc("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "p.yaml"), env=env)
    assert r.returncode == 23 and b"unknown type: uint64" in r.stderr


def test_yaml_integers_around_the_uint64_range_still_encrypt(age_keys: dict[str, AgeKey]) -> None:
    text = b"a: 9223372036854775807\nb: -9223372036854775809\nc: 18446744073709551616\n"
    assert compare(text, "yaml", age_keys["k1"]) is not None


# ------------------------------------------------------------------ 6. exec-env

def _exec_env(tmp_path: Path, key: AgeKey, name: str, text: bytes,
              extra: tuple[str, ...] = ()) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    env = env_for(key, str(tmp_path))
    src = tmp_path / name
    src.write_bytes(text)
    enc = tmp_path / ("enc." + name.split(".")[-1])
    enc.write_bytes(sops("encrypt", "--age", key.recipient, *extra, str(src), env=env).stdout)
    cmd = "env | grep -E '^(A|B|C|D|E|F)=' | sort"
    s = sops("exec-env", str(enc), cmd, env=env)
    k = kc("exec-env", str(enc), cmd, env=env)
    assert b"Traceback" not in k.stderr
    return (s.returncode, s.stdout), (k.returncode, k.stdout)


def test_exec_env_formats_values_like_sops(tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    theirs, ours = _exec_env(tmp_path, age_keys["k1"], "p.yaml",
                             b"A: 1.5e+10\nB: null\nC: true\nD: 100.0\nE: 7\nF: 0.000001\n")
    assert theirs == ours and theirs[0] == 0
    assert ours[1] == b"A=1.5E+10\nB=<nil>\nC=true\nD=100.0\nE=7\nF=1E-06\n"


@pytest.mark.parametrize(("name", "text"), [
    ("p.yaml", b"A: 1\nB:\n  c: 2\n"),
    ("p.yaml", b"A: [1, 2]\n"),
    ("p.ini", b"[s]\nA = 1\n"),
    ("p.json", b'{"A=B": "x"}'),
])
def test_exec_env_refuses_what_sops_refuses(tmp_path: Path, age_keys: dict[str, AgeKey],
                                            name: str, text: bytes) -> None:
    theirs, ours = _exec_env(tmp_path, age_keys["k1"], name, text)
    assert theirs[0] == ours[0] == 1


def test_val_to_string_matches_go() -> None:
    from kubecrypt.sops.values import val_to_string

    assert [val_to_string(v) for v in (1.5e10, 100.0, 0.0, -0.0, 1e-7, 123456.0, 1234567.0,
                                       float("inf"), None, False, 3)] == [
        "1.5E+10", "100.0", "0.0", "-0.0", "1E-07", "123456.0", "1.234567E+06", "+Inf",
        "<nil>", "false", "3"]


# ------------------------------------------------------------------ 7. lone surrogates in JSON

def test_json_lone_surrogate_becomes_replacement_character(age_keys: dict[str, AgeKey]) -> None:
    text = b'{"a": "x\\ud800y", "b": "\\udc80", "c": "\\ud83d\\ude00", "d\\ud800": 1}'
    want = compare(text, "json", age_keys["k1"])
    assert want is not None and json.loads(want)["b"] == "\ufffd"


# ------------------------------------------------------------------ 10. exit codes

def test_no_key_and_no_rule_exits_1_like_sops(tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    s = sops("encrypt", "p.yaml", env=env, cwd=tmp_path)
    k = kc("encrypt", "p.yaml", env=env, cwd=tmp_path)
    assert s.returncode == k.returncode == 1


def test_two_selection_fields_in_a_rule_exit_1(tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    cfg = (f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
           "    encrypted_regex: a\n    unencrypted_regex: b\n")
    assert compare(b"a: 1\n", "yaml", age_keys["k1"], config=cfg) is None
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / ".sops.yaml").write_text(cfg)
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    assert kc("encrypt", "p.yaml", env=env, cwd=tmp_path).returncode == 1


@pytest.mark.parametrize(("text", "code"), [(b"", 92), (b"# only a comment\n", 2), (b"\n\n", 2)])
def test_empty_yaml_is_refused_like_sops(text: bytes, code: int, tmp_path: Path,
                                         age_keys: dict[str, AgeKey]) -> None:
    assert compare(text, "yaml", age_keys["k1"]) is None
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(text)
    r = kc("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "p.yaml"), env=env)
    assert r.returncode == code


@pytest.mark.parametrize("text", [b"---\n", b"a: 1\n---\n", b"---\n---\na: 1\n", b"---\n# c\n"])
def test_empty_yaml_documents_are_kept_like_sops(text: bytes,
                                                 age_keys: dict[str, AgeKey]) -> None:
    assert compare(text, "yaml", age_keys["k1"]) is not None


# ------------------------------------------------------------------ 8, 9. set, --extract

def _both(tmp_path: Path, key: AgeKey, name: str, text: bytes,
          *args: str) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    env = env_for(key, str(tmp_path))
    src = tmp_path / name
    src.write_bytes(text)
    enc = tmp_path / ("enc." + name.split(".")[-1])
    enc.write_bytes(sops("encrypt", "--age", key.recipient, str(src), env=env).stdout)
    s = sops(*args, str(enc), env=env)
    k = kc(*args, str(enc), env=env)
    assert b"Traceback" not in k.stderr
    return (s.returncode, s.stdout), (k.returncode, k.stdout)


@pytest.mark.parametrize("path", ['["a"]', '["b"]', '["c"]', '["d"]', '["e"]', '["f"]',
                                  '["f"][0]', '["g"]'])
def test_extract_writes_what_sops_writes(path: str, tmp_path: Path,
                                         age_keys: dict[str, AgeKey]) -> None:
    text = b"a: 1\nb: true\nc: x\nd: 1.5\ne: null\nf: [1, 2]\ng: {h: 1}\n"
    theirs, ours = _both(tmp_path, age_keys["k1"], "p.yaml", text, "decrypt", "--extract", path)
    assert theirs == ours and theirs[0] == 0


def test_extract_of_an_ini_section_fails_like_sops(tmp_path: Path,
                                                   age_keys: dict[str, AgeKey]) -> None:
    theirs, ours = _both(tmp_path, age_keys["k1"], "p.ini", b"[s]\nk = v\n",
                         "decrypt", "--extract", '["s"]')
    assert theirs[0] == ours[0] == 4


def test_set_past_the_end_of_a_list_appends(tmp_path: Path,
                                            age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"l: [a, b]\n")
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "p.yaml"),
               env=env).stdout
    outs = []
    for name, tool in (("s.yaml", sops), ("k.yaml", kc)):
        (tmp_path / name).write_bytes(enc)
        assert tool("set", str(tmp_path / name), '["l"][5]', '"c"', env=env).returncode == 0
        outs.append(sops("decrypt", str(tmp_path / name), env=env).stdout)
    assert outs[0] == outs[1] == b"l:\n    - a\n    - b\n    - c\n"


# ------------------------------------------------------------------ 9. byte differences

def test_multi_line_strings_with_tabs_are_literal_blocks_like_go_yaml(
        age_keys: dict[str, AgeKey]) -> None:
    text = (b'a: "x\\ty\\nz"\nc: "x\\t\\ny"\nd: "x\\n\\ty"\ne: "x\\t"\n"g\\th": "a\\tb"\n'
            b'i: "x\\ny\\t"\nj: ["p\\tq\\nr"]\nk: "\\u00e9\\tx\\ny"\nl: "x \\t\\ny"\n')
    want = compare(text, "yaml", age_keys["k1"])
    assert want is not None
    assert want.startswith(b"a: |-\n    x\ty\n    z\nc: |-\n    x\t\n    y\n")
    assert b'e: "x\\t"\n"g\\th": "a\\tb"\n' in want  # one line: double quotes


def test_multi_line_string_starting_with_a_tab_stays_readable(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops 3.11 writes these as null (data loss); a literal block would not read back in
    # go-yaml either, so kubecrypt double-quotes them.
    env = env_for(age_keys["k1"], str(tmp_path))
    src = tmp_path / "p.json"
    src.write_bytes(b'{"b": "\\tx\\ny", "j": ["\\t\\n"]}')
    enc = tmp_path / "e.json"
    enc.write_bytes(sops("encrypt", "--age", age_keys["k1"].recipient, str(src), env=env).stdout)
    assert sops("decrypt", "--output-type", "yaml", str(enc), env=env).stdout == (
        b"b: null\nj:\n    - null\n")
    ours = kc("decrypt", "--output-type", "yaml", str(enc), env=env).stdout
    assert ours == b'b: "\\tx\\ny"\nj:\n    - "\\t\\n"\n'
    (tmp_path / "o.yaml").write_bytes(ours)
    back = kc("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "o.yaml"), env=env)
    (tmp_path / "o.enc.yaml").write_bytes(back.stdout)
    r = sops("decrypt", "--output-type", "json", str(tmp_path / "o.enc.yaml"), env=env)
    assert json.loads(r.stdout) == {"b": "\tx\ny", "j": ["\t\n"]}


# ------------------------------------------------------------------ 8. updatekeys threshold

def _groups_rule(keys: list[AgeKey], threshold: int | None) -> str:
    thr = "" if threshold is None else f"    shamir_threshold: {threshold}\n"
    return ("creation_rules:\n  - path_regex: .*\n" + thr + "    key_groups:\n"
            + "".join(f"      - age: [{k.recipient}]\n" for k in keys))


@pytest.mark.parametrize(("before", "after", "threshold", "written"), [
    (1, 2, 1, b"shamir_threshold: 2"),   # the rule's 1 is not read: the groups' count
    (3, 2, 1, b"shamir_threshold: 2"),   # the file's 3, lowered to the groups' count
    (3, 3, 2, b"shamir_threshold: 3"),   # same keys: already up to date, 3 stays
    (2, 1, None, b"shamir_threshold: 1"),  # one group left: sops still writes 1
])
def test_updatekeys_threshold_as_sops_writes_it(before: int, after: int, threshold: int | None,
                                                written: bytes, tmp_path: Path,
                                                age_keys: dict[str, AgeKey]) -> None:
    keys = [age_keys["k1"], age_keys["k2"], age_keys["k3"]]
    env = env_for(keys[0], str(tmp_path))
    ident = tmp_path / "all.txt"
    ident.write_bytes(b"".join(k.identity_file.read_bytes() for k in keys))
    env["SOPS_AGE_KEY_FILE"] = str(ident)
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    (tmp_path / ".sops.yaml").write_text(_groups_rule(keys[:before], None))
    enc = sops("encrypt", "p.yaml", env=env, cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    (tmp_path / ".sops.yaml").write_text(_groups_rule(keys[:after], threshold))
    outs = []
    for name, tool in (("s.yaml", sops), ("k.yaml", kc)):
        (tmp_path / name).write_bytes(enc.stdout)
        r = tool("updatekeys", "-y", name, env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        text = (tmp_path / name).read_bytes()
        assert text.count(b"shamir_threshold") == 1 and written in text
        assert text.count(b"recipient:") == after
        outs.append(sops("decrypt", name, env=env, cwd=tmp_path).stdout)
    assert outs == [b"a: 1\n", b"a: 1\n"]


def test_updatekeys_to_two_groups_from_threshold_1_fails_like_sops(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    keys = [age_keys["k1"], age_keys["k2"]]
    env = env_for(keys[0], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n")
    (tmp_path / ".sops.yaml").write_text(_groups_rule(keys[:1], None))
    enc = sops("encrypt", "p.yaml", env=env, cwd=tmp_path).stdout.replace(
        b"sops:\n", b"sops:\n    shamir_threshold: 1\n", 1)
    (tmp_path / ".sops.yaml").write_text(_groups_rule(keys, None))
    for name, tool in (("s.yaml", sops), ("k.yaml", kc)):
        (tmp_path / name).write_bytes(enc)
        r = tool("updatekeys", "-y", name, env=env, cwd=tmp_path)
        assert r.returncode == 1 and b"Traceback" not in r.stderr
        assert (tmp_path / name).read_bytes() == enc  # nothing written


@pytest.mark.parametrize("command", [("rotate", "-i"), ("set",), ("edit",)])
def test_binary_file_rewritten_gets_the_default_suffix_like_sops(
        command: tuple[str, ...], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    env["EDITOR"] = "sh -c 'echo more >> \"$0\"'"
    (tmp_path / "p.bin").write_bytes(b"hello\xff\n")
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "p.bin"),
               env=env).stdout
    assert b"unencrypted_suffix" not in enc  # encrypt records no selection for binary
    tail = ('["data"]', '"zz"') if command == ("set",) else ()
    got = []
    for name, tool in (("s.bin", sops), ("k.bin", kc)):
        (tmp_path / name).write_bytes(enc)
        r = tool(*command, str(tmp_path / name), *tail, env=env)
        assert r.returncode == 0, r.stderr
        meta = json.loads((tmp_path / name).read_bytes())["sops"]
        got.append(({k: v for k, v in meta.items() if "crypted" in k},
                    sops("decrypt", str(tmp_path / name), env=env).stdout))
    assert got[0] == got[1] and got[0][0] == {"unencrypted_suffix": "_unencrypted"}


# ------------------------------------------------------------------ 10. binary input and output

_NOT_UTF8 = [b"hello\xff\n", b"x" * 60 + b"\xff\xe2\x82" + b"y" * 100, "caf\u00e9 \ufffd\n".encode()]


@pytest.mark.parametrize("fmt", ["yaml", "json", "dotenv"])
def test_output_type_is_honoured_for_binary_input(fmt: str, tmp_path: Path,
                                                  age_keys: dict[str, AgeKey]) -> None:
    env = env_for(age_keys["k1"], str(tmp_path))
    src = tmp_path / "p.bin"
    src.write_bytes(_NOT_UTF8[1])
    outs = []
    for name, tool in (("s", sops), ("k", kc)):
        r = tool("encrypt", "--age", age_keys["k1"].recipient, "--output-type", fmt, str(src),
                 env=env)
        assert r.returncode == 0, r.stderr
        (tmp_path / name).write_bytes(r.stdout)
        back = sops("decrypt", "--input-type", fmt, "--output-type", "binary",
                    str(tmp_path / name), env=env)
        assert back.stdout == src.read_bytes(), back.stderr
        outs.append((r.stdout[:6], b"unencrypted_suffix" in r.stdout))
    assert outs[0] == outs[1] and outs[0][1] is False


@pytest.mark.parametrize("data", _NOT_UTF8)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_binary_data_decrypted_as_yaml_or_json_like_sops(data: bytes, fmt: str, tmp_path: Path,
                                                         age_keys: dict[str, AgeKey]) -> None:
    # Bytes that are not UTF-8: go-yaml writes !!binary (base64 in lines of 70), Go's JSON
    # encoder an escaped U+FFFD per byte.
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.bin").write_bytes(data)
    enc = tmp_path / "e.bin"
    enc.write_bytes(sops("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "p.bin"),
                         env=env).stdout)
    theirs = sops("decrypt", "--output-type", fmt, str(enc), env=env)
    ours = kc("decrypt", "--output-type", fmt, str(enc), env=env)
    assert theirs.returncode == ours.returncode == 0
    assert ours.stdout == theirs.stdout
    if fmt == "yaml" and b"\xff" in data:
        assert ours.stdout.startswith(b"data: !!binary ")
        (tmp_path / "o.yaml").write_bytes(ours.stdout)  # and it reads back as the same bytes
        again = kc("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "o.yaml"),
                   env=env)
        (tmp_path / "o.enc.yaml").write_bytes(again.stdout)
        assert sops("decrypt", "--output-type", "binary", str(tmp_path / "o.enc.yaml"),
                    env=env).stdout == data


def test_yaml_with_several_documents_is_refused_as_json_where_sops_drops_them(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops 3.11 writes the first document only (the others are lost); kubecrypt refuses.
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"a: 1\n---\nb: 2\n")
    enc = tmp_path / "e.yaml"
    enc.write_bytes(sops("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "p.yaml"),
                         env=env).stdout)
    theirs = sops("decrypt", "--output-type", "json", str(enc), env=env)
    assert theirs.returncode == 0 and theirs.stdout == b'{\n\t"a": 1\n}\n'
    ours = kc("decrypt", "--output-type", "json", str(enc), env=env)
    assert ours.returncode == 4 and ours.stdout == b""
    assert b"one document" in ours.stderr and b"Traceback" not in ours.stderr


def test_large_floats_are_written_as_go_yaml_writes_float64(age_keys: dict[str, AgeKey]) -> None:
    # Already matching when this was checked (kept as a guard): YAML in, and JSON to YAML.
    text = (b"a: 1234567890123456789.0\nb: 1.0e+18\nc: 12345678.5\nd: 1e6\ne: 100000.0\n"
            b"f: 1234567890123456789012\ng: 2.5e-7\nh: 1.7976931348623157e308\n")
    want = compare(text, "yaml", age_keys["k1"])
    assert want == (b"a: 1.2345678901234568e+18\nb: 1e+18\nc: 1.23456785e+07\nd: 1e+06\n"
                    b"e: 100000\nf: 1.2345678901234568e+21\ng: 2.5e-07\n"
                    b"h: 1.7976931348623157e+308\n")


def test_foot_comment_of_a_nested_mapping_sops_leaves_encrypted(
        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """Where sops is wrong: decrypting its own file, sops 3.11 prints a nested mapping's foot
    comment that follows a head comment still encrypted ("#ENC[...]", with a warning).
    kubecrypt decrypts it."""
    text = b"f:\n  m:\n    # h\n    r: q\n  # note\n"
    env = env_for(age_keys["k1"], str(tmp_path))
    src = tmp_path / "p.yaml"
    src.write_bytes(text)
    enc = sops("encrypt", "--age", age_keys["k1"].recipient, str(src), env=env, cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    (tmp_path / "s.yaml").write_bytes(enc.stdout)
    theirs = sops("decrypt", str(tmp_path / "s.yaml"), env=env, cwd=tmp_path)
    ours = kc("decrypt", str(tmp_path / "s.yaml"), env=env, cwd=tmp_path)
    assert theirs.returncode == 0 and ours.returncode == 0, (theirs.stderr, ours.stderr)
    assert b"#ENC[AES256_GCM" in theirs.stdout and b"note" not in theirs.stdout
    assert b"# note" in ours.stdout and b"ENC[" not in ours.stdout
