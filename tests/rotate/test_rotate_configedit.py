"""The three edits on the EncryptionConfiguration document: other entries and providers kept,
each edit idempotent, and the phase read back from the document alone."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from kubecrypt.atrest.config import from_dict
from kubecrypt.rotate import configedit as ce
from kubecrypt.rotate.errors import RotateError

K = base64.b64encode(b"k" * 32).decode()


def doc() -> dict[str, Any]:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [
                {"resources": ["secrets"], "providers": [
                    {"aescbc": {"keys": [{"name": "a1", "secret": K}, {"name": "a0", "secret": K}]}},
                    {"identity": {}}]},
                {"resources": ["leases.coordination.k8s.io"], "providers": [
                    {"kms": {"apiVersion": "v2", "name": "k", "endpoint": "unix:///tmp/x.sock"}},
                    {"identity": {}}]},
                {"resources": ["configmaps"], "providers": [
                    {"secretbox": {"keys": [{"name": "s1", "secret": K}]}}, {"identity": {}}]},
            ]}


def names(d: dict[str, Any], i: int) -> list[tuple[str, list[str]]]:
    out = []
    for p in d["resources"][i]["providers"]:
        kind = next(iter(p))
        out.append((kind, [k["name"] for k in (p[kind] or {}).get("keys") or []]))
    return out


@pytest.mark.parametrize("provider", [None, "aesgcm"])
def test_edits_walk_every_phase(provider: str | None) -> None:
    d = doc()
    plan = ce.plan(d, provider, "new")
    assert [(e.index, e.old_provider, e.old_key, e.new_provider) for e in plan] == [
        (0, "aescbc", "a1", provider or "aescbc"), (2, "secretbox", "s1", provider or "secretbox")]
    for edit, phase in ((ce.add, ce.ADDED), (ce.promote, ce.PROMOTED), (ce.retire, ce.RETIRED)):
        for e in plan:
            d = edit(d, e)
            assert edit(d, e) == d  # idempotent
            assert ce.phase(d, e) == phase
        from_dict(d)  # every intermediate document is one kube-apiserver loads
    assert d["resources"][1] == doc()["resources"][1]  # the KMS entry is untouched
    if provider is None:
        assert names(d, 0) == [("aescbc", ["new", "a0"]), ("identity", [])]
        assert names(d, 2) == [("secretbox", ["new"]), ("identity", [])]
    else:
        assert names(d, 0) == [("aesgcm", ["new"]), ("aescbc", ["a0"]), ("identity", [])]
        assert names(d, 2) == [("aesgcm", ["new"]), ("identity", [])]
    secret = ce.key_secret(d, plan[0], "new", plan[0].new_provider)
    assert len(secret) == 32 and secret != ce.key_secret(d, plan[1], "new", plan[1].new_provider)


def test_hand_edits_are_detected() -> None:
    d = doc()
    (e, _) = ce.plan(d, None, "new")
    added = ce.add(d, e)
    broken = copy.deepcopy(added)
    broken["resources"][0]["providers"][0]["aescbc"]["keys"].reverse()
    with pytest.raises(RotateError, match="edited by hand"):
        ce.phase(broken, e)
    with pytest.raises(RotateError, match="already has a key named a0"):
        ce.plan(d, None, "a0")
