"""Seal then unseal for every scope and key size; what must not open does not, with upstream's
message naming the items (sorted)."""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import pytest

from kubecrypt.sealed.errors import SealedInputError, UnsealError
from kubecrypt.sealed.keys import KeyRegistry, certificate_pem, private_key_pem
from kubecrypt.sealed.scope import CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION, Scope
from kubecrypt.sealed.seal import SealOptions, seal_secret
from kubecrypt.sealed.unseal import unseal

SECRET = {
    "apiVersion": "v1", "kind": "Secret",
    "metadata": {"name": "db", "namespace": "apps", "labels": {"app": "db"}},
    "type": "Opaque",
    "data": {"password": base64.b64encode(b"hunter2").decode(), "empty": ""},
    "stringData": {"user": "admin", "config.yaml": "a: 1\nb: [x]\n"},
}
PLAIN = {"password": b"hunter2", "empty": b"", "user": b"admin", "config.yaml": b"a: 1\nb: [x]\n"}


def _data(secret: dict) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in secret["data"].items()}


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
@pytest.mark.parametrize("scope", list(Scope), ids=lambda s: s.value)
def test_seal_unseal_every_scope_and_size(generated_keys, bits: int, scope: Scope):
    key = generated_keys[bits]
    sealed = seal_secret(SECRET, key.private_key.public_key(), SealOptions(scope=scope))
    prefix = {2048: "AQ", 3072: "AY", 4096: "Ag"}[bits]
    assert all(v.startswith(prefix) for v in sealed["spec"]["encryptedData"].values())
    secret = unseal(sealed, KeyRegistry([key]))
    assert _data(secret) == PLAIN
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"] == {"app": "db"}
    # Other keys never open it, even all together.
    others = KeyRegistry([k for b, k in generated_keys.items() if b != bits])
    with pytest.raises(UnsealError, match=r"^no key could decrypt secret \(config.yaml, empty, "
                                          r"password, user\)$"):
        unseal(sealed, others)


def _moved(sealed: dict, **meta) -> dict:
    out = copy.deepcopy(sealed)
    out["metadata"].update(meta)
    return out


ITEMS = r"\(config.yaml, empty, password, user\)$"


def test_strict_rejects_other_name_or_namespace(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(), SealOptions())
    registry = KeyRegistry([key])
    for meta in ({"name": "db2"}, {"namespace": "other"}):
        with pytest.raises(UnsealError, match="^no key could decrypt secret " + ITEMS):
            unseal(_moved(sealed, **meta), registry)


def test_namespace_wide_allows_rename_not_move(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(),
                         SealOptions(scope=Scope.NAMESPACE_WIDE))
    registry = KeyRegistry([key])
    assert _data(unseal(_moved(sealed, name="renamed"), registry)) == PLAIN
    with pytest.raises(UnsealError, match=ITEMS):
        unseal(_moved(sealed, namespace="other"), registry)


def test_cluster_wide_opens_anywhere(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(),
                         SealOptions(scope=Scope.CLUSTER_WIDE))
    assert sealed["metadata"]["annotations"] == {CLUSTER_WIDE_ANNOTATION: "true"}
    moved = _moved(sealed, name="x", namespace="y")
    assert _data(unseal(moved, KeyRegistry([key]))) == PLAIN


def test_scope_comes_from_outer_metadata_not_template(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(),
                         SealOptions(scope=Scope.NAMESPACE_WIDE))
    template_annotations = sealed["spec"]["template"]["metadata"]["annotations"]
    assert template_annotations == {NAMESPACE_WIDE_ANNOTATION: "true"}
    stripped = copy.deepcopy(sealed)
    del stripped["metadata"]["annotations"]  # now strict: the label changes, nothing opens
    with pytest.raises(UnsealError, match=ITEMS):
        unseal(stripped, KeyRegistry([key]))


def test_wrong_scope_annotation_rejected(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(), SealOptions())
    sealed["metadata"]["annotations"] = {NAMESPACE_WIDE_ANNOTATION: "true"}
    with pytest.raises(UnsealError, match=ITEMS):
        unseal(sealed, KeyRegistry([key]))


def test_annotation_must_be_exactly_true(generated_keys):
    key = generated_keys[2048]
    doc = copy.deepcopy(SECRET)
    doc["metadata"]["annotations"] = {CLUSTER_WIDE_ANNOTATION: "True"}
    sealed = seal_secret(doc, key.private_key.public_key(), SealOptions())
    assert "annotations" not in sealed["metadata"]  # "True" is not "true": strict
    assert _data(unseal(sealed, KeyRegistry([key]))) == PLAIN


def test_scope_strict_does_not_override_annotation(generated_keys):
    key = generated_keys[2048]
    doc = copy.deepcopy(SECRET)
    doc["metadata"]["annotations"] = {NAMESPACE_WIDE_ANNOTATION: "true"}
    sealed = seal_secret(doc, key.private_key.public_key(), SealOptions(scope=Scope.STRICT))
    assert sealed["metadata"]["annotations"] == {NAMESPACE_WIDE_ANNOTATION: "true"}


def test_registry_tries_every_key_newest_first(generated_keys):
    old, new = generated_keys[2048], generated_keys[3072]
    registry = KeyRegistry([old, new])
    newest = registry.newest()
    assert newest is not None
    assert registry.private_keys()[0] is newest.private_key
    for key in (old, new):
        sealed = seal_secret(SECRET, key.private_key.public_key(), SealOptions())
        assert _data(unseal(sealed, registry)) == PLAIN


def test_tampered_item_names_only_that_item(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(), SealOptions())
    value = bytearray(base64.b64decode(sealed["spec"]["encryptedData"]["user"]))
    value[-1] ^= 1
    sealed["spec"]["encryptedData"]["user"] = base64.b64encode(bytes(value)).decode()
    sealed["spec"]["encryptedData"]["bad"] = "%%%"
    with pytest.raises(UnsealError) as err:
        unseal(sealed, KeyRegistry([key]))
    assert str(err.value) == ("illegal base64 data at input byte 0 (bad)\n"
                              "no key could decrypt secret (user)")


def test_skip_owner_references_and_uid(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(), SealOptions())
    sealed["metadata"]["uid"] = "1234"
    secret = unseal(sealed, KeyRegistry([key]))
    assert secret["metadata"]["ownerReferences"] == [{
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "db",
        "uid": "1234", "controller": True}]
    sealed["spec"]["template"]["metadata"]["annotations"] = {
        "sealedsecrets.bitnami.com/skip-set-owner-references": "true"}
    assert "ownerReferences" not in unseal(sealed, KeyRegistry([key]))["metadata"]


def test_template_data_overrides_items(generated_keys):
    key = generated_keys[2048]
    sealed = seal_secret(SECRET, key.private_key.public_key(), SealOptions())
    sealed["spec"]["template"]["data"] = {
        "password": "{{ .password | upper }}",
        "dsn": 'postgres://{{ .user }}:{{ index . "password" }}@db/{{ printf "%s" "app" }}',
    }
    data = _data(unseal(sealed, KeyRegistry([key])))
    assert data["password"] == b"HUNTER2"
    assert data["dsn"] == b"postgres://admin:hunter2@db/app"
    sealed["spec"]["template"]["data"] = {"x": "{{ env \"HOME\" }}"}
    with pytest.raises(UnsealError, match=r'function "env" not defined \(x\)$'):
        unseal(sealed, KeyRegistry([key]))


def test_cli_roundtrip_4096_all_scopes(generated_keys, run_kubecrypt, tmp_path: Path):
    key = generated_keys[4096]
    cert, pem = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(certificate_pem(key.certificate))
    pem.write_bytes(private_key_pem(key.private_key))
    secret = (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: n\n"
              b"stringData:\n  k: v\n")
    for scope in ("strict", "namespace-wide", "cluster-wide"):
        sealed = run_kubecrypt("seal", "--cert", str(cert), "--scope", scope, "-o", "yaml",
                               input=secret)
        assert sealed.returncode == 0, sealed.stderr.decode()
        opened = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key", str(pem),
                               "-o", "json", input=sealed.stdout)
        assert opened.returncode == 0, opened.stderr.decode()
        assert b'"k": "dg=="' in opened.stdout


def test_seal_refuses_without_name(generated_keys):
    doc = copy.deepcopy(SECRET)
    del doc["metadata"]["name"]
    with pytest.raises(SealedInputError, match=r"^missing metadata\.name in input Secret$"):
        seal_secret(doc, generated_keys[2048].private_key.public_key(), SealOptions())
