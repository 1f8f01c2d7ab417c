"""Secret validation through the API, one case per kube-apiserver rule (field path and wording)."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest

from .conftest import LabHandle


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


# (id, secret fields, expected (field, message start) of the first cause)
CASES: list[tuple[str, dict[str, Any], tuple[str, str]]] = [
    ("key-with-space", {"data": {"bad key": _b64("x")}},
     ("data[bad key]", 'Invalid value: "bad key": a valid config key must consist')),
    ("key-dotdot", {"data": {"..x": _b64("x")}}, ("data[..x]", 'Invalid value: "..x": must not '
                                                  "start with '..'")),
    ("key-dot", {"stringData": {".": "x"}}, ("data[.]", "Invalid value: \".\": must not be '.'")),
    ("too-big", {"data": {"a": base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()}},
     ("data", "Too long: must have at most 1048576 bytes")),
    ("tls-missing-key", {"type": "kubernetes.io/tls", "data": {"tls.crt": ""}},
     ("data[tls.key]", "Required value")),
    ("basic-auth-empty", {"type": "kubernetes.io/basic-auth"},
     ("data[username]", "Required value")),
    ("ssh-auth-empty-key", {"type": "kubernetes.io/ssh-auth", "data": {"ssh-privatekey": ""}},
     ("data[ssh-privatekey]", "Required value")),
    ("dockerconfigjson-not-json", {"type": "kubernetes.io/dockerconfigjson",
                                   "stringData": {".dockerconfigjson": "nope"}},
     ("data[.dockerconfigjson]", 'Invalid value: "<secret contents redacted>"')),
    ("dockercfg-missing", {"type": "kubernetes.io/dockercfg"},
     ("data[.dockercfg]", "Required value")),
    ("sa-token-no-annotation", {"type": "kubernetes.io/service-account-token"},
     ("metadata.annotations[kubernetes.io/service-account.name]", "Required value")),
    ("label-value", {"metadata": {"labels": {"a": "-bad-"}}},
     ("metadata.labels", 'Invalid value: "-bad-": a valid label must be an empty string')),
    ("finalizer-unknown", {"metadata": {"finalizers": ["nope"]}},
     ("metadata.finalizers[0]", 'Unsupported value: "nope"')),
    ("two-controllers", {"metadata": {"ownerReferences": [
        {"apiVersion": "v1", "kind": "X", "name": n, "uid": n, "controller": True}
        for n in ("a", "b")]}},
     ("metadata.ownerReferences", "Invalid value")),
]


@pytest.fixture(scope="module")
def http(lab: LabHandle) -> Iterator[httpx.Client]:
    ca = ssl.create_default_context(cafile=str(lab.dir / "pki" / "ca.crt"))
    with httpx.Client(base_url=lab.lab.server, verify=ca,
                      headers={"Authorization": f"Bearer {lab.lab.token}"}) as c:
        yield c


@pytest.mark.parametrize("fields,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_secret(http: httpx.Client, unique: Callable[[str], str],
                        fields: dict[str, Any], expected: tuple[str, str]) -> None:
    name = unique("v")
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", **fields}
    body["metadata"] = {"name": name, **fields.get("metadata", {})}
    r = http.post("/api/v1/namespaces/default/secrets", json=body)
    assert r.status_code == 422, r.text
    status = r.json()
    assert status["reason"] == "Invalid" and status["details"]["kind"] == "Secret"
    cause = status["details"]["causes"][0]
    assert cause["field"] == expected[0]
    assert cause["message"].startswith(expected[1]), cause["message"]
    assert status["message"].startswith(f'Secret "{name}" is invalid: ')
    assert f"{expected[0]}: {expected[1]}" in status["message"]  # several causes: "[a, b]"
    assert http.get(f"/api/v1/namespaces/default/secrets/{name}").status_code == 404


def test_valid_typed_secrets(http: httpx.Client, unique: Callable[[str], str]) -> None:
    for fields in ({"type": "kubernetes.io/basic-auth", "stringData": {"password": ""}},
                   {"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
                   {"type": "example.com/custom", "data": {"x": _b64("y")}},
                   {"type": "kubernetes.io/service-account-token", "metadata": {
                       "annotations": {"kubernetes.io/service-account.name": "default"}}}):
        body = {**fields, "metadata": {"name": unique("ok"), **fields.get("metadata", {})}}
        r = http.post("/api/v1/namespaces/default/secrets", json=body)
        assert r.status_code == 201, r.text
