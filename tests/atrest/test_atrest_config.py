"""EncryptionConfiguration loading and validation, as kube-apiserver validates it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubecrypt.atrest.config import KeyedProviderConfig, KMSConfig, from_dict, loads
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.errors import ConfigError

K32 = base64.b64encode(b"k" * 32).decode()
K16 = base64.b64encode(b"k" * 16).decode()


def cfg(
    resources: list[dict[str, Any]],
    kind: str = "EncryptionConfiguration",
    api: str = "apiserver.config.k8s.io/v1",
) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "resources": resources}


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        from_dict(doc)
    return info.value.problems


def test_yaml_and_json_and_legacy_kind_load() -> None:
    doc = cfg(
        [
            {
                "resources": ["secrets"],
                "providers": [{"aesgcm": {"keys": [{"name": "a", "secret": K32}]}}],
            }
        ]
    )
    assert loads(json.dumps(doc)).resources[0].resources == ("secrets",)
    legacy = dict(doc, apiVersion="v1", kind="EncryptionConfig")
    p = loads(json.dumps(legacy)).resources[0].providers[0]
    assert isinstance(p, KeyedProviderConfig) and p.keys[0].secret == b"k" * 32


def test_kms_defaults() -> None:
    doc = cfg(
        [
            {
                "resources": ["secrets"],
                "providers": [
                    {"kms": {"name": "a", "endpoint": "unix:///tmp/a.sock"}},
                    {
                        "kms": {
                            "apiVersion": "v2",
                            "name": "b",
                            "endpoint": "unix:///tmp/b.sock",
                            "timeout": "1m30s",
                        }
                    },
                ],
            }
        ]
    )
    c = from_dict(doc)
    v1, v2 = c.resources[0].providers
    assert (
        isinstance(v1, KMSConfig)
        and v1.api_version == "v1"
        and v1.cachesize == 1000
        and v1.timeout == 3.0
    )
    assert isinstance(v2, KMSConfig) and v2.cachesize is None and v2.timeout == 90.0
    assert any("KMSv1" in w for w in c.warnings)


def test_every_problem_reported_with_its_field_path() -> None:
    doc = cfg(
        [
            {
                "resources": ["Secrets", "*"],
                "providers": [
                    {
                        "aesgcm": {
                            "keys": [{"name": "a", "secret": base64.b64encode(b"x" * 20).decode()}]
                        }
                    },
                    {"secretbox": {"keys": [{"name": "b", "secret": K16}]}},
                    {"aescbc": {"keys": [{"secret": "not base64!"}]}},
                    {
                        "kms": {
                            "apiVersion": "v2",
                            "name": "x:y",
                            "endpoint": "tcp://1.2.3.4",
                            "cachesize": 5,
                        }
                    },
                    {"identity": {}, "aesgcm": {"keys": []}},
                    {"pandas": {}},
                ],
            }
        ]
    )
    found = problems(doc)
    text = "\n".join(found)
    assert "resources[0].resources[0]: " in text and "capital letters" in text
    assert "resources[0].resources[1]" in text and "'*.'" in text
    assert "resources[0].providers[0].aesgcm.keys[0].secret" in text and "got 20" in text
    assert (
        "resources[0].providers[1].secretbox.keys[0].secret" in text
        and "expected one of [32]" in text
    )
    assert "resources[0].providers[2].aescbc.keys[0].name" in text
    assert "secrets must be base64 encoded" in text
    assert "must not contain ':'" in text and "unsupported scheme 'tcp'" in text
    assert "cachesize is not supported in v2" in text
    assert "more than one provider specified" in text
    assert 'unknown field "resources[0].providers[5].pandas"' in text
    assert len(found) >= 11
    assert "REDACTED" in text and "not base64!" not in text  # never echo key material


@pytest.mark.parametrize(
    ("resources", "needle"),
    [
        (["secrets", "secrets"], "cannot be specified multiple times"),
        (["secrets", "*."], "overlapping"),
        (["deployments.apps", "*.*"], "overlapping"),
        (["serviceipallocations"], "do not have REST"),
        (["events.events.k8s.io"], "'events'"),
        (["deployments.extensions"], "'extensions'"),
        (["secrets.*"], "across groups"),
    ],
)
def test_resource_rules(resources: list[str], needle: str) -> None:
    doc = cfg([{"resources": resources, "providers": [{"identity": {}}]}])
    assert any(needle in p for p in problems(doc))


def test_masked_by_earlier_wildcard() -> None:
    doc = cfg(
        [
            {"resources": ["*.apps"], "providers": [{"identity": {}}]},
            {"resources": ["deployments.apps"], "providers": [{"identity": {}}]},
        ]
    )
    assert any("masked by earlier rule '*.apps'" in p for p in problems(doc))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "a", "endpoint": "unix:///a", "apiVersion": "v3"}, "only v1 and v2"),
        ({"name": "a", "endpoint": "unix:///a", "timeout": "0s"}, "positive"),
        ({"name": "a", "endpoint": "unix:///a", "cachesize": 0}, "negative to disable"),
        ({"endpoint": "unix:///a"}, "name is a mandatory field"),
        ({"name": "a"}, "endpoint is a mandatory field"),
    ],
)
def test_kms_rules(body: dict[str, Any], needle: str) -> None:
    doc = cfg([{"resources": ["secrets"], "providers": [{"kms": body}]}])
    assert any(needle in p for p in problems(doc))


def test_duplicate_kms_names() -> None:
    doc = cfg(
        [
            {
                "resources": ["secrets"],
                "providers": [
                    {"kms": {"apiVersion": "v2", "name": "a", "endpoint": "unix:///a"}},
                    {"kms": {"apiVersion": "v2", "name": "a", "endpoint": "unix:///b"}},
                ],
            }
        ]
    )
    assert any("duplicate KMS provider name" in p for p in problems(doc))


@pytest.mark.parametrize(
    "text", ["", "   \n", "[1, 2", "- just a list", "apiVersion: v1\nkind: Pod\n"]
)
def test_unusable_files(text: str) -> None:
    with pytest.raises(ConfigError):
        loads(text)


def test_resource_lookup_order() -> None:
    gcm = {"aesgcm": {"keys": [{"name": "g", "secret": K32}]}}
    cbc = {"aescbc": {"keys": [{"name": "c", "secret": K32}]}}
    box = {"secretbox": {"keys": [{"name": "s", "secret": K32}]}}
    ts = TransformerSet(
        from_dict(
            cfg(
                [
                    {"resources": ["secrets"], "providers": [gcm]},
                    {"resources": ["*.apps"], "providers": [cbc]},
                    {"resources": ["secrets"], "providers": [{"identity": {}}]},
                    {"resources": ["*.*"], "providers": [box]},
                ]
            )
        )
    )
    assert [p.type for p in ts.for_resource("secrets").providers] == ["aesgcm", "identity"]
    assert [p.type for p in ts.for_resource("deployments.apps").providers] == ["aescbc"]
    assert [p.type for p in ts.for_resource("configmaps").providers] == ["secretbox"]
    assert [p.type for p in ts.for_resource("widgets.example.com").providers] == ["secretbox"]
    none = TransformerSet(from_dict(cfg([{"resources": ["secrets"], "providers": [gcm]}])))
    assert [p.type for p in none.for_resource("configmaps").providers] == ["identity"]
