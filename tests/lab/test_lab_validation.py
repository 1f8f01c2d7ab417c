"""Secret validation through the API, one case per kube-apiserver rule (field path and wording)."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text("ab=/.-Z ", max_size=6),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text("abk.-", max_size=4), c,
                                                        max_size=3),
    max_leaves=8)
_secret_shapes = st.fixed_dictionaries({}, optional={
    "metadata": st.fixed_dictionaries({"name": st.text("abc-.Z", min_size=1, max_size=8)},
                                      optional={"labels": _json_values,
                                                "finalizers": _json_values,
                                                "ownerReferences": _json_values}),
    "data": _json_values, "stringData": _json_values, "type": _json_values,
    "immutable": _json_values, "kind": st.sampled_from(["Secret", "ConfigMap"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_secret_shapes)
def test_any_body_is_answered_never_a_500(http: httpx.Client, body: dict[str, Any]) -> None:
    r = http.post("/api/v1/namespaces/kube-public/secrets", json=body)
    assert r.status_code in (201, 400, 409, 422), r.text
    assert r.json()["kind"] in ("Secret", "Status")
    if r.status_code == 201:
        http.delete(f"/api/v1/namespaces/kube-public/secrets/{r.json()['metadata']['name']}")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(patch=st.dictionaries(st.sampled_from(["metadata", "data", "stringData", "type",
                                              "immutable", "status", "spec"]), _json_values,
                             max_size=3),
       kind=st.sampled_from(["secrets", "sealedsecrets", "sealedsecrets/status", "leases"]),
       patch_type=st.sampled_from(["merge-patch", "strategic-merge-patch", "apply-patch+yaml",
                                   "json-patch"]))
def test_any_patch_is_answered_never_a_500(http: httpx.Client, patch: dict[str, Any],
                                           kind: str, patch_type: str) -> None:
    base = {"secrets": "/api/v1/namespaces/kube-public/secrets",
            "leases": "/apis/coordination.k8s.io/v1/namespaces/kube-public/leases"}.get(
        kind, "/apis/bitnami.com/v1alpha1/namespaces/kube-public/sealedsecrets")
    http.post(base, json={"metadata": {"name": "fuzzed"}})  # 201 or 409: either is fine
    body: Any = patch
    if patch_type == "json-patch":  # the same values as operations on their paths
        body = [{"op": "add", "path": f"/{k}", "value": v} for k, v in patch.items()]
    content_type = f"application/{patch_type}" + ("" if "yaml" in patch_type else "+json")
    r = http.patch(f"{base}/fuzzed" + ("/status" if kind.endswith("/status") else ""),
                   json=body, headers={"Content-Type": content_type})
    assert r.status_code in (200, 201, 400, 409, 415, 422), r.text
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    assert http.get(base, headers={"Accept": table}).status_code == 200


_DEEP = "[" * 5000 + "]" * 5000
_BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
# (id, content type, body): each must be a 4xx Status, never a 500 (issue 13 item 15).
_HOSTILE = [
    ("deep-json", "application/json", '{"metadata": {"name": "x", "labels": ' + _DEEP + "}}"),
    ("deep-json-150", "application/json",
     '{"metadata": {"name": "x"}, "data": {"a": ' + "[" * 150 + "]" * 150 + "}}"),
    ("deep-yaml", "application/yaml", "metadata:\n  name: x\n  labels: " + _DEEP + "\n"),
    ("alias-bomb", "application/yaml", _BOMB),
    ("control-char", "application/yaml", "metadata:\n  name: x\x01\n"),
    ("not-utf8-json", "application/json", b'{"metadata": {"name": "\xff"}}'),
    ("not-utf8-yaml", "application/yaml", b"metadata:\n  name: \xff\n"),
    ("deep-merge-patch", "application/merge-patch+json", '{"data": ' + _DEEP + "}"),
]


@pytest.mark.parametrize("content_type,body", [c[1:] for c in _HOSTILE],
                         ids=[c[0] for c in _HOSTILE])
def test_hostile_bodies_are_4xx_never_500(http: httpx.Client, content_type: str,
                                          body: str | bytes) -> None:
    path = "/api/v1/namespaces/kube-public/secrets"
    method = "PATCH" if "patch" in content_type else "POST"
    if method == "PATCH":
        http.post(path, json={"metadata": {"name": "hostile"}})
        path += "/hostile"
    r = http.request(method, path, content=body, headers={"Content-Type": content_type})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    status = r.json()
    assert status["kind"] == "Status" and "Internal error" not in status["message"]


def test_hostile_dockerconfigjson_and_continue_token_are_4xx(http: httpx.Client) -> None:
    deep = base64.b64encode(("[" * 5000 + "]" * 5000).encode()).decode()
    r = http.post("/api/v1/namespaces/kube-public/secrets", json={
        "metadata": {"name": "dockerdeep"}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": deep}})
    assert r.status_code == 422, r.text[:500]
    token = base64.urlsafe_b64encode(("[" * 5000 + "]" * 5000).encode()).decode()
    r = http.get("/api/v1/namespaces/kube-public/secrets", params={"limit": 1,
                                                                   "continue": token})
    assert r.status_code == 400, r.text[:500]
