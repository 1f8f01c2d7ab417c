"""Interop with the real sops 3.11 binary, both ways: files kubecrypt encrypts (every store,
every selection rule, several recipients, Shamir key groups) decrypt with ``sops`` to exactly
what sops itself prints for its own encryption of the same input; files ``sops`` encrypts in the
test decrypt with kubecrypt to the same bytes; age stanzas open with Debian's ``age``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import AgeKey, Run, key_env

SECRET = b"""apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: prod
type: Opaque
# credentials
stringData:
  DATABASE_URL: postgres://admin:s3cr3t@db:5432/app
  token_unencrypted: visible
data:
  password: czNjcjN0
"""

TRICKY = r"""top: |
  line1
  line2
notrail: |-
  a
  b
extra: |+
  x

l:
  - recipient: abc
    enc: |
      multi
      line
  - - a
    - b
  - []
  - {}
  - [1, {x: 1}]
  - - - deep
strs:
  a: "on"
  b: "yes"
  c: "- dash"
  d: "key: val"
  e: " lead"
  f: "trail "
  g: "has # hash"
  h: "tab\there"
  i: "'single'"
  j: '"double"'
  k: "*star"
  l: "@at"
  m: "1.0"
  n: "0x10"
  o: "~"
  p: "null"
  q: "a\u0001b"
  r: "üñí"
  s: ""
  t: "1e3"
  u: "-"
  v: "a:b"
  w: "!bang"
  x: "%pct"
  y: "[x"
  z: "x]"
  aa: "x,y"
  ab: "a  b"
  ac: "é\nx"
  ad: "line\n"
  ae: "trailing spaces \nx"
  af: "=="
  ag: "0o17"
  ah: "017"
  ai: "+1"
  aj: ".5"
  ak: "12:30"
  al: "true"
  am: "True"
  an: "NO"
  ao: "y"
  ap: "?"
  aq: "?x"
  ar: ":x"
  as: "x:"
  at: "<<"
nums:
  a: 1.5e10
  b: 0.1
  c: 1e-7
  d: 123456789012345678901234
  e: .inf
  f: -.inf
  g: .nan
  h: 0x1F
  i: 0o17
  j: 3.0
  k: 100000000000000000000.0
  l: 1.7976931348623157e308
  m: 5e-324
  n: 12345678.9
  o: 2024-03-15T10:20:30.500+02:00
  p: 2001-12-14 21:59:43.10 -5
  q: -0.0
"""

EDGE_YAML = r"""---
# doc comment
"quoted key": 1
'single': two
key with spaces: x
"a:b": colon
tagged: !!str 123
custom: !mytag hello
bin: !!binary aGVsbG8=
folded: >
  folded text
  continues

  para
keep: |+
  kept

strip: |-
  stripped
explicit: |2
    indented more
base: &b {x: 1, y: [1, 2]}
listanch:
  - &item {name: a}
  - *item
merge2:
  <<: [*b, *item]
  z: 9
crlf: "a\r\nb"
emptymap: {}
emptylist: []
nested_empty:
  - []
  - {}
  -
  - ""
unicode: "日本語 ☃"
bignum: 123456789012345678901234567890
negzero: -0.0
octal: 0o755
hex: 0xFF
under: 1_000
time2: 2024-03-15T10:20:30Z
...
---
second: 2
"""

# Comment placements found by fuzzing against sops (go-yaml head/line comments in lists).
LIST_COMMENTS = b"""a:
    - - a: "" # a
b:
    - - "" # b
c:
    - # c
      k: v
    - [x, y] # d
"""

INPUTS: dict[str, bytes] = {
    "list-comments.yaml": LIST_COMMENTS,
    "edge.yaml": EDGE_YAML.encode(),
    "edge.env": (
        b'# top comment\nexport A=1\n  B = spaced \nC="quoted value"\n\nD=\n'
        b'E=a=b\n#c2\nF=tab\there\nG=multi\\nline\r\nH=x\n'
    ),
    "edge.ini": (
        b'toplevel = yes\n; top comment\n\n# section comment\n[sec one]\nke'
        b'y1 = value 1\nkey2=v2\n  indented = x\nquoted = "q v"\nempty =\n;'
        b' trailing comment\n\n[sec2]\na: colon\n[sec one]\ndup = 1\n'
    ),
    "edge.json": (
        b'{"a": {}, "b": [], "c": [{}, []], "d": 1.0, "e": -0.0, "g": '
        b'"\\u00e9\\t\\u0001", "h": 1e-7, "i": 100000000000000000000000, '
        b'"j": true, "k": [1, [2, [3]]]}'
    ),
    "tricky.yaml": TRICKY.encode(),
    "secret.yaml": SECRET,
    "nested.yaml": b"""# top
app:
  name: billing
  port: 8080
  ratio: 0.75
  big: 1e3
  on_flag: true
  nothing: null
  empty: ""
  when: 2024-03-15
  text: |
    two
    lines
  list:
    - a # trailing
    # between
    - 2
    - {k: v, n: 1.5}
  anchors: &base
    x: 1
  merged:
    <<: *base
    y: 2
---
second: doc
""",
    "config.json": b'{"service": "x", "port": 8443, "ratio": 2.5, "on": true, "none": null,'
                   b' "list": [1, "a<b>&", {"k": "v"}], "e": ""}',
    "app.env": b"# db\nDB_HOST=db.internal\nDB_PASSWORD=p@ss=word\nQUOTED=\"q\"\nML=a\\nb\n",
    "app.ini": b"[database]\nhost = db\n; the password\npassword = s3cret\n\n[cache]\nurl = redis://c\n",
    "key.pem": b"-----BEGIN X-----\n\x00\x01binary\xff\xfe bytes\n-----END X-----\n",
}

SELECTIONS = [
    [],
    ["--encrypted-regex", "^(data|stringData)$"],
    ["--unencrypted-regex", "^(apiVersion|kind|metadata|type)$"],
    ["--encrypted-suffix", "URL"],
    ["--unencrypted-suffix", "_unencrypted"],
]


def _roundtrip(name: str, data: bytes, enc_args: list[str], recips: list[AgeKey],
               kc: Run, real_sops: Run, env: dict[str, str], tmp: Path) -> None:
    src = tmp / name
    src.write_bytes(data)
    age = ["--age", ",".join(k.recipient for k in recips)]
    ours = tmp / ("ours." + name)
    r = kc("encrypt", *age, *enc_args, str(src), env=env)
    assert r.returncode == 0, r.stderr.decode()
    ours.write_bytes(r.stdout)
    theirs = tmp / ("theirs." + name)
    r = real_sops("encrypt", *age, *enc_args, str(src), env=env)
    assert r.returncode == 0, r.stderr.decode()
    theirs.write_bytes(r.stdout)
    for k in recips:
        kenv = key_env(env, k.identity_file, tmp=tmp)
        want = real_sops("decrypt", str(theirs), env=kenv)
        assert want.returncode == 0, want.stderr.decode()
        got_sops = real_sops("decrypt", str(ours), env=kenv)
        assert got_sops.returncode == 0, got_sops.stderr.decode()
        got_kc = kc("decrypt", str(theirs), env=kenv)
        assert got_kc.returncode == 0, got_kc.stderr.decode()
        assert got_sops.stdout == want.stdout
        assert got_kc.stdout == want.stdout


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_store_both_ways(name: str, kc: Run, real_sops: Run, sops_env: dict[str, str],
                               age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    _roundtrip(name, INPUTS[name], [], [age_keys["k1"]], kc, real_sops, sops_env, tmp_path)


@pytest.mark.parametrize("sel", SELECTIONS, ids=lambda s: s[0] if s else "default")
def test_every_selection_rule(sel: list[str], kc: Run, real_sops: Run, sops_env: dict[str, str],
                              age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    _roundtrip("secret.yaml", SECRET, sel, [age_keys["k1"]], kc, real_sops, sops_env, tmp_path)


@pytest.mark.slow
def test_several_recipients(kc: Run, real_sops: Run, sops_env: dict[str, str],
                            age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    recips = [age_keys["k1"], age_keys["k2"], age_keys["k3"]]
    _roundtrip("nested.yaml", INPUTS["nested.yaml"], [], recips, kc, real_sops, sops_env,
               tmp_path)


def test_comment_regex_rules_via_config(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    plain = b"public: a\n# sops:enc\ntoken: t\nnested:\n  # sops:enc\n  pw: p\n  user: u\n"
    for field in ("encrypted_comment_regex", "unencrypted_comment_regex"):
        (tmp_path / ".sops.yaml").write_text(
            f"creation_rules:\n  - {field}: sops:enc\n    age: {age_keys['k1'].recipient}\n")
        (tmp_path / "c.yaml").write_bytes(plain)
        ours = kc("encrypt", "c.yaml", env=sops_env, cwd=tmp_path)
        assert ours.returncode == 0, ours.stderr.decode()
        theirs = real_sops("encrypt", "c.yaml", env=sops_env, cwd=tmp_path)
        assert theirs.returncode == 0
        # Same values selected: the plaintext parts of both files are identical.
        strip = [ln for ln in ours.stdout.decode().splitlines() if "ENC[" not in ln
                 and not ln.startswith(("    lastmodified", "            ", "    mac"))]
        strip_theirs = [ln for ln in theirs.stdout.decode().splitlines() if "ENC[" not in ln
                        and not ln.startswith(("    lastmodified", "            ", "    mac"))]
        assert strip == strip_theirs
        (tmp_path / "o.yaml").write_bytes(ours.stdout)
        kenv = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
        dec = real_sops("decrypt", "o.yaml", env=kenv, cwd=tmp_path)
        assert dec.returncode == 0, dec.stderr.decode()
        assert yaml.safe_load(dec.stdout) == yaml.safe_load(plain)


def test_mac_only_encrypted(kc: Run, real_sops: Run, sops_env: dict[str, str],
                            age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n"
        f"    age: {age_keys['k1'].recipient}\n")
    (tmp_path / "s.yaml").write_bytes(SECRET)
    r = kc("encrypt", "s.yaml", env=sops_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert b"mac_only_encrypted: true" in r.stdout
    # Editing a plaintext field keeps the MAC valid in this mode, for sops and for us.
    edited = r.stdout.replace(b"namespace: prod", b"namespace: staging")
    (tmp_path / "e.yaml").write_bytes(edited)
    kenv = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    assert real_sops("decrypt", "e.yaml", env=kenv, cwd=tmp_path).returncode == 0
    assert kc("decrypt", "e.yaml", env=kenv, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("threshold", [2, 3])
def test_shamir_key_groups(threshold: int, kc: Run, real_sops: Run, sops_env: dict[str, str],
                           age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    k1, k2, k3 = age_keys["k1"], age_keys["k2"], age_keys["k3"]
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - shamir_threshold: {threshold}\n    key_groups:\n"
        f"      - age: [{k1.recipient}]\n      - age: [{k2.recipient}]\n"
        f"      - age: [{k3.recipient}]\n")
    (tmp_path / "s.yaml").write_bytes(SECRET)
    r = kc("encrypt", "s.yaml", env=sops_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    (tmp_path / "o.yaml").write_bytes(r.stdout)
    assert f"shamir_threshold: {threshold}".encode() in r.stdout
    enough = key_env(sops_env, *[k.identity_file for k in (k1, k2, k3)[:threshold]],
                     tmp=tmp_path)
    too_few = key_env(sops_env, *[k.identity_file for k in (k1, k2, k3)[:threshold - 1]],
                      tmp=tmp_path)
    ok = real_sops("decrypt", "o.yaml", env=enough, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr.decode()
    assert yaml.safe_load(ok.stdout) == yaml.safe_load(SECRET)
    assert kc("decrypt", "o.yaml", env=enough, cwd=tmp_path).stdout == ok.stdout
    assert real_sops("decrypt", "o.yaml", env=too_few, cwd=tmp_path).returncode == 128
    assert kc("decrypt", "o.yaml", env=too_few, cwd=tmp_path).returncode == 128
    # And sops' own Shamir file opens with kubecrypt.
    t = real_sops("encrypt", "s.yaml", env=sops_env, cwd=tmp_path)
    (tmp_path / "t.yaml").write_bytes(t.stdout)
    assert kc("decrypt", "t.yaml", env=enough, cwd=tmp_path).stdout == ok.stdout


def test_age_stanza_opens_with_debian_age(kc: Run, sops_env: dict[str, str],
                                          age_keys: dict[str, AgeKey], tmp_path: Path,
                                          in_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    k1, k2 = age_keys["k1"], age_keys["k2"]
    (tmp_path / "s.json").write_bytes(INPUTS["config.json"])
    r = kc("encrypt", "--age", f"{k1.recipient},{k2.recipient}", str(tmp_path / "s.json"),
           env=sops_env)
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(r.stdout)
    stanzas = doc["sops"]["age"]
    assert [s["recipient"] for s in stanzas] == [k1.recipient, k2.recipient]
    from kubecrypt.sops import ops
    from kubecrypt.sops.stores import store_for

    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(k1.identity_file))
    data_key = ops.open_file(r.stdout, store_for("json")).data_key
    for s, k in zip(stanzas, (k1, k2), strict=True):
        (tmp_path / "stanza.age").write_text(s["enc"])
        out = subprocess.run(
            ["age", "-d", "-i", str(k.identity_file), str(tmp_path / "stanza.age")],
            capture_output=True, check=True)
        assert out.stdout == data_key
    wrong = subprocess.run(["age", "-d", "-i", str(age_keys["stranger"].identity_file),
                            str(tmp_path / "stanza.age")], capture_output=True, check=False)
    assert wrong.returncode != 0


def test_output_type_conversion(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_bytes(SECRET)
    r = kc("encrypt", "--age", age_keys["k1"].recipient, "--output-type", "json",
           str(tmp_path / "s.yaml"), env=sops_env)
    assert r.returncode == 0, r.stderr.decode()
    (tmp_path / "s.json").write_bytes(r.stdout)
    kenv = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    theirs = real_sops("decrypt", "--output-type", "yaml", str(tmp_path / "s.json"), env=kenv)
    assert theirs.returncode == 0, theirs.stderr.decode()
    assert yaml.safe_load(theirs.stdout) == yaml.safe_load(SECRET)


def test_big_json_integers_stay_exact(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                      age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """sops 3.11 reads JSON numbers as float64 (1234567890123456789 -> ...800); we write
    type:int like 3.13, which sops 3.11 decrypts exactly."""
    (tmp_path / "b.json").write_bytes(b'{"id": 1234567890123456789}')
    r = kc("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / "b.json"), env=sops_env)
    assert r.returncode == 0 and b"type:int]" in r.stdout
    (tmp_path / "o.json").write_bytes(r.stdout)
    kenv = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    out = real_sops("decrypt", str(tmp_path / "o.json"), env=kenv)
    assert out.returncode == 0 and b"1234567890123456789" in out.stdout
