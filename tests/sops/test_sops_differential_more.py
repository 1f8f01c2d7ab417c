"""File shapes and command forms the random generators of ``test_sops_differential_*.py`` do not
reach (tags, directives, complex keys, symlinks, ``.sops.yaml`` forms, recipient lists, tree
paths), each run against the real sops 3.11 both ways."""

from __future__ import annotations

import pytest

from .conftest import AgeKey
from .sopsdiff import compare

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
