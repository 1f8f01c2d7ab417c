"""``kubecrypt sealed keys backup-status``: the cluster's keys against a backup directory, and
the SealedSecrets only a key missing from the backup opens (offline, --cluster-keys-dir)."""

from __future__ import annotations

import json

import pytest

from kubecrypt.sealed.keystore import KeyStore
from kubecrypt.sealed.kubeseal import render_sealed
from kubecrypt.sealed.seal import SealOptions, seal_secret

pytestmark = pytest.mark.slow  # each case runs the CLI in subprocesses


def _secret(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "ns"},
            "stringData": {"k": f"value-of-{name}"}}


def test_backup_status(run_kubecrypt, tmp_path):
    cluster, backup, sealed = tmp_path / "cluster", tmp_path / "backup", tmp_path / "sealed"
    gen = ("sealed", "keys", "generate", "--key-size", "2048", "--keys-dir", str(cluster))
    assert run_kubecrypt(*gen).returncode == 0
    backup.mkdir()
    export = run_kubecrypt("sealed", "keys", "export", "--keys-dir", str(cluster), "--out",
                           str(backup / "backup.yaml"))
    assert export.returncode == 0, export.stderr
    (old,) = KeyStore(cluster).load()
    assert run_kubecrypt(*gen).returncode == 0  # renewed after the backup
    # Not by not_before: both keys can be made within the same second.
    (new,) = [k for k in KeyStore(cluster).load() if k.fingerprint != old.fingerprint]
    sealed.mkdir()
    for key, name in ((old, "early"), (new, "late")):
        (sealed / f"{name}.yaml").write_text(render_sealed(
            seal_secret(_secret(name), key.private_key.public_key(), SealOptions()), "yaml"))

    args = ("sealed", "keys", "backup-status", "--keys-dir", str(backup), "--cluster-keys-dir",
            str(cluster), "--dir", str(sealed))
    result = run_kubecrypt(*args, "-o", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["missing"] == [new.fingerprint]
    assert {k["fingerprint"]: k["backed_up"] for k in report["keys"]} == {
        old.fingerprint: True, new.fingerprint: False}
    assert report["only_missing_keys_open"] == [
        {"file": str(sealed / "late.yaml"), "namespace": "ns", "name": "late"}]
    assert result.stderr.decode() == (
        f"error: 1 of the cluster's 2 keys are not in the backup {backup}: back them up now "
        "(kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key "
        "-o yaml > backup.yaml)\n")
    table = run_kubecrypt(*args)
    assert "only a key missing from the backup opens ns/late" in table.stdout.decode()
    assert b"value-of" not in result.stdout + table.stdout

    # Back up again: complete, exit 0, nothing lost.
    again = run_kubecrypt("sealed", "keys", "export", "--keys-dir", str(cluster), "--out",
                          str(backup / "backup-2.yaml"))
    assert again.returncode == 0
    ok = run_kubecrypt(*args, "-o", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["missing"] == []
    assert json.loads(ok.stdout)["only_missing_keys_open"] == []


def test_backup_status_bad_input(run_kubecrypt, tmp_path):
    result = run_kubecrypt("sealed", "keys", "backup-status", "--keys-dir", str(tmp_path / "no"),
                           "--cluster-keys-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"error: {tmp_path / 'no'} is not a directory; give the --keys-dir backup directory\n")
    (tmp_path / "junk.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    result = run_kubecrypt("sealed", "keys", "backup-status", "--keys-dir", str(tmp_path),
                           "--cluster-keys-dir", str(tmp_path))
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    assert "not a key Secret" in result.stderr.decode()
