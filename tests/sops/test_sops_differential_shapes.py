"""Differential property tests against the real sops 3.11 binary, over the shapes issue 14
found differences in. The YAML and INI texts are written here, not by kubecrypt's emitter, so
the generator never shares kubecrypt's assumptions: comments at every position a YAML node can
carry one (head, line, foot; after ``- ``, after an anchor, after a block scalar header, at the
end of a list, below an empty line), flow collections empty and not, anchors and aliases, block
scalars with headers, big integers; INI sections in any order with ``DEFAULT`` anywhere, duplicate keys, multi-line and
quoted values; JSON with lone surrogates; every selection flag alone and in pairs; and the
commands (``--extract``, ``set``, ``unset``, ``exec-env``, ``rotate``, ``edit`` with a
scripted EDITOR, ``updatekeys``). Both directions every time (``sopsdiff.compare``).

Bounded: ``KUBECRYPT_SOPS_EXAMPLES`` (default 8) examples per test; ``slow`` marker."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import AgeKey
from .sopsdiff import compare, env_for, kc, sops

pytestmark = pytest.mark.slow

_SETTINGS = settings(max_examples=int(os.environ.get("KUBECRYPT_SOPS_EXAMPLES", "8")),
                     deadline=None, suppress_health_check=list(HealthCheck))

_word = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
_comment = st.from_regex(r"[a-z]{1,6}( [a-z]{1,4})?", fullmatch=True)
_plain = st.one_of(
    _word, st.integers(-(2**63), 2**63 - 1).map(str),
    st.integers(2**63, 2**64 + 5).map(str),                  # uint64 (refused) and beyond
    st.sampled_from(["true", "false", "null", "~", "1.5", "1e+30", "-0.0", "0x1F", "0o17",
                     "1234567890123456789.0", "2001-12-14t21:59:43.10-05:00", '"quoted # x"',
                     "'single'", '"multi\\nline"', '""']),
    # floats as people write them and as Go formats float64 (go-yaml writes them back)
    st.floats(allow_nan=False, allow_infinity=False).flatmap(
        lambda x: st.sampled_from([repr(x), f"{x:e}", f"{x:g}", f"{x:.17g}"])),
    st.sampled_from([".inf", "-.Inf", ".NaN", "1_000", "0b101", "+12", "012", "1.", ".5",
                     "1e3", "1E3", "-1.5e-7", "0.0", "1.0e+16", "4.9e-324",
                     "1.7976931348623157e308", "123456789012345678901234567890",
                     "0x7FFFFFFFFFFFFFFF", "-0x10", "+.5"]))


# --------------------------------------------------------------------------------- YAML text

@st.composite
def _yaml_node(draw: st.DrawFn, depth: int = 0) -> dict[str, object]:
    kinds = ["scalar", "block", "flow_empty"] + (["map", "seq"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "scalar":
        return {"k": "scalar", "v": draw(_plain)}
    if kind == "block":
        lines = draw(st.lists(_word, min_size=1, max_size=3))
        return {"k": "block", "header": draw(st.sampled_from(["|", "|-", "|+", ">", ">-"])),
                "lines": lines}
    if kind == "flow_empty":
        return {"k": "flow", "v": draw(st.sampled_from(["{}", "[]", "[a, 1]", "{k: v}"]))}
    if kind == "map":
        keys = draw(st.lists(_word.filter(lambda w: w != "sops"), min_size=1, max_size=3,
                             unique=True))
        return {"k": "map", "items": [(k, draw(_yaml_node(depth + 1))) for k in keys]}
    return {"k": "seq", "items": draw(st.lists(_yaml_node(depth + 1), min_size=1, max_size=3))}


class _Writer:
    """Writes a node tree as block YAML (2-space indent) and decorates it with comments,
    anchors and aliases chosen by hypothesis (``comments=False``: no comments at all)."""

    def __init__(self, draw: st.DrawFn, comments: bool = True) -> None:
        self.draw = draw
        self.comments = comments
        self.lines: list[str] = []
        self.anchors: list[str] = []

    def comment_here(self, one_in: int) -> bool:
        return self.comments and self.draw(st.integers(0, one_in - 1)) == 0

    def maybe_comment(self) -> str:
        return " # " + self.draw(_comment) if self.comment_here(5) else ""

    def head_comments(self, indent: int) -> None:
        if not self.comments:
            return
        for _ in range(self.draw(st.integers(0, 1)) if self.draw(st.booleans()) else 0):
            if self.draw(st.integers(0, 5)) == 0:  # an empty line splits head from foot
                self.lines.append("")
            self.lines.append(" " * indent + "# " + self.draw(_comment))

    def value(self, node: dict[str, object], prefix: str, indent: int) -> None:
        """``prefix`` is ``key:`` or ``-`` already indented; the value follows it."""
        k = node["k"]
        if k in ("scalar", "flow"):
            self.lines.append(f"{prefix} {node['v']}{self.maybe_comment()}")
        elif k == "block":
            self.lines.append(f"{prefix} {node['header']}{self.maybe_comment()}")
            for ln in node["lines"]:  # type: ignore[attr-defined]
                self.lines.append(" " * (indent + 2) + ln)
        else:
            anchor = ""
            if self.draw(st.integers(0, 3)) == 0:
                anchor = f" &a{len(self.anchors)}"
                self.anchors.append(f"a{len(self.anchors)}")
            if k == "map" and prefix.endswith("-") and not anchor and self.draw(st.booleans()):
                # compact ``- key: value`` form
                self.mapping(node, indent + 2, first=prefix + " ")
                return
            self.lines.append(f"{prefix}{anchor}{self.maybe_comment()}")
            if k == "map":
                self.mapping(node, indent + 2)
            else:
                self.sequence(node, indent + 2)

    def mapping(self, node: dict[str, object], indent: int, first: str | None = None) -> None:
        for i, (key, child) in enumerate(node["items"]):  # type: ignore[attr-defined]
            if first is None or i:
                self.head_comments(indent)
            lead = first if (first is not None and i == 0) else " " * indent
            self.value(child, f"{lead}{key}:", indent)
        if self.comment_here(5):  # a foot comment at this level
            self.lines.append(" " * indent + "# " + self.draw(_comment))

    def sequence(self, node: dict[str, object], indent: int) -> None:
        for child in node["items"]:  # type: ignore[attr-defined]
            self.head_comments(indent)
            if child["k"] in ("map", "seq") and self.comment_here(6):
                # ``- # comment`` then the item on the next lines
                self.lines.append(" " * indent + "- # " + self.draw(_comment))
                if child["k"] == "map":
                    self.mapping(child, indent + 2)
                else:
                    self.sequence(child, indent + 2)
                continue
            self.value(child, " " * indent + "-", indent)
        if self.comment_here(4):  # end of list
            self.lines.append(" " * indent + "# " + self.draw(_comment))


@st.composite
def _yaml_text(draw: st.DrawFn) -> bytes:
    keys = draw(st.lists(_word.filter(lambda w: w != "sops"), min_size=1, max_size=4,
                         unique=True))
    w = _Writer(draw)
    w.head_comments(0)
    for key in keys:
        w.head_comments(0)
        w.value(draw(_yaml_node(1)), f"{key}:", 0)
        if w.anchors and draw(st.integers(0, 3)) == 0:
            alias_key = key + "x"
            if alias_key not in keys:
                w.lines.append(f"{alias_key}: *{draw(st.sampled_from(w.anchors))}"
                               f"{w.maybe_comment()}")
    if draw(st.booleans()):
        w.lines.append("# " + draw(_comment))
    return ("\n".join(w.lines) + "\n").encode()


@_SETTINGS
@given(text=_yaml_text())
def test_yaml_shapes_match_sops(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    compare(text, "yaml", age_keys["k1"])


# --------------------------------------------------------------------------------- INI text

@st.composite
def _ini_text(draw: st.DrawFn) -> bytes:
    out: list[str] = []
    names = draw(st.lists(st.one_of(_word, st.just("DEFAULT")), min_size=1, max_size=4))
    if draw(st.booleans()):  # keys before any header: the implicit DEFAULT section
        names = ["", *names]
    for name in names:
        if draw(st.booleans()):
            out.append(draw(st.sampled_from([";", "#"])) + " " + draw(_comment))
        if name:
            out.append(f"[{name}]" + (" ; " + draw(_comment) if draw(st.integers(0, 4)) == 0
                                      else ""))
        keys = draw(st.lists(st.sampled_from(["a", "b", "key", "x_y", "üb"]), max_size=4))
        for key in keys:  # repeated keys: go-ini keeps the last value at the first position
            if draw(st.integers(0, 3)) == 0:
                out.append("; " + draw(_comment))
            value = draw(st.one_of(
                _word, st.just(""), st.just('"  spaced  "'),
                st.builds(lambda a, b: f'"""{a}\n{b}"""', _word, _word),
                st.builds(lambda a: f"{a} # inline", _word), st.just("`a;b`")))
            sep = draw(st.sampled_from([" = ", "=", ": "]))
            out.append(f"{key}{sep}{value}")
        if draw(st.booleans()):
            out.append("")
    return ("\n".join(out) + "\n").encode()


@_SETTINGS
@given(text=_ini_text())
def test_ini_shapes_match_sops(text: bytes, age_keys: dict[str, AgeKey]) -> None:
    compare(text, "ini", age_keys["k1"])


# --------------------------------------------------------------------------------- JSON text

_json_strings = st.one_of(
    st.text(max_size=6).map(lambda s: json.dumps(s)),
    st.sampled_from(['"\\ud800"', '"a\\udc80b"', '"\\ud83d\\ude00"', '"\\udfff\\ud800"']))


@_SETTINGS
@given(pairs=st.lists(st.tuples(_json_strings, st.one_of(
    _json_strings, st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["1.5e300", "0.1", "-0", "true", "null", "[]", "{}"]))), min_size=1,
    max_size=4))
def test_json_shapes_match_sops(pairs: list[tuple[str, str]],
                                age_keys: dict[str, AgeKey]) -> None:
    text = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if any(k == '"sops"' for k, _ in pairs):
        return
    compare(text.encode(), "json", age_keys["k1"])


# --------------------------------------------------------------------------------- selection

_FLAGS = ["--encrypted-regex", "--unencrypted-regex", "--encrypted-suffix",
          "--unencrypted-suffix"]


@_SETTINGS
@given(text=_yaml_text(), flags=st.lists(st.tuples(st.sampled_from(_FLAGS), st.one_of(
    _word, st.sampled_from(["^a", "b$", "x", "_u"]))), max_size=2, unique_by=lambda t: t[0]))
def test_selection_flags_match_sops(text: bytes, flags: list[tuple[str, str]],
                                    age_keys: dict[str, AgeKey]) -> None:
    compare(text, "yaml", age_keys["k1"], [a for f in flags for a in f])


@_SETTINGS
@given(field=st.sampled_from(["encrypted_comment_regex", "unencrypted_comment_regex",
                              "encrypted_regex", "unencrypted_suffix"]),
       value=st.sampled_from(["^ a", "x", "[a-c]"]), text=_yaml_text())
def test_rule_selection_fields_match_sops(field: str, value: str, text: bytes,
                                          age_keys: dict[str, AgeKey]) -> None:
    cfg = (f"creation_rules:\n  - age: {age_keys['k1'].recipient}\n"
           f"    {field}: '{value}'\n")
    compare(text, "yaml", age_keys["k1"], config=cfg)


# --------------------------------------------------------------------------------- commands

_simple_doc = st.lists(st.tuples(_word.filter(lambda w: w != "sops"), st.one_of(
    _word, st.integers(0, 99), st.lists(_word, min_size=1, max_size=3),
    st.dictionaries(_word, _word, min_size=1, max_size=2))), min_size=1, max_size=4,
    unique_by=lambda t: t[0])

_COMMANDS = ["extract", "set", "set-append", "set-new", "unset", "unset-missing", "exec-env",
             "rotate", "edit", "updatekeys", "filestatus", "extract-json"]


def _yaml_of(doc: list[tuple[str, object]]) -> bytes:
    return json.dumps(dict(doc)).encode()  # JSON is YAML; both tools read it the same


@_SETTINGS
@given(doc=_simple_doc, command=st.sampled_from(_COMMANDS), pick=st.integers(0, 10),
       ext=st.sampled_from(["yaml", "json"]))
def test_commands_match_sops(doc: list[tuple[str, object]], command: str, pick: int, ext: str,
                             age_keys: dict[str, AgeKey]) -> None:
    key, value = doc[pick % len(doc)]
    path = f'["{key}"]'
    if isinstance(value, list):
        path += f"[{pick % (len(value) + (1 if command == 'set-append' else 0))}]"
    elif isinstance(value, dict):
        path += f'["{sorted(value)[0]}"]'
    with tempfile.TemporaryDirectory() as d:
        wd = Path(d)
        env = env_for(age_keys["k1"], d)
        (wd / f"p.{ext}").write_bytes(_yaml_of(doc))
        (wd / ".sops.yaml").write_text(
            f"creation_rules:\n  - age: {age_keys['k1'].recipient},{age_keys['k2'].recipient}\n")
        enc = sops("encrypt", "--age", age_keys["k1"].recipient, f"p.{ext}", env=env, cwd=wd)
        assert enc.returncode == 0, enc.stderr
        results = []
        for name, tool in (("s", sops), ("k", kc)):
            f = wd / f"{name}.{ext}"
            f.write_bytes(enc.stdout)
            args: list[str] = {
                "extract": ["decrypt", "--extract", path, f.name],
                "set": ["set", f.name, path, '"new"'],
                "set-append": ["set", f.name, path, '{"n": 1}'],
                "set-new": ["set", f.name, f'["{key}x"]["n"]', "[1, 2.5]"],
                "unset": ["unset", f.name, path],
                "unset-missing": ["unset", f.name, f'["{key}x"]'],
                "filestatus": ["filestatus", f.name],
                "extract-json": ["decrypt", "--output-type", "json", "--extract", path, f.name],
                "exec-env": ["exec-env", f.name, "env | grep -v '^_=' | sort"],
                "rotate": ["rotate", "-i", "--add-age", age_keys["k3"].recipient, f.name],
                "edit": ["edit", f.name],
                "updatekeys": ["updatekeys", "-y", f.name],
            }[command]
            run_env = env
            if command == "edit":
                editor = wd / "ed.sh"
                editor.write_text(  # a change that keeps the file valid YAML or JSON
                    "#!/bin/sh\nprintf 'added: 1\\n' >> \"$1\"\n" if ext == "yaml" else
                    "#!/bin/sh\nsed -i '1s/^{/{\"added\": 1,/' \"$1\"\n")
                editor.chmod(0o755)
                run_env = {**env, "EDITOR": str(editor)}
            if command == "exec-env":
                run_env = {k: v for k, v in env.items()
                           if k in ("PATH", "HOME", "SOPS_AGE_KEY_FILE", "PYTHONPATH")}
            r = tool(*args, env=run_env, cwd=wd)
            assert b"Traceback" not in r.stderr, r.stderr
            out = r.stdout
            if command == "exec-env":  # the tools' own variables differ; compare the file's
                keys = {k for k, _ in doc}
                out = b"\n".join(ln for ln in out.splitlines()
                                 if ln.split(b"=", 1)[0].decode() in keys)
            plain = sops("decrypt", f.name, env=env, cwd=wd)
            results.append((r.returncode, out if command in (
                "extract", "exec-env", "updatekeys", "filestatus", "extract-json") else b"",
                plain.returncode, plain.stdout))
        assert results[0] == results[1], (doc, command, path)
