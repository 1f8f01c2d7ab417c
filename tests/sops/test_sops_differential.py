"""Differential property tests against the real sops binary: random documents (and random
comment placements in YAML) are encrypted by both tools; each tool's file must decrypt, with
the other tool too, to exactly what sops prints for its own file. Few examples per run (each
costs several processes; ``KUBECRYPT_SOPS_EXAMPLES`` raises it); the generators are the ones that found the bugs fixed so far."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubecrypt.sops.stores import store_for
from kubecrypt.sops.tree import Branch

from .conftest import AgeKey
from .sopsdiff import compare

_SETTINGS = settings(max_examples=int(os.environ.get("KUBECRYPT_SOPS_EXAMPLES", "12")),
                     deadline=None,
                     suppress_health_check=list(HealthCheck))

_keys = st.text(min_size=1, max_size=6).filter(lambda k: k != "sops")
_leaves = st.one_of(st.text(max_size=12), st.integers(-(2**53), 2**53), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: x + 0.0),
                    st.none())
_trees = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(_keys, inner, max_size=3).map(lambda d: Branch(d.items()))),
    max_leaves=8)

_simple_keys = st.from_regex(r"[a-z][a-z0-9]{0,4}", fullmatch=True)
_simple_trees = st.recursive(
    st.one_of(st.from_regex(r"[a-z0-9 ]{0,6}", fullmatch=True), st.integers(0, 99),
              st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.dictionaries(_simple_keys, inner, min_size=1, max_size=3).map(
            lambda d: Branch(d.items()))),
    max_leaves=8)


def _compare(text: bytes, ext: str, key: AgeKey) -> None:
    compare(text, ext, key)


@pytest.mark.slow
@_SETTINGS
@given(doc=st.dictionaries(_keys, _trees, min_size=1, max_size=4),
       ext=st.sampled_from(["yaml", "json"]))
def test_random_documents_match_sops(doc: dict[str, object], ext: str,
                                     age_keys: dict[str, AgeKey]) -> None:
    text = store_for(ext).emit_plain([Branch(doc.items())])
    _compare(text, ext, age_keys["k1"])


@pytest.mark.slow
@_SETTINGS
@given(doc=st.dictionaries(_simple_keys, _simple_trees, min_size=1, max_size=4),
       data=st.data())
def test_random_yaml_comments_match_sops(doc: dict[str, object], data: st.DataObject,
                                         age_keys: dict[str, AgeKey]) -> None:
    lines = store_for("yaml").emit_plain([Branch(doc.items())]).decode().splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines)))
        word = data.draw(st.from_regex(r"[a-z]{1,5}", fullmatch=True))
        if data.draw(st.booleans()) and i < len(lines) and "#" not in lines[i]:
            lines[i] += " # " + word
        else:
            ref = lines[min(i, len(lines) - 1)] if lines else ""
            indent = len(ref) - len(ref.lstrip(" -"))
            lines.insert(i, " " * indent + "# " + word)
    _compare(("\n".join(lines) + "\n").encode(), "yaml", age_keys["k1"])
