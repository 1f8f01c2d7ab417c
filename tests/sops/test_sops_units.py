"""Unit and property tests of the pieces: Go number formatting, value encoding, the cipher
(round trip, any tampering detected, AAD binding), Shamir, the MAC, paths, metadata
flattening and the YAML writer/reader pair."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubecrypt.crypto.rand import ScriptedRandom
from kubecrypt.sops.cipher import Cipher, CipherError
from kubecrypt.sops.keysources import shamir
from kubecrypt.sops.paths import parse_path, set_value, unset_value
from kubecrypt.sops.stores.flatten import flatten, unflatten
from kubecrypt.sops.stores.yaml import load_documents
from kubecrypt.sops.stores.yaml_emit import emit_documents
from kubecrypt.sops.tree import Branch, Selection, compute_mac, decrypt_tree, encrypt_tree
from kubecrypt.sops.values import (
    Comment,
    SopsTime,
    decode_value,
    encode_value,
    format_float_f,
    format_float_g,
    format_float_json,
    parse_timestamp,
)

KEY = bytes(range(32))


# Outputs of sops 3.11 (go-yaml / strconv / encoding/json) for the same inputs.
@pytest.mark.parametrize(("v", "g", "f", "j"), [
    (1.5e10, "1.5e+10", "15000000000", "15000000000"),
    (1e-7, "1e-07", "0.0000001", "1e-7"),
    (1.2345678901234569e23, "1.2345678901234569e+23", "123456789012345690000000",
     "1.2345678901234569e+23"),
    (12345678.9, "1.23456789e+07", "12345678.9", "12345678.9"),
    (1000.0, "1000", "1000", "1000"),
    (1e20, "1e+20", "100000000000000000000", "100000000000000000000"),
    (5e-324, "5e-324", "0." + "0" * 323 + "5", "5e-324"),
    (-0.0, "-0", "-0", "-0"),
    (0.75, "0.75", "0.75", "0.75"),
    (-42.5, "-42.5", "-42.5", "-42.5"),
])
def test_go_float_formats(v: float, g: str, f: str, j: str) -> None:
    assert format_float_g(v) == g
    assert format_float_f(v) == f
    assert format_float_json(v) == j


def test_special_floats() -> None:
    assert format_float_f(math.inf) == "+Inf" and format_float_f(-math.inf) == "-Inf"
    assert format_float_f(math.nan) == "NaN"
    assert format_float_g(math.inf) == ".inf"


@pytest.mark.parametrize(("text", "want"), [
    ("2024-03-15", "2024-03-15T00:00:00Z"),
    ("2024-03-15T10:20:30.500+02:00", "2024-03-15T10:20:30.5+02:00"),
    ("2024-3-5 1:2:3", "2024-03-05T01:02:03Z"),
    ("2024-03-15T10:20:30+00:00", "2024-03-15T10:20:30Z"),
    ("2001-12-14 21:59:43.10 -5", None),
    ("2024-03-15T10:20:30", None),
    ("2024-13-01", None),
])
def test_timestamps_like_go_yaml(text: str, want: str | None) -> None:
    assert parse_timestamp(text) == want


@pytest.mark.parametrize(("value", "plain", "tag"), [
    ("s", b"s", "str"), (True, b"True", "bool"), (False, b"False", "bool"), (-42, b"-42", "int"),
    (1.0, b"1", "float"), (SopsTime("2024-03-15T00:00:00Z"), b"2024-03-15T00:00:00Z", "time"),
    (b"\x00\xff", b"\x00\xff", "bytes"), (Comment(" c"), b" c", "comment"),
])
def test_value_encoding(value: object, plain: bytes, tag: str) -> None:
    assert encode_value(value) == (plain, tag)
    assert decode_value(plain, tag) == value


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_bool_parsing_is_lenient(text: str) -> None:
    assert decode_value(text.encode(), "bool") is True


scalars = st.one_of(st.text(min_size=1), st.integers(-(2**63), 2**63 - 1), st.booleans(),
                    st.floats(allow_nan=False), st.binary(min_size=1))


@settings(max_examples=200, deadline=None)
@given(value=scalars, path=st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3))
def test_cipher_round_trip(value: object, path: list[str]) -> None:
    c = Cipher(KEY)
    aad = ":".join(path) + ":"
    enc = c.encrypt(value, aad)
    assert enc.startswith("ENC[AES256_GCM,data:") and ",iv:" in enc
    out = c.decrypt(enc, aad)
    assert out == value or (isinstance(value, float) and out == float(format_float_f(value)))
    with pytest.raises(CipherError):
        c.decrypt(enc, aad + "x:")


@settings(max_examples=200, deadline=None)
@given(value=st.text(min_size=1, max_size=40), pos=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_tampering_is_detected(value: str, pos: int, bit: int) -> None:
    import base64
    import re

    c = Cipher(KEY)
    enc = c.encrypt(value, "k:")
    m = re.match(r"ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:str\]", enc)
    assert m
    raw = [base64.b64decode(m.group(i)) for i in (1, 2, 3)]
    total = sum(len(r) for r in raw)
    p = pos % total
    which = 0
    while p >= len(raw[which]):
        p -= len(raw[which])
        which += 1
    b = bytearray(raw[which])
    b[p] ^= 1 << bit
    raw[which] = bytes(b)
    fields = [base64.b64encode(r).decode() for r in raw]
    bad = f"ENC[AES256_GCM,data:{fields[0]},iv:{fields[1]},tag:{fields[2]},type:str]"
    with pytest.raises(CipherError):
        c.decrypt(bad, "k:")


def test_iv_is_32_bytes_and_any_iv_length_reads() -> None:
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    rand = ScriptedRandom([b"\x01" * 32])
    enc = Cipher(KEY, rand).encrypt("hello", "a:")
    iv = base64.b64decode(enc.split(",iv:")[1].split(",")[0])
    assert len(iv) == 32
    nonce = b"\x02" * 12
    sealed = AESGCM(KEY).encrypt(nonce, b"hi", b"a:")
    short = (f"ENC[AES256_GCM,data:{base64.b64encode(sealed[:-16]).decode()},"
             f"iv:{base64.b64encode(nonce).decode()},"
             f"tag:{base64.b64encode(sealed[-16:]).decode()},type:str]")
    assert Cipher(KEY).decrypt(short, "a:") == "hi"
    with pytest.raises(CipherError, match="does not match"):
        Cipher(KEY).decrypt("ENC[nonsense]", "a:")
    with pytest.raises(CipherError):
        Cipher(KEY).decrypt(enc.replace("type:str", "type:weird"), "a:")


@settings(max_examples=50, deadline=None)
@given(secret=st.binary(min_size=1, max_size=40), parts=st.integers(2, 6), data=st.data())
def test_shamir_any_threshold_subset(secret: bytes, parts: int, data: st.DataObject) -> None:
    threshold = data.draw(st.integers(2, parts))
    shares = shamir.split(secret, parts, threshold)
    assert all(len(s) == len(secret) + 1 for s in shares)
    assert [s[-1] for s in shares] == list(range(1, parts + 1))
    subset = data.draw(st.permutations(shares)).copy()[:threshold]
    assert shamir.combine(subset) == secret
    if threshold > 2 and len(secret) >= 8:
        # Below the threshold the result is noise (equal only with probability 256^-len).
        assert shamir.combine(subset[: threshold - 1]) != secret


def _doc() -> list[Branch]:
    return [Branch([
        (Comment(" head"), None),
        ("a", Branch([("b", "x"), ("n", 3), ("l", ["p", 1.5, Comment(" c"), True])])),
        ("skip_unencrypted", "plain"),
        ("e", ""), ("z", None),
    ])]


def test_mac_covers_values_and_order_not_comments() -> None:
    sel = Selection()
    base = compute_mac(_doc(), sel, False)
    changed = _doc()
    changed[0][1][1][0] = ("b", "y")  # type: ignore[index]
    assert compute_mac(changed, sel, False) != base
    no_comment = _doc()
    del no_comment[0][0]
    assert compute_mac(no_comment, sel, False) == base
    assert compute_mac(_doc(), sel, True) != base


def test_encrypt_then_decrypt_tree_restores_everything() -> None:
    doc = _doc()
    c = Cipher(KEY)
    mac = encrypt_tree(doc, Selection(), c, False)
    text = emit_documents(doc)
    assert "plain" in text and "x" not in text.split("skip_unencrypted")[0].split("b: ")[1][:2]
    back = load_documents(text)
    assert decrypt_tree(back, Selection(), c, False) == mac
    assert back == _doc()


def test_paths() -> None:
    assert parse_path('["a"][\'b\'][0]') == ["a", "b", 0]
    doc = _doc()
    assert set_value(doc, ["a", "new", "k"], 1.0)
    assert set_value(doc, ["a", "l", 3], "appended")
    assert not set_value(doc, ["a", "b"], "x")
    assert unset_value(doc, ["a", "l", 0])
    assert not unset_value(doc, ["nope"])


def test_flatten_round_trip() -> None:
    md = Branch([
        ("key_groups", [Branch([("hc_vault", None), ("age", [Branch(
            [("recipient", "age1x"), ("enc", "-----BEGIN\nx\n")])])])]),
        ("lastmodified", "2026-01-01T00:00:00Z"), ("mac_only_encrypted", True),
        ("shamir_threshold", 2),
    ])
    flat = flatten(md)
    assert flat["key_groups__list_0__map_age__list_0__map_recipient"] == "age1x"
    assert flat["mac_only_encrypted"] == "true" and flat["shamir_threshold"] == "2"
    back = unflatten(flat)
    assert back.get("lastmodified") == "2026-01-01T00:00:00Z"
    groups = back.get("key_groups")
    assert isinstance(groups, list) and groups[0].get("age")[0].get("enc") == "-----BEGIN\nx\n"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_yaml_writer_reader_round_trip(s: str) -> None:
    doc = [Branch([("k", s), ("l", [s]), ("m", Branch([(s or "x", 1)]))])]
    assert load_documents(emit_documents(doc)) == doc


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_change_to_an_encrypted_file_is_detected(data: st.DataObject) -> None:
    """Flip one character of any ENC[...] value or of the MAC: decryption fails (25/51)."""
    import re

    from kubecrypt.sops import ops
    from kubecrypt.sops.errors import SopsError
    from kubecrypt.sops.metadata import Metadata
    from kubecrypt.sops.stores.yaml import YAMLStore

    store = YAMLStore()
    doc = [Branch([("a", "secret"), ("n", 42), ("l", ["x", True])])]
    md = Metadata(key_groups=[], selection=Selection())
    cipher = Cipher(KEY, lambda n: b"\x07" * n)  # fixed IVs: the same text every example
    mac = encrypt_tree(doc, md.selection, cipher, False)
    md.lastmodified = "2026-01-01T00:00:00Z"
    md.mac = cipher.encrypt(mac, md.lastmodified)
    text = store.emit_encrypted(doc, md.to_branch()).decode()
    spans = [m.span(1) for m in re.finditer(r"ENC\[AES256_GCM,data:([^,]*),iv:([^,]*),tag:", text)]
    start, end = data.draw(st.sampled_from(spans))
    pos = data.draw(st.integers(start, end - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    new = data.draw(st.sampled_from([c for c in alphabet if c != text[pos]]))
    tampered = text[:pos] + new + text[pos + 1:]
    import base64

    field = text[start:end]
    # The last base64 digit may carry unused bits; such a change alters no byte at all.
    def decoded(b64: str) -> bytes | None:
        try:
            return base64.b64decode(b64)
        except ValueError:
            return None

    assume(decoded(field) != decoded(tampered[start:end]))
    branches, raw = store.load_encrypted(tampered.encode())
    opened_md = Metadata.from_tree(raw)
    c2 = Cipher(KEY)
    with pytest.raises(SopsError) as info:
        computed = decrypt_tree(branches, opened_md.selection, c2, False)
        ops.verify_mac(opened_md, c2, computed)
    assert info.value.exit_code in (25, 51)


_keys = st.text(min_size=1, max_size=8).filter(lambda k: k != "sops")
# -0.0 is written "-0", which YAML (go-yaml and sops alike) reads back as the integer 0.
_leaves = st.one_of(st.text(max_size=20), st.integers(-(2**63), 2**63 - 1), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: x + 0.0),
                    st.none())
_trees = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_keys, inner, max_size=4).map(lambda d: Branch(d.items()))),
    max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(doc=st.dictionaries(_keys, _trees, min_size=1, max_size=5), fmt=st.sampled_from(
    ["yaml", "json"]))
def test_any_tree_round_trips_through_encrypt_and_decrypt(doc: dict[str, object],
                                                          fmt: str) -> None:
    import os

    import pyrage

    from kubecrypt.sops.keysources import age
    from kubecrypt.sops.stores import store_for

    ident = pyrage.x25519.Identity.generate()
    saved = {k: os.environ.get(k) for k in ("SOPS_AGE_KEY", "HOME", "SOPS_AGE_KEY_FILE")}
    os.environ.update(SOPS_AGE_KEY=str(ident), HOME="/nonexistent")
    os.environ.pop("SOPS_AGE_KEY_FILE", None)
    age._identity_cache.clear()
    try:
        _round_trip(doc, store_for(fmt), ident)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        age._identity_cache.clear()


def _round_trip(doc: dict[str, object], store: object, ident: Any) -> None:
    from kubecrypt.sops import ops
    from kubecrypt.sops.keysources.age import AgeKey
    from kubecrypt.sops.stores.base import Store

    assert isinstance(store, Store)
    plain = store.emit_plain([Branch(doc.items())])
    expected = store.load_plain(plain)
    spec = ops.EncryptSpec(key_groups=[[AgeKey(str(ident.to_public()))]])
    encrypted = ops.encrypt(plain, store, spec)
    opened = ops.open_file(encrypted, store)
    assert opened.branches == expected
    assert store.emit_plain(opened.branches) == plain


def test_x25519_recipient_that_looks_post_quantum() -> None:
    """Regression: an X25519 recipient may start with "age1pq" by chance."""
    import pyrage

    from kubecrypt.sops.keysources.age import parse_recipient

    for _ in range(200_000):
        ident = pyrage.x25519.Identity.generate()
        if str(ident.to_public()).startswith("age1pq"):
            break
    else:  # pragma: no cover - probability 2^-10 per try
        pytest.fail("no age1pq... recipient generated")
    rec = parse_recipient(str(ident.to_public()))
    assert pyrage.decrypt(pyrage.encrypt(b"k" * 32, [rec]), [ident]) == b"k" * 32


_env_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: not k.startswith("sops_"))
_line_text = st.text(st.characters(blacklist_characters="\n\r\\", blacklist_categories=("Cs",)),
                     max_size=20)
_ini_value = _line_text.map(str.strip).filter(
    lambda v: not (len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'`"))


@settings(max_examples=60, deadline=None)
@given(env=st.dictionaries(_env_keys, _line_text, min_size=1, max_size=6),
       ini=st.dictionaries(st.from_regex(r"[a-z][a-z0-9 ]{0,6}[a-z0-9]", fullmatch=True),
                           st.dictionaries(_env_keys, _ini_value, min_size=1, max_size=4),
                           min_size=1, max_size=3))
def test_dotenv_and_ini_round_trip(env: dict[str, str], ini: dict[str, dict[str, str]]) -> None:
    import os

    import pyrage

    from kubecrypt.sops.keysources import age
    from kubecrypt.sops.stores import store_for

    ident = pyrage.x25519.Identity.generate()
    saved = os.environ.get("SOPS_AGE_KEY")
    os.environ["SOPS_AGE_KEY"] = str(ident)
    age._identity_cache.clear()
    try:
        _round_trip(env, store_for("dotenv"), ident)
        sections = {k: Branch(v.items()) for k, v in ini.items() if k != "sops"}
        if sections:
            _round_trip(sections, store_for("ini"), ident)
    finally:
        if saved is None:
            os.environ.pop("SOPS_AGE_KEY", None)
        else:
            os.environ["SOPS_AGE_KEY"] = saved
        age._identity_cache.clear()


def test_recipients_kubecrypt_cannot_use_survive_a_rewrite_inside_key_groups() -> None:
    """A Huawei Cloud KMS (hckms) entry in a key group is kept, in sops' field order, when the
    metadata is written back (set, unset and edit rewrite it): dropping it loses a recipient."""
    from kubecrypt.sops.metadata import Metadata, to_plain

    hckms = {"key_id": "cn-north-4:0f8b", "created_at": "2026-01-01T00:00:00Z", "enc": "Zm9v"}
    age = {"recipient": "age1qqq", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\n"}
    raw = {"shamir_threshold": 2, "key_groups": [
        {"hckms": [hckms], "age": [age]}, {"age": [age]}],
        "lastmodified": "2026-01-01T00:00:00Z", "mac": "ENC[x]", "version": "3.11.0"}
    written = to_plain(Metadata.from_tree(raw).to_branch())
    assert isinstance(written, dict)
    first = written["key_groups"][0]
    assert first["hckms"] == [hckms]
    assert list(first).index("hckms") < list(first).index("age")


def test_encrypt_spec_and_rule_share_one_record_base() -> None:
    # Equality by fields and a naming repr, written once (rules.Record) for both plain classes.
    from kubecrypt.sops.ops import EncryptSpec
    from kubecrypt.sops.rules import Record, Rule

    assert issubclass(EncryptSpec, Record) and issubclass(Rule, Record)
    assert EncryptSpec([]) == EncryptSpec([]) and EncryptSpec([]) != EncryptSpec([], None, 2)
    assert Rule([]) == Rule([]) and EncryptSpec([]) != Rule([])
    assert repr(EncryptSpec([])).startswith("EncryptSpec(key_groups=[], selection=")
    assert repr(Rule([], 2)).startswith("Rule(key_groups=[], shamir_threshold=2,")
    assert EncryptSpec.__hash__ is None and Rule.__hash__ is None
