"""Issue 14 item 5: YAML comments at every position go-yaml v3 gives a node one, read and written
as sops 3.11 does. Each shape runs both tools against the real sops (``sopsdiff.compare``:
each tool encrypts; sops' own decryption is the reference; kubecrypt decrypting sops' file and
sops decrypting kubecrypt's file must both give it). The unit tests pin go-yaml's head, line
and foot attachment (``yaml_comments``) and sops' walk of it (``yaml_tree``) without sops. The
last test is a shape the comment generators found where sops breaks its own file (-0.0)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubecrypt.sops.stores.yaml import _events, load_documents
from kubecrypt.sops.stores.yaml_comments import event_comments
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment

from .conftest import AgeKey
from .sopsdiff import compare, env_for, kc, sops, sops_broke_its_list_comments

# Each shape differed from sops before comments followed go-yaml's model, except where noted.
SHAPES = {
    # a block scalar header holds the scalar's line comment (matched before too: a guard)
    "block-scalar-header": b"a: &s |- # note\n  text\nb:\n  - *s\n  - > # f\n    t\n    # in\n"
                           b"  # foot\n",
    # after an anchor: the line comment goes to the first node that takes comments, and a
    # sequence's end line comment replaces it
    "after-anchor": b"a: &a0 # anchor\n  - [] # flow\n  - {}\n  # end\nax: *a0\n",
    "after-anchor-mapping": b"b: &x # c\n  - k: v # kv\n    # foot kv\n  # foot\nc: *x # alias\n",
    # end of a list, nested lists and the mapping around them
    "end-of-list": b"l:\n  - k: v\n    # foot kv\n  # end of list\n",
    "end-of-nested-lists": b"l:\n  - a\n  - - b\n    # end inner\n  # end outer\n",
    # after ``- ``: a head comment of the collection under it
    "after-dash": b"l:\n  - # h\n    - # h2\n      - a\n",
    # head comments of nested lists: the outer one gives way to the first item's own
    "head-of-nested-lists": b"l:\n  # x\n  - # y\n    - a\n  # z\n  - - b\n",
    # after an anchored key and after an alias
    "after-anchored-key": b"a: &a0 # a\n  - {} # b\n  # c\nax: *a0 # d\n",
    # foot comments of nested blocks
    "foot-of-nested-blocks": b"f:\n  - g:\n      h: 1\n      # foot h\n    # foot g\n  # foot f\n",
    "foot-of-nested-mapping": b"b: &x # c\n  k:\n    - 1 # one\n  # foot k\nc: *x\n",
    "foot-after-empty-list": b"f:\n  x: [] # a\n  # b\nn: 1\ne: [] # c\n# d\n",
    # a list ending with a mapping: its foot waits for the next value go-yaml writes
    "foot-of-a-last-mapping-item": b"w:\n  - - ~\n    - {k: v}\n    # p\nx: 1\n",
    "foot-of-a-last-list-item": b"p: &a0 # a\n  - 0 # a\n  - [a, 1] # a\n  # a\npx: *a0 # aa\n",
    "waiting-foot-replaced": b"y: &a0\n  - # a\n    - {k: v} # a\n    # b\n  - c # d\n  # e\n"
                             b"yx: *a0\n",
    "waiting-foot-at-the-end": b"a: &a0\n  - # a\n    - [a, 1] # b\n    # c\n  # d\nax: *a0\n# e\n",
    # a waiting foot before a block collection item: written after that item's "-"
    "waiting-foot-before-a-list-item": b"c:\n  - - [a, 1]\n    # f\n  - - a\n    - b\n",
    "waiting-foot-before-a-mapping-item": b"c:\n  - - [a, 1]\n    # f\n  - k: v\n    j: w\n",
    "waiting-foot-after-a-head-comment": b"c:\n  - {}\n  - # a\n    - [a, 1] # b\n    # c\n"
                                         b"  - [a, 1] # d\n  # e\n",
    "blank-line-below-a-foot": b"w:\n  - {k: v}\n  # a\nx: 1\ny: 2 # b\n",
    "foot-of-an-alias-item": b"a: &a1 # a\n  k: v\n  # foot\nb: &a2 # b\n  - *a1 # c\n"
                             b"  # foot2\nc: *a2\n",
    # comments inside and after empty flow collections
    "empty-flow": b"k: [ # c\n]\nl: { # d\n}\nm:\n  - { # e\n    }\n  - [\n    # f\n    ]\nz: [] # kept\n",
}


@pytest.mark.parametrize("text", list(SHAPES.values()), ids=list(SHAPES))
def test_comment_positions_match_sops_both_ways(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    want = compare(text, "yaml", age_keys["k1"])
    assert want is not None and b"#" in want


def test_foot_comment_that_sops_cannot_decrypt_is_decrypted(
        age_keys: dict[str, AgeKey]) -> None:
    """sops writes ``# b`` as the mapping's foot; go-yaml reads it back into the list before it,
    whose path differs, so sops leaves it encrypted. kubecrypt reads it where go-yaml does and
    decrypts it with the enclosing path (docs/sops.md); ``compare`` accepts exactly that."""
    want = compare(b"m:\n  x: [] # a\n  # b\nn: 1\n", "yaml", age_keys["k1"])
    assert want is not None and b"#ENC[AES256_GCM" in want and b"# a" in want


def test_comment_before_an_empty_flow_item_sops_prints_yaml_that_does_not_read_back(
        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """Where sops is wrong: a comment waiting after a list that ends with a collection, then an
    empty flow item, is printed by sops as ``-``, the comment and ``{}`` at column 0, which is
    not the YAML that was encrypted (here not YAML at all). Both encrypted files are alike
    (sops prints the same for each); kubecrypt prints YAML that reads back as the input
    (docs/sops.md), and ``compare`` accepts exactly that."""
    text = b"a:\n  - - [a, 1]\n    # c\n  - {}\n"
    src = tmp_path / "p.yaml"
    src.write_bytes(text)
    env = env_for(age_keys["k1"], str(tmp_path))
    out = {}
    for name, tool in (("s", sops), ("k", kc)):
        r = tool("encrypt", "--age", age_keys["k1"].recipient, str(src), env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        (tmp_path / f"{name}.yaml").write_bytes(r.stdout)
        out[name] = {t.__name__: t("decrypt", str(tmp_path / f"{name}.yaml"), env=env,
                                   cwd=tmp_path) for t in (sops, kc)}
    theirs = out["s"]["sops"].stdout
    assert out["k"]["sops"].stdout == theirs  # sops reads both files alike
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(theirs)
    for name in "sk":
        mine = out[name]["kc"]
        assert mine.returncode == 0 and b"# c" in mine.stdout, mine.stderr
        assert yaml.safe_load(mine.stdout) == yaml.safe_load(text)
    assert compare(text, "yaml", age_keys["k1"]) == theirs


def _comments_of(text: str) -> list[tuple[str, object, tuple[str, str, str]]]:
    events = _events(text)
    comments = event_comments(text, events)
    assert comments is not None
    return [(type(e).__name__, getattr(e, "value", None), c)
            for e, c in zip(events, comments, strict=True) if any(c)]


def test_go_yaml_head_line_and_foot_attachment() -> None:
    assert _comments_of("# doc\n\n# head\na: 1 # line\n# next\nb:\n  c: 2\n  # foot\n# end\n") == [
        ("DocumentStartEvent", None, ("# doc", "", "")),
        ("ScalarEvent", "a", ("# head", "", "")),
        ("ScalarEvent", "1", ("", "# line", "")),
        ("ScalarEvent", "b", ("# next", "", "")),
        ("ScalarEvent", "2", ("", "", "# foot")),
        ("MappingEndEvent", None, ("", "", "# end")),
    ]


def test_sequence_end_line_comment_replaces_the_anchor_comment() -> None:
    # go-yaml: the comment after ``&a0`` is the line comment of the first node taking comments
    # (the ``[]``), whose end event's line comment then replaces it.
    assert _comments_of("x: &a0 # lost\n  - [] # kept\n") == [
        ("SequenceStartEvent", None, ("", "# lost", "")),
        ("SequenceEndEvent", None, ("", "# kept", "")),
    ]
    assert load_documents("x: &a0 # lost\n  - [] # kept\n") == [
        Branch([("x", [Comment(" kept"), []])])]


def test_stem_comment_after_dash_belongs_to_the_nested_collection() -> None:
    assert _comments_of("l:\n  # x\n  - # y\n    k: v\n") == [
        ("MappingStartEvent", None, ("# x", "", "")),
        ("ScalarEvent", "k", ("# y", "", "")),
    ]


def test_alias_repeats_its_anchors_comments_as_sops_walks_it() -> None:
    docs = load_documents("a: &a # x\n  k: v # y\nb: *a # z\n")
    # "# x" is the line comment of key k (the first node after the anchor taking comments), a
    # value's line comment goes before its key, and the alias walks the anchor's node again.
    inner = Branch([(Comment(" x"), None), (Comment(" y"), None), ("k", "v")])
    assert docs == [Branch([("a", inner), (Comment(" z"), None), ("b", inner)])]


def test_comment_after_a_byte_order_mark_is_kept() -> None:
    # go-yaml skips a BOM at the start of a line before it scans comments.
    assert load_documents("\ufeff# bom\na: 1\n") == [Branch([(Comment(" bom"), None), ("a", 1)])]


def test_unencrypted_negative_zero_keeps_the_file_openable(age_keys: dict[str, AgeKey],
                                                           tmp_path: Path) -> None:
    """Where sops is wrong: a float -0.0 left unencrypted is written "-0", read back as the
    integer 0, and sops' own file fails its MAC (exit 51). kubecrypt writes "-0.0" there, so its
    file opens in both tools (docs/sops.md)."""
    text = b"a: -0.0\nb: x\n"
    src = tmp_path / "p.yaml"
    src.write_bytes(text)
    env = env_for(age_keys["k1"], str(tmp_path))
    args = ["--age", age_keys["k1"].recipient, "--encrypted-regex", "^b$", str(src)]
    theirs = sops("encrypt", *args, env=env, cwd=tmp_path)
    ours = kc("encrypt", *args, env=env, cwd=tmp_path)
    assert theirs.returncode == 0 and ours.returncode == 0, (theirs.stderr, ours.stderr)
    assert theirs.stdout.startswith(b"a: -0\n") and ours.stdout.startswith(b"a: -0.0\n")
    (tmp_path / "s.yaml").write_bytes(theirs.stdout)
    (tmp_path / "k.yaml").write_bytes(ours.stdout)
    assert sops("decrypt", str(tmp_path / "s.yaml"), env=env, cwd=tmp_path).returncode == 51
    assert kc("decrypt", str(tmp_path / "s.yaml"), env=env, cwd=tmp_path).returncode == 51
    for tool in (sops, kc):
        r = tool("decrypt", str(tmp_path / "k.yaml"), env=env, cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == b"a: -0\nb: x\n", r.stderr
    # and the differential harness accepts exactly this difference
    assert compare(text, "yaml", age_keys["k1"], ["--encrypted-regex", "^b$"]) == b"a: -0\nb: x\n"


def test_a_marker_comment_after_a_marker_is_encrypted_like_sops(
        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """encrypted_comment_regex: a comment matching the regex stays plaintext as the marker,
    but one that an earlier comment (on its level or a level around it) already marked is
    encrypted like any other, as sops' shouldBeEncrypted skips only the comment itself."""
    rule = (f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
            "    encrypted_comment_regex: '^ a'\n")
    # the foot comment is marked by the key's line comment one level up; sops then cannot
    # decrypt its own (the documented path difference), so this differed in what sops printed
    want = compare(b"a: # a\n  a: [a, 1]\n  # a\n", "yaml", age_keys["k1"], config=rule)
    assert want is not None and b"#ENC[AES256_GCM" in want
    # on one level, both encrypted files must be alike, value by value
    (tmp_path / ".sops.yaml").write_text(rule)
    (tmp_path / "p.yaml").write_bytes(b"# a\n# a b\nk: v\n# a\nl: w\n")
    env = env_for(age_keys["k1"], str(tmp_path))
    shapes = [_ENC.sub(b"ENC", tool("encrypt", "p.yaml", env=env, cwd=tmp_path).stdout)
              .split(b"\nsops:\n")[0] for tool in (sops, kc)]
    assert shapes[0] == shapes[1] == b"# a\n#ENC\nk: ENC\n# a\nl: ENC", shapes


def test_marker_comments_around_a_block_scalar_and_an_anchored_list_like_sops(
        age_keys: dict[str, AgeKey]) -> None:
    """The shape the rule-selection generator kept finding: the marker "# bdj rlf" makes sops
    encrypt the alias's own line comment "# c" after it (a marker too), and the list the alias
    repeats, whose comments sops encrypts into list items."""
    text = (b"hv:\n  d0t30: |- # xvbcoj\n    wdd025\n  pz: &a0\n    - -24074 # li\n"
            b"    # ms cq\n  # xi um\n# bdj rlf\nhvx: *a0 # c\n")
    rule = (f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
            "    encrypted_comment_regex: '[a-c]'\n")
    want = compare(text, "yaml", age_keys["k1"], config=rule)
    assert want is not None and b"# xvbcoj" in want


_ENC = re.compile(rb"ENC\[AES256_GCM,[^\]]*\]")


def test_a_plaintext_foot_waiting_until_after_the_metadata_key(
        age_keys: dict[str, AgeKey]) -> None:
    """A plaintext foot comment after a list ending with a mapping waits in go-yaml's emitter
    until the next key it writes, "sops:", so it lands under that key and sops' decryption
    drops it; both encrypted files must still be alike, that comment included."""
    rule = (f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
            "    encrypted_comment_regex: x\n")
    want = compare(b"u:\n  - {k: v}\n  # rv w\n", "yaml", age_keys["k1"], config=rule)
    assert want == b"u:\n    - k: v\n"


def test_the_list_comment_allowance_accepts_nothing_broader() -> None:
    def enc(t: str) -> bytes:
        return f"ENC[AES256_GCM,data:x,iv:y,tag:z,type:{t}]".encode()

    sops_file = b"l:\n    # x\n    - " + enc("comment") + b"\n    - " + enc("str") + b"\nsops:\n    k: v\n"
    held = sops_file.replace(b"- " + enc("comment"), b"#" + enc("comment"))
    mac = b"MAC mismatch. File has A, computed B\n"
    assert sops_broke_its_list_comments(sops_file, held, mac)
    assert not sops_broke_its_list_comments(sops_file, held, b"Could not decrypt\n")
    assert not sops_broke_its_list_comments(sops_file, sops_file, mac)  # nothing held
    for other in (held.replace(b"- " + enc("str"), b"#" + enc("str")),  # a value
                  held.replace(b"    #ENC", b"  #ENC"),  # another place
                  held.replace(b"# x", b"# y")):  # anything else
        assert not sops_broke_its_list_comments(sops_file, other, mac)


def test_a_marked_list_comment_stays_a_comment_so_the_file_opens(
        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """Where sops is wrong: under encrypted_comment_regex, "# y" after the marker "# x" in a
    list is encrypted and sops writes it as a list element; decrypting, sops does not count
    that element as a comment, so "- v" is no longer marked, stays encrypted, and sops' own
    file fails its MAC (exit 51, in both tools). kubecrypt writes "#ENC[...]" there; its file
    opens in both tools (docs/sops.md), and ``compare`` accepts exactly that difference."""
    rule = (f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
            "    encrypted_comment_regex: x\n")
    (tmp_path / ".sops.yaml").write_text(rule)
    (tmp_path / "p.yaml").write_bytes(b"l:\n  # x\n  # y\n  - v\n  - w\n")
    env = env_for(age_keys["k1"], str(tmp_path))
    for name, tool in (("s", sops), ("k", kc)):
        r = tool("encrypt", "p.yaml", env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        (tmp_path / f"{name}.yaml").write_bytes(r.stdout)
    body = {n: _ENC.sub(b"ENC", (tmp_path / f"{n}.yaml").read_bytes()).split(b"\nsops:\n")[0]
            for n in "sk"}
    assert body["s"] == b"l:\n    # x\n    - ENC\n    - ENC\n    - w"  # "- w": not marked
    assert body["k"] == b"l:\n    # x\n    #ENC\n    - ENC\n    - w"
    for tool in (sops, kc):
        assert tool("decrypt", "s.yaml", env=env, cwd=tmp_path).returncode == 51
        r = tool("decrypt", "k.yaml", env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"l:\n    # x\n    # y\n    - v\n    - w\n"
    want = compare(b"l:\n  # x\n  # y\n  - v\n", "yaml", age_keys["k1"], config=rule)
    assert want == b"l:\n    # x\n    # y\n    - v\n"

_MISREAD = (
    "import sys\n"
    "from kubecrypt.sops.stores import yaml_comments\n"
    "replay = sys.argv.pop(1)\n"
    "def run(self):\n"
    "    if replay == 'raise':\n"
    "        raise KeyError('lost its way')\n"
    "    return []  # events that do not line up with libyaml's\n"
    "yaml_comments._Parser.run = run\n"
    "from kubecrypt.cli import main\n"
    "main(sys.argv[1:])\n"
)


@pytest.mark.parametrize("replay", ["short", "raise"])
@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_a_comment_layout_that_cannot_be_read_is_refused_in_one_sentence(
        command: str, replay: str, age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """Should go-yaml's comment replay ever not line up with libyaml's events, no comment is
    placed by guess (it could land in another key's ciphertext): the file is refused with one
    sentence saying what to do, the exit code of YAML that cannot be read, nothing written."""
    env = env_for(age_keys["k1"], str(tmp_path))
    f = tmp_path / "p.yaml"
    f.write_bytes(b"a: 1 # c\n")
    if command == "decrypt":  # sops' file: its comment is "#ENC[...]"
        f.write_bytes(sops("encrypt", "--age", age_keys["k1"].recipient, str(f), env=env).stdout)
    text = f.read_bytes()
    assert b"#" in text and (command == "encrypt" or b"sops:" in text)
    args = (["encrypt", "--age", age_keys["k1"].recipient] if command == "encrypt"
            else ["decrypt"])
    r = subprocess.run([sys.executable, "-c", _MISREAD, replay, "sops", *args, "-i", str(f)],
                       env=env, capture_output=True, timeout=60, check=False)
    # as for any YAML that cannot be read: exit 2 for a plain file, 1 for an encrypted one
    assert r.returncode == {"encrypt": 2, "decrypt": 1}[command], r.stderr
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "comments" in lines[0] and "remove the comments" in lines[0]
    assert b"Traceback" not in r.stderr and f.read_bytes() == text and r.stdout == b""
