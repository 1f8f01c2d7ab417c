"""Recovery unseal, the legacy ``spec.data`` form and offline re-encryption, against upstream's
vectors; key backups in both formats."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.errors import UnsealError
from kubecrypt.sealed.keys import KeyRegistry, keys_from_file
from kubecrypt.sealed.provenance import pem_fingerprint, sealed_with, stamp
from kubecrypt.sealed.unseal import ERR_DEPRECATED_DATA, unseal


def _key_args(vector: dict[str, Any], sealed_dir) -> list[str]:
    files = vector.get("key_files") or [f"keys/{k}.key.pem" for k in vector["keys"]]
    return ["--recovery-private-key", ",".join(str(sealed_dir / f) for f in files)]


def test_recovery_vector(recovery_vector, sealed_dir, run_kubecrypt):
    v = recovery_vector
    fmt = v["kubeseal_args"][v["kubeseal_args"].index("-o") + 1]
    result = run_kubecrypt("seal", "--recovery-unseal", *_key_args(v, sealed_dir), "-o", fmt,
                           input=v["input"].encode())
    if v["expect"]["outcome"] == "ok":
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout.decode() == v["output"]
        return
    assert result.returncode == 1
    assert result.stdout == b""
    expected = f"{v['expect']['error_base']} ({', '.join(sorted(v['expect']['error_items']))})"
    assert result.stderr.decode() == f"error: {expected}\n"


def test_legacy_vector(legacy_vector, sealed_dir, vector_keys, run_kubecrypt):
    v = legacy_vector
    sealed = load_documents(v["input"].encode())[0]
    secret = unseal(sealed, [vector_keys[k] for k in v["keys"]])
    assert secret["data"] == v["expect"]["secret_data"]
    assert secret["metadata"]["name"] == sealed["metadata"]["name"]
    assert secret["metadata"]["namespace"] == sealed["metadata"]["namespace"]
    with pytest.raises(UnsealError, match=f"^{ERR_DEPRECATED_DATA}$"):
        unseal(sealed, [vector_keys[k] for k in v["keys"]], accept_deprecated_v1_data=False)
    result = run_kubecrypt("seal", "--recovery-unseal", *_key_args(v, sealed_dir),
                           input=v["input"].encode())
    assert result.returncode == 1
    assert result.stderr.decode() == f"error: {v['expect']['recovery_unseal_error']}\n"


def test_legacy_with_encrypted_data_is_refused(legacy_vector, vector_keys):
    sealed = load_documents(legacy_vector["input"].encode())[0]
    sealed["spec"]["encryptedData"] = {"x": "AAAA"}
    with pytest.raises(UnsealError, match="at the same time"):
        unseal(sealed, [vector_keys[k] for k in legacy_vector["keys"]])


def test_backup_single_json(sealed_dir, key_manifest):
    keys = keys_from_file((sealed_dir / "fixtures" / "backup-single.json").read_bytes(), "b")
    assert [k.fingerprint for k in keys] == [key_manifest["rsa4096-b"]["fingerprint"]]
    assert keys[0].active and keys[0].name == "sealed-secrets-keyklmno"


def test_backup_list_yaml(sealed_dir, key_manifest):
    keys = keys_from_file((sealed_dir / "fixtures" / "backup-list.yaml").read_bytes(), "b")
    assert {k.fingerprint for k in keys} == {key_manifest[i]["fingerprint"]
                                             for i in ("rsa2048-a", "rsa4096-a")}
    registry = KeyRegistry(keys)
    newest = registry.newest()
    assert newest is not None and newest.fingerprint == key_manifest["rsa4096-a"]["fingerprint"]


def test_pkcs8_key_file(vector_keys, tmp_path, sealed_dir):
    from cryptography.hazmat.primitives import serialization

    pem = vector_keys["rsa2048-a"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    assert keys_from_file(pem, "k")[0].fingerprint == keys_from_file(
        (sealed_dir / "keys" / "rsa2048-a.key.pem").read_bytes(), "k")[0].fingerprint


def test_key_secret_without_tls_key(run_kubecrypt, tmp_path, sealed_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ndata: {tls.crt: eA==}\n")
    sealed = (sealed_dir / "vectors" / "unseal-renamed.json").read_text()
    result = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key", str(bad),
                           input=json.loads(sealed)["input"].encode())
    assert result.returncode == 1
    assert result.stderr.decode().startswith("error: secret must contain a 'tls.data' key")


def _reencrypt(run_kubecrypt, sealed_dir, v, *extra: str):
    keys = ",".join(str(sealed_dir / "keys" / f"{k}.key.pem") for k in v["controller_keys"])
    cert = sealed_dir / "keys" / f"{v['newest_key']}.crt.pem"
    fmt = v["kubeseal_args"][v["kubeseal_args"].index("-o") + 1]
    result = run_kubecrypt("seal", "--re-encrypt", "--recovery-private-key", keys,
                           "--cert", str(cert), "-o", fmt, *extra, input=v["input"].encode())
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_reencrypt_vector_like_upstream(reencrypt_vector, sealed_dir, run_kubecrypt, tools):
    """--flatten-template reproduces upstream's /v1/rotate result exactly."""
    v = reencrypt_vector
    out = _reencrypt(run_kubecrypt, sealed_dir, v, "--flatten-template", "--no-provenance")
    assert tools.mask(out) == v["output_skeleton"]
    assert tools.unseal_outputs(v, out) == v["unseal"]["outputs"]


def test_reencrypt_vector_offline(reencrypt_vector, sealed_dir, run_kubecrypt, tools):
    """The default keeps the template; the Secret's data are upstream's all the same."""
    v = reencrypt_vector
    out = _reencrypt(run_kubecrypt, sealed_dir, v)
    original = load_documents(v["input"].encode())[0]
    ours = load_documents(out.encode())[0]
    assert ours["spec"].get("template") == original["spec"].get("template")
    # The only change to the metadata: the new certificate's provenance annotation.
    cert = (sealed_dir / "keys" / f"{v['newest_key']}.crt.pem").read_bytes()
    assert sealed_with(ours) == pem_fingerprint(cert)
    stamp(ours, None)
    assert ours["metadata"] == original["metadata"]
    out = _reencrypt(run_kubecrypt, sealed_dir, v, "--no-provenance")
    template = original["spec"].get("template") or {}
    if not template.get("data") and template.get("metadata") == original["metadata"]:
        assert tools.mask(out) == v["output_skeleton"]  # nothing to flatten: identical
    opened = [load_documents(t.encode())[0] for t in tools.unseal_outputs(v, out)]
    upstream = [load_documents(t.encode())[0] for t in v["unseal"]["outputs"]]
    assert [d.get("data") for d in opened] == [d.get("data") for d in upstream]


def test_rotate_like_controller_flattens(sealed_dir, vector_keys):
    from kubecrypt.sealed.seal import rotate_like_controller

    recovery = json.loads((sealed_dir / "vectors" / "unseal-template-data.json").read_text())
    original = load_documents(recovery["input"].encode())[0]
    registry = KeyRegistry(keys_from_file(
        (sealed_dir / "keys" / "rsa4096-a.key.pem").read_bytes(), "k"))
    rotated = rotate_like_controller(original, registry, vector_keys["rsa2048-b"].public_key())
    assert "data" not in rotated["spec"]["template"]
    assert "labels" not in rotated["spec"]["template"]["metadata"]  # lost, as upstream
    assert sorted(rotated["spec"]["encryptedData"]) == ["pass", "upper", "url", "user"]
    secret = unseal(rotated, [vector_keys["rsa2048-b"]])
    assert secret["data"] == load_documents(recovery["output"].encode())[0]["data"]


def test_reencrypt_keeps_template_metadata_and_data(sealed_dir, vector_keys, run_kubecrypt):
    """Deliberate deviation: upstream's /v1/rotate flattens template.data and drops template
    labels; offline re-encryption keeps the template exactly."""
    recovery = json.loads((sealed_dir / "vectors" / "unseal-template-data.json").read_text())
    original = load_documents(recovery["input"].encode())[0]
    result = run_kubecrypt(
        "seal", "--re-encrypt", "--recovery-private-key",
        str(sealed_dir / "keys" / "rsa4096-a.key.pem"),
        "--cert", str(sealed_dir / "keys" / "rsa2048-b.crt.pem"), "-o", "yaml",
        input=recovery["input"].encode())
    assert result.returncode == 0, result.stderr.decode()
    resealed = load_documents(result.stdout)[0]
    assert resealed["spec"]["template"] == original["spec"]["template"]
    assert resealed["spec"]["encryptedData"].keys() == original["spec"]["encryptedData"].keys()
    assert resealed["spec"]["encryptedData"] != original["spec"]["encryptedData"]
    with pytest.raises(UnsealError):
        unseal(resealed, [vector_keys["rsa4096-a"]])
    secret = unseal(resealed, [vector_keys["rsa2048-b"]])
    expected = load_documents(recovery["output"].encode())[0]
    assert secret == expected
    assert base64.b64decode(secret["data"]["upper"]) == b"ADMIN"
