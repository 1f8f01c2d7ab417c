"""Differential property tests against the real sops 3.11 binary over what the comment
generators leave out: YAML without comments (empty flow collections, anchors and aliases,
block scalars with headers, integers around the uint64 range, floats as go-yaml writes
float64, several documents), dotenv and binary files, nested JSON, and conversions between
stores (``--input-type``/``--output-type`` when encrypting and when decrypting). Both
directions every time (``sopsdiff.compare``).

Bounded: ``KUBECRYPT_SOPS_EXAMPLES`` (default 8) examples per test; ``slow`` marker."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import AgeKey
from .sopsdiff import compare
from .test_sops_differential_shapes import _SETTINGS, _plain, _word, _Writer, _yaml_node

pytestmark = pytest.mark.slow

_STORES = ["yaml", "json", "dotenv", "ini", "binary"]
_EXT = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}


# --------------------------------------------------------------------------------- YAML text

@st.composite
def _yaml_document(draw: st.DrawFn) -> str:
    keys = draw(st.lists(_word.filter(lambda w: w != "sops"), min_size=1, max_size=4,
                         unique=True))
    w = _Writer(draw, comments=False)
    for key in keys:
        w.value(draw(_yaml_node(1)), f"{key}:", 0)
        if w.anchors and draw(st.integers(0, 3)) == 0 and key + "x" not in keys:
            w.lines.append(f"{key}x: *{draw(st.sampled_from(w.anchors))}")
    return "\n".join(w.lines) + "\n"


@st.composite
def _yaml_text(draw: st.DrawFn, max_docs: int = 3) -> bytes:
    docs = draw(st.lists(_yaml_document(), min_size=1, max_size=max_docs))
    lead = "---\n" if draw(st.booleans()) else ""
    return (lead + "---\n".join(docs)).encode()


@_SETTINGS
@given(text=_yaml_text())
def test_yaml_without_comments_matches_sops(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    compare(text, "yaml", age_keys["k1"])


# ------------------------------------------------------- YAML scalars and keys people write

_key = st.one_of(
    _word, st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]),
                   min_size=1, max_size=5).map(json.dumps),   # any Unicode, double-quoted
    st.sampled_from(["a.b", "a[0]", "'[x]'", '"a b"', "ü", "日本", "x-y", "_", "1", "true",
                     '"sops_x"', "on", "a/b", "'#x'", "\"\\t\"", "k\u00e9y"]))
_scalar = st.one_of(
    _plain,
    st.sampled_from(["1e400", "-1e400", ".5e999", "yes", "No", "on", "OFF", "y", "n",
                     "2002-01-01T10:00:00.5+02:00", "2001-12-14 21:59:43.10 -5", "2002-12-14",
                     "12:30:00", "'2002-12-14'", "!!str 1", '!!int "3"', "!!float 1",
                     "!!bool yes", "!!binary aGVsbG8=", "!!timestamp 2001-01-01", "!!null ''",
                     "!!int", "!custom x", "''", '"\\u00e9\\t"', "é", "😀", "-", "?x", "a: b",
                     "'a # b'", "a#b", "@x", "`x`", "0.1e-7", "+.inf", "NaN", "1e-400"]),
    st.integers(60, 300).map(lambda n: "w " * n + "end"),          # a long plain string
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8).map(
        json.dumps))


@st.composite
def _scalar_yaml(draw: st.DrawFn) -> bytes:
    keys = draw(st.lists(_key, min_size=1, max_size=5, unique=True))
    lines = [f"{k}: {draw(_scalar)}" for k in keys]
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 3)) == 0:
        text = text.replace("\n", "\r\n")
    if draw(st.integers(0, 5)) == 0:
        text = "\ufeff" + text
    return text.encode()


@_SETTINGS
@given(text=_scalar_yaml(), out=st.sampled_from([None, *_STORES]),
       when=st.sampled_from(["enc", "dec"]), section=st.booleans())
def test_yaml_scalars_and_keys_match_sops(text: bytes, out: str | None, when: str,
                                          section: bool, age_keys: dict[str, AgeKey]) -> None:
    # Keys with dots, brackets, Unicode and quotes; numbers beyond float64, YAML 1.1 booleans,
    # timestamps with fractions, tags, long and empty values; CRLF and a BOM; every output
    # store, when encrypting and when decrypting (INI needs them inside a section).
    if out == "ini" or (section and out in ("yaml", "json")):
        crlf = b"\r\n" in text
        body = text.lstrip("\ufeff".encode())
        text = b"s:\n" + b"".join(b"  " + ln + (b"\r\n" if crlf else b"\n")
                                   for ln in body.splitlines())
    if out is None:
        compare(text, "yaml", age_keys["k1"])
    elif when == "enc":
        compare(text, "yaml", age_keys["k1"], ["--output-type", out], out_ext=_EXT[out])
    else:
        compare(text, "yaml", age_keys["k1"], dec_args=["--output-type", out])


# --------------------------------------------------------------------------------- dotenv

_env_key = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
                     st.sampled_from(["export A", "a.b", "a-b", " sp", "ü"]))
_env_value = st.one_of(
    _word, st.just(""), st.text(max_size=8).filter(lambda s: "\n" not in s and "\r" not in s),
    st.sampled_from(['"quoted"', "'single'", "a=b", "x\\ny", "  spaced  ", "#nc", "1.5",
                     "true", "null", "${OTHER}", "tab\there"]))


@st.composite
def _dotenv_text(draw: st.DrawFn) -> bytes:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append("#" + draw(st.sampled_from(["", " c", "#x", " a=b"])))
        elif kind == 1:
            lines.append("")
        else:
            k = draw(_env_key)
            if k == "sops" or k.startswith("sops_"):
                continue
            lines.append(f"{k}={draw(_env_value)}")
    return ("\n".join(lines) + ("\n" if draw(st.booleans()) else "")).encode()


@_SETTINGS
@given(text=_dotenv_text())
def test_dotenv_matches_sops(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    compare(text, "env", age_keys["k1"])


# --------------------------------------------------------------------------------- JSON

_json_scalar = st.one_of(
    st.text(max_size=6).map(json.dumps),
    st.text(max_size=6).map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.sampled_from(['"\\ud800"', '"\\/\\b\\f\\u0000"', '"\\u00e9"', '"a\\tb\\r\\n"']),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1.5e300", "1E5", "1e-7", "-0", "-0.0", "0.1", "100.0", "true", "false",
                     "null", "1.0", "12345678901234567890.5", "5e-324"]))
_json_value = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(['"a"', '"b"', '"k"', '"\\u00fc"', '""']), inner),
                 max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")),
    max_leaves=8)


@_SETTINGS
@given(pairs=st.lists(st.tuples(st.sampled_from(['"a"', '"b"', '"c"', '"x y"', '"\\u00fc"']),
                                _json_value), min_size=1, max_size=4),
       compact=st.booleans())
def test_nested_json_matches_sops(pairs: list[tuple[str, str]], compact: bool,
                                  age_keys: dict[str, AgeKey]) -> None:
    sep = "," if compact else ",\n  "
    text = "{" + sep.join(f"{k}: {v}" for k, v in pairs) + "}\n"
    compare(text.encode(), "json", age_keys["k1"])


# --------------------------------------------------------------------------------- binary

@_SETTINGS
@given(data=st.one_of(st.binary(max_size=40), st.text(max_size=20).map(str.encode),
                      st.sampled_from([b"", b"\n", b"a: 1\n", b"\xff\xfe", b'{"a": 1}'])),
       out=st.sampled_from([None, *_STORES]))
def test_binary_matches_sops(data: bytes, out: str | None,
                             age_keys: dict[str, AgeKey]) -> None:
    args = ["--output-type", out] if out else []
    compare(data, "bin", age_keys["k1"], args,
            out_ext={"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini"}.get(
                out or "", "bin"))


# --------------------------------------------------------------------------------- conversions

@st.composite
def _any_text(draw: st.DrawFn) -> tuple[str, bytes]:
    from .test_sops_differential_shapes import _ini_text

    kind = draw(st.sampled_from(["yaml", "json", "dotenv", "ini"]))
    if kind == "yaml":
        return kind, draw(_yaml_text(max_docs=1))
    if kind == "dotenv":
        return kind, draw(_dotenv_text())
    if kind == "ini":
        return kind, draw(_ini_text())
    pairs = draw(st.lists(st.tuples(st.sampled_from(['"a"', '"b"', '"c"']), _json_value),
                          min_size=1, max_size=3))
    return kind, ("{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}").encode()


@_SETTINGS
@given(src=_any_text(), out=st.sampled_from(_STORES), when=st.sampled_from(["enc", "dec"]),
       by_type=st.booleans())
def test_store_conversions_match_sops(src: tuple[str, bytes], out: str, when: str,
                                      by_type: bool, age_keys: dict[str, AgeKey]) -> None:
    kind, text = src
    # By type: the file has a neutral name and --input-type says what it is.
    ext = "txt" if by_type else _EXT[kind]
    in_args = ["--input-type", kind] if by_type else []
    if when == "enc":
        compare(text, ext, age_keys["k1"], [*in_args, "--output-type", out], out_ext=_EXT[out])
    else:
        dec = ["--input-type", kind] if by_type else []
        compare(text, ext, age_keys["k1"], in_args, dec_args=[*dec, "--output-type", out])


# --------------------------------------------------------------------------------- selection

# sops 3.11's encrypt takes these four; the comment regexes and --mac-only-encrypted are not
# flags of its encrypt (in front of it, ``sops --encrypted-comment-regex x encrypt``, sops
# accepts and ignores them), so they come from a rule.
_SELECTION = ["--encrypted-regex", "--unencrypted-regex", "--encrypted-suffix",
              "--unencrypted-suffix"]


@_SETTINGS
@given(text=_yaml_text(max_docs=2), flags=st.lists(st.tuples(st.sampled_from(_SELECTION), st.one_of(
    _word, st.sampled_from(["^a", "b$", "x", "_u", "[", "(?i)A", ""]))), max_size=3,
    unique_by=lambda t: t[0]), mac_only=st.booleans(), ext=st.sampled_from(["yaml", "json"]))
def test_selection_flags_without_comments_match_sops(text: bytes, flags: list[tuple[str, str]],
                                                     mac_only: bool, ext: str,
                                                     age_keys: dict[str, AgeKey]) -> None:
    # Every selection flag, alone and combined (sops refuses two: exit 1 in both tools), with
    # a rule's mac_only_encrypted (sops 3.11 has no such flag on encrypt), as YAML and JSON.
    args = [a for f in flags for a in f]
    if ext == "json":
        args = ["--output-type", "json", *args]
    cfg = (f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
           "    mac_only_encrypted: true\n") if mac_only else None
    compare(text, "yaml", age_keys["k1"], args, config=cfg, out_ext=ext)
