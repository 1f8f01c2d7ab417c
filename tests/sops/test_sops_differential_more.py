"""File shapes and command forms the random generators of ``test_sops_differential_*.py`` do not
reach (tags, directives, complex keys, symlinks, ``.sops.yaml`` forms, recipient lists, tree
paths), each run against the real sops 3.11 both ways."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import AgeKey
from .sopsdiff import compare, env_for, kc, sops
from .test_sops_differential_shapes import _SETTINGS

# ------------------------------------------------------------------------ YAML tags and keys

# go-yaml v3 resolves only the core tags: any other tag leaves the scalar the string it spells
# (`!foo 1` is "1", `!foo` alone is ""), as a value and as a key.
_CUSTOM_TAGS = ["a: !foo 1\n", "a: !foo true\n", "a: !foo\n", "a: !foo ~\n",
                "a: !<tag:x> 1\n", "a: [!foo 1, !foo 2001-01-01]\n", "!foo 1: x\n",
                "%TAG !e! tag:example.com,2000:\n---\na: !e!foo 1\n",
                "a: 1\n---\n!foo 1: x\n", "a: !foo 1 # c\n"]

# A mapping or list as a key: sops decodes a plain file's first document into a Go map of
# string keys (exit 2); a later document only meets its tree walk (exit 23).
_COMPLEX_KEYS = ["? [a, b]\n: v\n", "? {a: 1}\n: v\n", "[a]: v\n", "a:\n  ? [x]\n  : v\n",
                 "k: &k [a]\nb:\n  *k : v\n", "a: 1 # c\n? [a]\n: v\n",
                 "a: 1\n---\n? [a]\n: v\n", "a: 1\n---\n? {x: 1}\n: v\n",
                 "a: 1\n---\nk: &k [a]\nb:\n  *k : v\n", "a: 1\n---\n? [a] # c\n: v\n"]

# go-yaml v3 takes only `%YAML 1.1` (libyaml warns for 1.2 and goes on).
_DIRECTIVES = ["%YAML 1.2\n---\na: 1\n", "%YAML 1.1\n---\na: 1\n", "%YAML 1.3\n---\na: 1 # c\n"]


@pytest.mark.parametrize("text", _CUSTOM_TAGS + _COMPLEX_KEYS + _DIRECTIVES)
def test_tags_complex_keys_and_directives_as_sops(text: str,
                                                  age_keys: dict[str, AgeKey]) -> None:
    compare(text.encode(), "yaml", age_keys["k1"])


# ------------------------------------------------------------------------ .sops.yaml forms

def _recipients(out: bytes) -> list[str]:
    return [ln.split(b"recipient: ")[1].decode() for ln in out.splitlines()
            if b"recipient: " in ln]


@pytest.mark.parametrize("config", ["creation_rules:\n", "stores:\n  yaml:\n    indent: 2\n",
                                    "destination_rules: []\n", "creation_rules: []\n"])
def test_a_config_without_creation_rules_is_no_config_like_sops(
        config: str, age_keys: dict[str, AgeKey]) -> None:
    # sops 3.11 (config.go parseCreationRuleForFile): no creation_rules at all is as if there
    # were no .sops.yaml for the keys (its stores still apply); an empty list matches nothing.
    key = age_keys["k1"]
    compare(b"a:\n  b: [1, 2]\n", "yaml", key, args=["--age", key.recipient], config=config)


def test_updatekeys_without_creation_rules_fails_like_sops(tmp_path: Path,
                                                           age_keys: dict[str, AgeKey]) -> None:
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    f = tmp_path / "x.yaml"
    f.write_bytes(b"a: 1\n")
    assert sops("encrypt", "-i", "--age", key.recipient, "x.yaml", env=env,
                cwd=tmp_path).returncode == 0
    (tmp_path / ".sops.yaml").write_text("stores: {}\n")
    before = f.read_bytes()
    theirs = sops("updatekeys", "-y", "x.yaml", env=env, cwd=tmp_path)
    ours = kc("updatekeys", "-y", "x.yaml", env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == 1, (theirs.stderr, ours.stderr)
    assert b"does not contain any creation rule" in theirs.stderr
    assert b"does not contain any creation rule" in ours.stderr
    assert f.read_bytes() == before


_RULES = ("creation_rules:\n  - path_regex: ^secrets/\n    age: {k1}\n"
          "  - path_regex: ^link/secrets/\n    age: {k3}\n  - age: {k2}\n")


@pytest.mark.parametrize(("cwd", "name"), [
    ("", "secrets/x.yaml"),                    # a symlinked file: its own path picks the rule
    ("", "./secrets/../secrets/x.yaml"),
    ("link", "secrets/x.yaml"),                # a symlinked directory, $PWD through it
    ("link/secrets", "x.yaml"),
    ("", "link/secrets/x.yaml"),
    ("link", "../real/secrets/x.yaml"),
])
def test_creation_rules_match_the_path_as_given_like_sops(
        cwd: str, name: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # sops matches path_regex against filepath.Abs of the name as given (lexical, from $PWD
    # when it names the working directory), relative to the config's directory; kubecrypt
    # resolved symlinks and encrypted a symlinked secret to another rule's recipients.
    rules = _RULES.format(**{n: age_keys[n].recipient for n in ("k1", "k2", "k3")})
    (tmp_path / "real" / "secrets").mkdir(parents=True)
    (tmp_path / "plain").mkdir()
    (tmp_path / ".sops.yaml").write_text(rules)
    (tmp_path / "real" / ".sops.yaml").write_text(rules)
    (tmp_path / "plain" / "x.yaml").write_bytes(b"a: 1\n")
    (tmp_path / "real" / "secrets" / "x.yaml").write_bytes(b"a: 1\n")
    (tmp_path / "secrets").mkdir()
    os.symlink("../plain/x.yaml", tmp_path / "secrets" / "x.yaml")
    os.symlink("real", tmp_path / "link")
    wd = tmp_path / cwd
    env = {**env_for(age_keys["k1"], str(tmp_path)), "PWD": str(wd)}
    theirs = sops("encrypt", name, env=env, cwd=wd)
    ours = kc("encrypt", name, env=env, cwd=wd)
    assert theirs.returncode == ours.returncode == 0, (theirs.stderr, ours.stderr)
    assert _recipients(ours.stdout) == _recipients(theirs.stdout)


def test_in_place_through_a_symlink_keeps_the_link_like_sops(
        tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / "plain").mkdir()
    target = tmp_path / "plain" / "x.yaml"
    link = tmp_path / "x.yaml"
    os.symlink("plain/x.yaml", link)
    for tool in (sops, kc):
        target.write_bytes(b"a: 1\n")
        r = tool("encrypt", "-i", "--age", key.recipient, "x.yaml", env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert link.is_symlink() and b"ENC[" in target.read_bytes()
        r = tool("set", "x.yaml", '["a"]', "2", env=env, cwd=tmp_path)
        assert r.returncode == 0 and link.is_symlink(), r.stderr
        for reader in (sops, kc):
            got = reader("decrypt", "plain/x.yaml", env=env, cwd=tmp_path)
            assert got.stdout == b"a: 2\n", got.stderr


# ------------------------------------------------------------------------ Go regexes

_KEYS = ("a: 1\nab: 2\nC: 3\n'1': 4\n'a.b': 5\n'a{,2}': 6\n\"a\\n\": 7\n\"\\u0663\": 8\n"
         "é: 9\n\"\\u00a0\": 10\nx_y: 11\n'a b': 12\nK: 13\n")

# Go's RE2 syntax where Python's re reads it otherwise: ASCII \d \w \s \b and POSIX classes,
# $ at the end of the text only, \z, \Q..\E, \x{..}, (?U), flags in mid-pattern, {,2} literal.
_GO_REGEXES = ["^(a|C)$", "a$", "[[:digit:]]", "^[[:^alpha:]]$", "[[:word:]]", "^\\d$",
               "^\\w$", "^\\s$", "\\bé", "\\Ba", "^a{,2}$", "\\Qa.b\\E", "\\x{61}b", "(?U)a+",
               "(?i)c$", "a(?i)B|k", "(?i:A)b", "(?m)^a$", "(?s)a.", "^a\\z", "[^]a]", "\\101",
               "(?<n>a)b", "(?P<n>C)", "(?)a", "[\\d_]$", "[^\\D]", "[a-c]{2}", "a{1,1000}",
               "a\\z*", "^{1,2}a", "(?i)\\w$", "(?i:\\B)", "(?i)[h-j]", "(?i)i",
               # Unicode classes and Go's folding, which a translation to Python's re missed
               "^\\pL$", "\\p{Greek}", "^\\PL", "\\pN", "a(?i)*", "(?i)[^\\W]$", "(?i)\\W",
               "\\Q\\C\\E", "^(a|C)$|^é$"]


@pytest.mark.parametrize("regex", _GO_REGEXES)
def test_selection_regexes_are_read_as_go_reads_them(regex: str,
                                                     age_keys: dict[str, AgeKey]) -> None:
    # kubecrypt read them with Python's re: a file one tool wrote failed the other's MAC.
    compare(_KEYS.encode(), "yaml", age_keys["k1"], args=["--encrypted-regex", regex])


# Regexes Go refuses (Python's re takes most of them). sops 3.11 ignores regexp.Match's error:
# such a regex matches nothing, so sops writes every value in plaintext under an
# encrypted_regex and exits 0. kubecrypt refuses to encrypt with it (exit 1, nothing
# written), and opens sops' file as sops does.
_NOT_GO = ["(", "(?=a)", "(?!a)", "a(?<=a)", "(a)\\1", "\\Z", "\\C", "x**", "a*+", "a{1001}",
           "(?i-)", "[a-\\d]", "\\8"]


@pytest.mark.parametrize("regex", _NOT_GO)
def test_a_regex_go_refuses_is_refused_and_sops_files_with_it_open(
        regex: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / "x.yaml").write_bytes(b"a: 1\nb: two\n")
    for field in ("--encrypted-regex", "--unencrypted-regex"):
        ours = kc("encrypt", "--age", key.recipient, field, regex, "x.yaml", env=env,
                  cwd=tmp_path)
        assert ours.returncode == 1 and ours.stdout == b"", ours.stderr
        assert b"not a valid regular expression" in ours.stderr
        theirs = sops("encrypt", "--age", key.recipient, field, regex, "x.yaml", env=env,
                      cwd=tmp_path)
        assert theirs.returncode == 0, theirs.stderr
        (tmp_path / "s.yaml").write_bytes(theirs.stdout)
        want = sops("decrypt", "s.yaml", env=env, cwd=tmp_path)
        got = kc("decrypt", "s.yaml", env=env, cwd=tmp_path)
        assert (got.returncode, got.stdout) == (want.returncode, want.stdout) == (
            0, b"a: 1\nb: two\n"), got.stderr


@pytest.mark.parametrize(("regex", "code"), [("(", 1), ("(?=x)", 1), ("\\.yaml\\z", 0),
                                             ("(?i)\\.YAML$", 0), ("yaml\\Z", 1)])
def test_path_regex_is_read_as_go_reads_it(regex: str, code: int, tmp_path: Path,
                                           age_keys: dict[str, AgeKey]) -> None:
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: '{regex}'\n    age: {key.recipient}\n")
    (tmp_path / "x.yaml").write_bytes(b"a: 1\n")
    theirs = sops("encrypt", "x.yaml", env=env, cwd=tmp_path)
    ours = kc("encrypt", "x.yaml", env=env, cwd=tmp_path)
    assert theirs.returncode == ours.returncode == code, (theirs.stderr, ours.stderr)


# ------------------------------------------------------------------------ recipient lists

@pytest.mark.parametrize(("flag", "rule"), [
    ("{k1},", None), (",{k1}", None), ("{k1},,{k2}", None), ("{k1}, {k2}", None),
    (" {k1} ", None),
    (None, "age: '{k1},'"), (None, "age: ['{k1},{k2}']"), (None, "age: ['{k1}', '']"),
    (None, "age: ['{k1},']"), (None, "age: '{k1}, ,{k2}'"),
    (None, "key_groups:\n      - age: ['{k1},{k2}']"),
    (None, "key_groups:\n      - age: ['{k1}', '']"),
    (None, "key_groups:\n      - age: ['{k1},']"),
    (None, "key_groups:\n      - age: '{k1}'"),
    (None, "key_groups:\n      - age: ['{k1}']\n      - {{}}"),
    (None, "key_groups:\n      - age: ['{k1}']\n        merge:\n          - age: ['{k2}']"),
    (None, "shamir_threshold: '2'\n    key_groups:\n      - age: ['{k1}']\n      - age: ['{k2}']"),
])
def test_age_recipient_lists_are_read_as_sops_reads_them(
        flag: str | None, rule: str | None, tmp_path: Path,
        age_keys: dict[str, AgeKey]) -> None:
    # sops 3.11: a flag's entries are each trimmed and none may be empty; a flat rule's string
    # skips empty entries, its list items are joined with commas; a key group takes a list
    # only, each item split on commas; an empty key group and a quoted threshold are errors.
    names = {n: age_keys[n].recipient for n in ("k1", "k2")}
    env = env_for(age_keys["k1"], str(tmp_path))
    (tmp_path / "x.yaml").write_bytes(b"a: 1\n")
    args = ["--age", flag.format(**names)] if flag else []
    if rule:
        (tmp_path / ".sops.yaml").write_text(
            "creation_rules:\n  - " + rule.format(**names) + "\n")
    theirs = sops("encrypt", *args, "x.yaml", env=env, cwd=tmp_path)
    ours = kc("encrypt", *args, "x.yaml", env=env, cwd=tmp_path)
    assert ours.returncode == theirs.returncode, (theirs.stderr, ours.stderr)
    assert _recipients(ours.stdout) == _recipients(theirs.stdout)
    assert b"Traceback" not in ours.stderr


# ------------------------------------------------------------------------ tree paths

@pytest.mark.parametrize(("cmd", "code"), [
    (["decrypt", "--extract", '["c"][-1]', "e.yaml"], 1),
    (["set", "e.yaml", '["c"][-1]', "1"], 91),
    (["unset", "e.yaml", '["c"][-1]'], 1),
])
def test_a_negative_index_is_refused_where_sops_panics(
        cmd: list[str], code: int, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: a negative list index panics in sops 3.11 (exit 2, a Go stack
    # trace); kubecrypt took it as Python does (the last item). It is out of range: refused,
    # the file left as it was.
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / "p.yaml").write_bytes(b"c: [x, y]\n")
    enc = sops("encrypt", "--age", key.recipient, "p.yaml", env=env, cwd=tmp_path).stdout
    (tmp_path / "e.yaml").write_bytes(enc)
    theirs = sops(*cmd, env=env, cwd=tmp_path)
    assert theirs.returncode == 2 and b"panic" in theirs.stderr
    (tmp_path / "e.yaml").write_bytes(enc)
    ours = kc(*cmd, env=env, cwd=tmp_path)
    assert ours.returncode == code and ours.stdout == b"", ours.stderr
    assert b"Traceback" not in ours.stderr and (tmp_path / "e.yaml").read_bytes() == enc


# ------------------------------------------------------------------------ rotate

@pytest.mark.parametrize("groups", [1, 2])
def test_rotate_that_empties_a_key_group_is_refused_like_sops(
        groups: int, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # Data loss before: removing a Shamir group's last key, kubecrypt wrote the file with that
    # group's share held by no key, and neither tool could open it again (exit 128). sops
    # refuses (exit 1, "empty key group provided"); so does kubecrypt, the file untouched.
    k1, k2 = age_keys["k1"], age_keys["k2"]
    env = key_env_all(age_keys, tmp_path)
    rule = (f"  - shamir_threshold: 2\n    key_groups:\n      - age: ['{k1.recipient}']\n"
            f"      - age: ['{k2.recipient}']\n" if groups == 2 else f"  - age: {k2.recipient}\n")
    (tmp_path / ".sops.yaml").write_text("creation_rules:\n" + rule)
    (tmp_path / "x.yaml").write_bytes(b"a: 1\n")
    assert sops("encrypt", "-i", "x.yaml", env=env, cwd=tmp_path).returncode == 0
    enc = (tmp_path / "x.yaml").read_bytes()
    for tool in (sops, kc):
        r = tool("rotate", "-i", "--rm-age", k2.recipient, "x.yaml", env=env, cwd=tmp_path)
        assert r.returncode == 1 and b"empty key group provided" in r.stderr, r.stderr
        assert (tmp_path / "x.yaml").read_bytes() == enc


def key_env_all(age_keys: dict[str, AgeKey], tmp_path: Path) -> dict[str, str]:
    ids = tmp_path / "ids.txt"
    ids.write_text(age_keys["k1"].identity_file.read_text()
                   + age_keys["k2"].identity_file.read_text())
    return {**env_for(age_keys["k1"], str(tmp_path)), "SOPS_AGE_KEY_FILE": str(ids)}


# ------------------------------------------------------------------------ --output

@pytest.mark.parametrize("cmd", [["encrypt", "--age", "@", "--output", "o.yaml", "x.yaml"],
                                 ["decrypt", "--output", "o.yaml", "e.yaml"]])
def test_output_over_an_existing_file_keeps_its_mode_like_sops(
        cmd: list[str], tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / "x.yaml").write_bytes(b"a: 1\n")
    (tmp_path / "e.yaml").write_bytes(
        sops("encrypt", "--age", key.recipient, "x.yaml", env=env, cwd=tmp_path).stdout)
    args = [key.recipient if a == "@" else a for a in cmd]
    modes = []
    for tool in (sops, kc):
        out = tmp_path / "o.yaml"
        out.write_bytes(b"old\n")
        out.chmod(0o640)
        assert tool(*args, env=env, cwd=tmp_path).returncode == 0
        modes.append(out.stat().st_mode & 0o777)
        out.unlink()
        assert tool(*args, env=env, cwd=tmp_path).returncode == 0
        modes.append(out.stat().st_mode & 0o777)
    assert modes[0] == modes[2] == 0o640
    assert modes[3] == 0o600  # a new file: 0600 where sops creates it 0644 (docs/sops.md)


# Random Go regexes over keys where the dialects part (ASCII classes, case folding of K, ſ and
# the Turkish i, anchors before a newline, repeated assertions): the keys sops encrypts must be
# exactly those kubecrypt's reading of the regex selects. Bounded: KUBECRYPT_SOPS_EXAMPLES.
_FOLD_KEYS = ["a", "ab", "C", "1", "a.b", "a{,2}", "a\n", "\u0663", "é", "\u00a0", "x_y", "a b",
              "K", "\u212a", "\u03a3", "\u03c3", "\u03c2", "\u00df", "\u1e9e", "a\tb", "[x]",
              "$", "^a", "\\", "a\r", "\u0130", "\u0131", "\ufb00", "-", "aaa", "i", "I"]
_ATOMS = ["a", "b", "C", "k", "s", "i", "\u00e9", ".", "\\d", "\\w", "\\s", "\\b", "\\B",
          "\\D", "\\W", "\\S", "[[:alpha:]]", "[[:^digit:]]", "[a-c]", "[^a]", "[\\d_]",
          "(?i)", "(?-i)", "(?s)", "(?m)", "^", "$", "\\A", "\\z", "\\Qa.b\\E", "\\x{61}",
          "\\.", "\\$", "\u03c3", "[\u03a3]", "\\n", "[[:space:]]", "[[:punct:]]",
          "[[:upper:]]", "[\\[\\]]", "-", "{", "x{2}", "a{0,1}"]
_piece = st.tuples(st.sampled_from(_ATOMS), st.sampled_from(["", "(", "(?i:"]),
                   st.sampled_from(["", "", "*", "+", "?", "*?", "{1,2}", "{,2}"]),
                   st.booleans()).map(
    lambda t: (f"{t[1]}{t[0]})" if t[1] else t[0]) + t[2] + ("|" if t[3] else ""))


@pytest.mark.slow
@_SETTINGS
@given(regex=st.lists(_piece, min_size=1, max_size=4).map("".join))
def test_random_go_regexes_select_what_sops_selects(regex: str, tmp_path_factory: pytest.TempPathFactory,
                                                    age_keys: dict[str, AgeKey]) -> None:
    from kubecrypt.sops import goregex

    try:
        mine = {k for k in _FOLD_KEYS if goregex.search(regex, k)}
    except goregex.InvalidRegex:
        mine = None
    d = tmp_path_factory.mktemp("rx")
    env = env_for(age_keys["k1"], str(d))
    (d / "x.json").write_text(json.dumps({k: i for i, k in enumerate(_FOLD_KEYS)}))
    r = sops("encrypt", "--age", age_keys["k1"].recipient, "--encrypted-regex", regex, "x.json",
             env=env, cwd=d)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    theirs = {k for k in _FOLD_KEYS if str(out[k]).startswith("ENC[")}
    # a regex Go refuses matches nothing in sops (and kubecrypt refuses to encrypt with it)
    assert (mine if mine is not None else set()) == theirs, regex
    if mine is None:
        assert not theirs


# ------------------------------------------------------------------------ a top-level << key

@pytest.mark.parametrize(("text", "ext", "args"), [
    (b'{"<<": 1}', "json", ["--output-type", "yaml"]),
    (b'"<<": 1\n', "yaml", []),
    (b"'<<': [1, {a: 2}]\n", "yaml", []),
    (b"a: 1\n'<<': x\n", "yaml", ["--unencrypted-regex", "^<<$"]),
])
def test_a_top_level_merge_key_sops_cannot_read_back_is_refused(
        text: bytes, ext: str, args: list[str], tmp_path: Path,
        age_keys: dict[str, AgeKey]) -> None:
    # Where sops is wrong: a top-level "<<" key holding a scalar or a list of scalars is
    # written as `!!merge <<: ...`; go-yaml reads it as a merge key when sops decodes the
    # metadata ("map merge requires map or sequence of maps") and sops cannot open its own
    # file (exit 1). kubecrypt refuses to write it (exit 4, nothing written); below the top
    # level, in a later document or holding mappings, it is written as sops writes it.
    assert compare(text, ext, age_keys["k1"], args=args, out_ext="yaml") is None
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / f"p.{ext}").write_bytes(text)
    ours = kc("encrypt", "--age", key.recipient, *args, "--output", "o.yaml", f"p.{ext}",
              env=env, cwd=tmp_path)
    assert ours.returncode == 4 and not (tmp_path / "o.yaml").exists(), ours.stderr


@pytest.mark.parametrize("text", [b"b:\n  '<<': 1\n", b"a: &a {x: 1}\n'<<': *a\n",
                                  b"a: &a {x: 1}\n'<<': [*a]\n", b"a: 1\n---\n'<<': 1\n"])
def test_a_merge_key_sops_reads_back_is_written_as_sops(text: bytes,
                                                       age_keys: dict[str, AgeKey]) -> None:
    assert compare(text, "yaml", age_keys["k1"]) is not None


def test_a_sops_yml_is_ignored_with_a_warning_like_sops(tmp_path: Path,
                                                        age_keys: dict[str, AgeKey]) -> None:
    # sops 3.11 reads only .sops.yaml; a .sops.yml met on the way up is named in a warning.
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    (tmp_path / ".sops.yml").write_text(f"creation_rules:\n  - age: {age_keys['k2'].recipient}\n")
    (tmp_path / "x.yaml").write_bytes(b"a: 1\n")
    for tool in (sops, kc):
        r = tool("encrypt", "--age", key.recipient, "x.yaml", env=env, cwd=tmp_path)
        assert r.returncode == 0 and _recipients(r.stdout) == [key.recipient], r.stderr
        assert b'ignoring' in r.stderr and b'.sops.yml' in r.stderr


# ------------------------------------------------------------------------ LS and PS in YAML

@pytest.mark.parametrize("value", ["\u2028", "a\u2028b", "a\u2029", "\u2028a", "a \u2028b",
                                   "a\u2028 b", "a\u2028\u2028b", "x'\u2028", "\u2028\u2029",
                                   "a\nb\u2028c", "a\u2028\n", "a\n\u2029", "a\nb\u2028",
                                   "a \u2028\nb", "a\n\u2028 b\n\n"])
def test_line_and_paragraph_separators_are_written_as_go_yaml_writes_them(
        value: str, tmp_path: Path, age_keys: dict[str, AgeKey]) -> None:
    # go-yaml takes U+2028/U+2029 as printable line breaks: single quotes or a literal block
    # with a "\n", the text after them at the scalar's indentation (kubecrypt double-quoted
    # them, "\L").
    key = age_keys["k1"]
    env = env_for(key, str(tmp_path))
    doc = {"k": value, "m": {"n": [value]}, value + "k": 1}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    (tmp_path / "e.json").write_bytes(
        sops("encrypt", "--age", key.recipient, "x.json", env=env, cwd=tmp_path).stdout)
    want = sops("decrypt", "--output-type", "yaml", "e.json", env=env, cwd=tmp_path)
    got = kc("decrypt", "--output-type", "yaml", "e.json", env=env, cwd=tmp_path)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout) == (0, want.stdout)
    compare(want.stdout, "yaml", key)
