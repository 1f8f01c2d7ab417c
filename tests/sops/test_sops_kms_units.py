"""Fast checks of the kms key source's parsing and of the legacy ``sops --encrypt`` rewrite."""

from __future__ import annotations

import pytest

from kubecrypt.cli.sops import legacy_args
from kubecrypt.sops.errors import ConflictingParameters
from kubecrypt.sops.keysources.base import KeySourceError
from kubecrypt.sops.keysources.kms import KMSKey, parse_context

ARN = "arn:aws:kms:eu-west-1:123456789012:key/0000-1111"
ROLE = "arn:aws:iam::123456789012:role/ops"
CMDS = {"encrypt", "decrypt", "rotate", "edit"}


def test_arn_string_forms() -> None:
    keys = KMSKey.from_arn_string(f"{ARN}, {ARN} +{ROLE},", {"b": "2", "a": "1"}, "p")
    assert [(k.arn, k.role) for k in keys] == [(ARN, ""), (ARN, ROLE)]
    assert keys[1].ident() == f"{ARN}+{ROLE}|a:1,b:2|p"  # sops' ToString
    d = keys[1].to_dict()
    assert list(d) == ["arn", "role", "context", "created_at", "enc", "aws_profile"]
    assert list(d["context"]) == ["a", "b"]  # type: ignore[call-overload]
    assert list(KMSKey(ARN).to_dict()) == ["arn", "created_at", "enc", "aws_profile"]
    assert KMSKey.from_dict(d).ident() == keys[1].ident()
    with pytest.raises(KeySourceError, match="is not a KMS key ARN"):
        KMSKey.from_arn("arn:aws:s3:::bucket")


def test_context_parsing() -> None:
    assert parse_context("a:b,c:d") == {"a": "b", "c": "d"}
    assert parse_context("") is None and parse_context({}) is None
    for bad in ("a:b:c", "ab", {"a": 1}):
        with pytest.raises(KeySourceError):
            parse_context(bad)


def test_legacy_rewrite() -> None:
    assert legacy_args(["--encrypt", "--kms", ARN, "f.yaml"], CMDS) == \
        ["encrypt", "--kms", ARN, "f.yaml"]
    assert legacy_args(["--disable-version-check", "-d", "--config", "c", "f"], CMDS) == \
        ["--disable-version-check", "decrypt", "--config", "c", "f"]
    assert legacy_args(["-r", "-i", "--add-kms", ARN, "f"], CMDS) == \
        ["rotate", "-i", "--add-kms", ARN, "f"]
    untouched = ["decrypt", "f.yaml"]
    assert legacy_args(untouched, CMDS) == untouched
    assert legacy_args(["exec-env", "f", "--", "sh", "-e"], CMDS) == \
        ["exec-env", "f", "--", "sh", "-e"]
    with pytest.raises(ConflictingParameters):
        legacy_args(["-e", "-d", "f"], CMDS)


def test_gcp_and_azure_entries_parse_and_write_in_sops_order() -> None:
    from kubecrypt.sops.keysources.azure_kv import AzureKVKey
    from kubecrypt.sops.keysources.gcp_kms import GCPKMSKey
    from kubecrypt.sops.metadata import key_from_dict

    rid = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
    g = key_from_dict("gcp_kms", {"resource_id": rid, "created_at": "T", "enc": "e"})
    assert isinstance(g, GCPKMSKey) and g.ident() == rid
    assert list(g.to_dict()) == ["resource_id", "created_at", "enc"]
    assert [k.resource_id for k in GCPKMSKey.from_ids(f"{rid}, {rid} ,")] == [rid, rid]
    a = key_from_dict("azure_kv", {"vault_url": "https://v", "name": "n", "version": "1",
                                   "created_at": "T", "enc": "AA+/="})
    assert isinstance(a, AzureKVKey) and a.ident() == "https://v/keys/n/1"
    assert list(a.to_dict()) == ["vault_url", "name", "version", "created_at", "enc"]
    with pytest.raises(KeySourceError, match="base64"):  # standard b64 / padding: not sops'
        a.decrypt()
    with pytest.raises(KeySourceError, match="not an Azure Key Vault key URL"):
        AzureKVKey.from_url("https://v/secrets/x/1")
    assert AzureKVKey.from_url(" https://v.vault.azure.net/keys/n/abc ").ident() == \
        "https://v.vault.azure.net/keys/n/abc"
