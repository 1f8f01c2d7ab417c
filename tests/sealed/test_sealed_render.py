"""kubeseal's output encodings (go-yaml v2 over Kubernetes JSON) and the Go template subset."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecrypt.sealed.gotemplate import TemplateError, render
from kubecrypt.sealed.render import SEALED_SECRET, ordered, to_json, to_yaml


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("true", '"true"'),
        ("y", '"y"'),  # YAML 1.1 booleans that PyYAML's resolver would not quote
        ("N", '"N"'),
        ("off", '"off"'),
        ("", '""'),
        ("~", '"~"'),
        ("null", '"null"'),
        ("0123", '"0123"'),
        ("1.5", '"1.5"'),
        ("1e3", '"1e3"'),
        ("0x1F", '"0x1F"'),
        ("12:30", '"12:30"'),  # base-60 float
        ("2024-01-02", '"2024-01-02"'),  # timestamp
        ("1.2.3", "1.2.3"),
        ("- item", "'- item'"),
        ("key: value", "'key: value'"),
        ("#comment", "'#comment'"),
        ('{"a":1}', "'{\"a\":1}'"),
        (" lead", "' lead'"),
        ("it's", "it's"),
        ("a\nb\n", "|\n  a\n  b"),
        ("a\nb", "|-\n  a\n  b"),
    ],
)
def test_yaml_scalar_styles(value: str, expected: str):
    assert to_yaml({"k": value}) == f"---\nk: {expected}\n"


def test_yaml_folds_long_strings_with_spaces():
    text = " ".join(["word"] * 30)
    out = to_yaml({"k": text})
    assert all(len(line) <= 85 for line in out.splitlines())
    assert out.splitlines()[1].startswith("k: word word")
    import yaml

    assert yaml.safe_load(out.removeprefix("---\n"))["k"] == text


def test_yaml_key_order_is_go_yaml_natural_order():
    keys = ["b", "a10", "a2", "A", "a_b", "aB", "1", "10", "9"]
    out = to_yaml(dict.fromkeys(keys, "v"))
    assert [line.split(":")[0].strip('"') for line in out.splitlines()[1:]] == \
        ["1", "9", "10", "A", "a_b", "a2", "a10", "aB", "b"]


def test_yaml_nested_lists_not_indented():
    out = to_yaml({"metadata": {"ownerReferences": [{"name": "x", "controller": True}]}})
    assert out == "---\nmetadata:\n  ownerReferences:\n  - controller: true\n    name: x\n"


def test_json_is_go_pretty_json():
    obj = {"kind": "SealedSecret", "apiVersion": "bitnami.com/v1alpha1",
           "metadata": {"namespace": "n", "name": "a<b>&c", "annotations": {"z": "1", "a": "2"}},
           "spec": {"encryptedData": {"b": "x", "a": "y"}, "template": {"metadata": {}}},
           "unknown": "dropped"}
    assert to_json(ordered(obj, SEALED_SECRET)) == (
        '{\n  "kind": "SealedSecret",\n  "apiVersion": "bitnami.com/v1alpha1",\n'
        '  "metadata": {\n    "name": "a\\u003cb\\u003e\\u0026c",\n    "namespace": "n",\n'
        '    "annotations": {\n      "a": "2",\n      "z": "1"\n    }\n  },\n'
        '  "spec": {\n    "template": {\n      "metadata": {}\n    },\n'
        '    "encryptedData": {\n      "a": "y",\n      "b": "x"\n    }\n  }\n}\n')


DATA = {"user": "admin", "pass": "s3cret", "tls.crt": "CERT", "n": "3"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ .user }}", "admin"),
        ("{{ index . \"tls.crt\" }}", "CERT"),
        ("{{ .user | upper | quote }}", '"ADMIN"'),
        ("{{ printf \"%s:%s\" .user .pass | b64enc }}", "YWRtaW46czNjcmV0"),
        ("{{ .missing }}", "<no value>"),
        ("{{ index . \"missing\" }}", ""),
        ("{{ default \"x\" .missing }}", "x"),
        ("{{- if eq .user \"admin\" }} yes {{- else }} no {{- end }}", " yes"),
        ("{{ with .pass }}[{{ . }}]{{ end }}", "[s3cret]"),
        ("{{ range $k, $v := . }}{{ $k }};{{ end }}", "n;pass;tls.crt;user;"),
        ("{{ $u := .user }}{{ $u }}@{{ .pass | sha256sum | trunc 8 }}", "admin@1ec1c26b"),
        ("{{ toJson . }}", '{"n":"3","pass":"s3cret","tls.crt":"CERT","user":"admin"}'),
        ("a: {{ .user | nindent 2 }}", "a: \n  admin"),
        ("{{ /* note */ }}x", "x"),
        ("{{ (printf \"%d\" 42) }}", "42"),
        ("{{ .user | replace \"ad\" \"AD\" | trimSuffix \"in\" }}", "ADm"),
    ],
)
def test_go_template(template: str, expected: str):
    assert render("k", template, DATA) == expected


@pytest.mark.parametrize(
    "template",
    ['{{ env "HOME" }}', '{{ expandenv "$HOME" }}', "{{ getHostByName \"x\" }}", "{{ .user",
     "{{ if .user }}no end", "{{ .user.x }}"],
)
def test_go_template_errors(template: str):
    with pytest.raises(TemplateError):
        render("k", template, DATA)


class _StringsOnly(yaml.SafeLoader):
    """Reads every scalar as the string it spells: checks the emitter, not the resolver."""


_StringsOnly.yaml_implicit_resolvers = {}

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\t "),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(key=_TEXT.filter(lambda s: s != ""), value=_TEXT)
def test_yaml_keeps_every_string_exact(key: str, value: str):
    doc = {key: value, "nested": {"list": [value]}}
    text = to_yaml(doc)
    assert text.startswith("---\n")
    assert yaml.load(text, Loader=_StringsOnly) == doc


def test_unquoted_equals_sign_reads_as_a_string():
    # go-yaml reads a plain "=" as a string; PyYAML's SafeLoader would choke on its "value" tag.
    from kubecrypt.sealed.documents import load_documents

    assert to_yaml({"k": "="}) == "---\nk: =\n"
    assert load_documents(b"k: =\n") == [{"k": "="}]
