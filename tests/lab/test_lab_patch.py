"""The patch engines and selectors on their own, table-driven (RFC 7386 / RFC 6902 examples)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecrypt.lab.apiserver import errors
from kubecrypt.lab.apiserver.patch import json_patch, merge_patch, strategic_merge
from kubecrypt.lab.apiserver.selectors import field_selector, label_selector

# RFC 7386 appendix A
MERGE_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target,patch,expected", MERGE_CASES)
def test_merge_patch_rfc7386(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_json_patch_operations() -> None:
    doc = {"data": {"a": "1"}, "list": [1, 2]}
    out = json_patch(doc, [
        {"op": "add", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "0"},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "remove", "path": "/list/0"},
        {"op": "copy", "from": "/data/a", "path": "/data/c"},
        {"op": "move", "from": "/data/b", "path": "/moved"},
        {"op": "test", "path": "/moved", "value": "2"},
        {"op": "add", "path": "/a~1b", "value": True},
    ])
    assert out == {"data": {"a": "0", "c": "0"}, "list": [2, 3], "moved": "2", "a/b": True}
    assert doc == {"data": {"a": "1"}, "list": [1, 2]}  # the input is not modified
    for bad in ([{"op": "remove", "path": "/nope"}], [{"op": "replace", "path": "/x", "value": 1}],
                [{"op": "test", "path": "/data/a", "value": "2"}]):
        with pytest.raises(errors.ApiError) as err:
            json_patch(doc, bad)
        assert err.value.code == 422


def test_strategic_merge_for_metadata_lists() -> None:
    current = {"metadata": {"finalizers": ["a/x"], "ownerReferences": [
        {"uid": "1", "name": "one"}, {"uid": "2", "name": "two"}]}, "data": {"k": "v"}}
    patch = {"$setElementOrder/finalizers": ["a/x", "b/y"],
             "metadata": {"finalizers": ["b/y"], "ownerReferences": [
                 {"uid": "2", "name": "TWO"}, {"uid": "1", "$patch": "delete"},
                 {"uid": "3", "name": "three"}]}, "data": {"k": None, "n": "w"}}
    out = strategic_merge(current, patch)
    assert out["metadata"]["finalizers"] == ["a/x", "b/y"]
    assert out["metadata"]["ownerReferences"] == [{"uid": "2", "name": "TWO"},
                                                  {"uid": "3", "name": "three"}]
    assert out["data"] == {"n": "w"}
    assert strategic_merge({"data": {"a": "1"}}, {"data": {"$patch": "replace", "b": "2"}}) == \
        {"data": {"b": "2"}}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) |
                           st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=10)


@given(st.dictionaries(st.text(max_size=3), json_values, max_size=4))
def test_merge_patch_with_itself_is_idempotent(doc: dict[str, Any]) -> None:
    once = merge_patch(doc, doc)
    assert merge_patch(once, doc) == once


@pytest.mark.parametrize("selector,labels,matches", [
    ("a=b", {"a": "b"}, True), ("a==b", {"a": "c"}, False), ("a!=b", {}, True),
    ("a in (x, y)", {"a": "y"}, True), ("a notin (x,y)", {"a": "x"}, False),
    ("a", {"a": ""}, True), ("!a", {"a": "1"}, False), ("a=b,c in (d)", {"a": "b", "c": "d"}, True),
    ("app.kubernetes.io/name=x", {"app.kubernetes.io/name": "x"}, True),
])
def test_label_selector(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert label_selector(selector)({"metadata": {"labels": labels}}) is matches


def test_field_selector() -> None:
    obj = {"metadata": {"name": "x", "namespace": "ns"}, "type": "Opaque"}
    assert field_selector("metadata.name=x,metadata.name=x", "Secret")(obj)  # kr8s' duplicate
    assert not field_selector("metadata.namespace!=ns", "Secret")(obj)
    assert field_selector("type=Opaque", "Secret")(obj)
    with pytest.raises(errors.ApiError) as err:
        field_selector("spec.x=1", "Secret")
    assert err.value.code == 400
