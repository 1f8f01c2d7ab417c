"""``kubecrypt sealed keys``: keys like the controller's, backups kubeseal reads, 0600 files."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.sealed.crypto import b64decode_std
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.keys import KEY_LABEL

SECRET = b"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\nstringData: {k: v}\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_generate_like_the_controller(run_kubecrypt, tmp_path, sealed_dir):
    keys_dir = tmp_path / "keys"
    result = run_kubecrypt("sealed", "keys", "generate", "--keys-dir", str(keys_dir))
    assert result.returncode == 0, result.stderr.decode()
    files = list(keys_dir.iterdir())
    assert len(files) == 1 and _mode(files[0]) == 0o600 and _mode(keys_dir) == 0o700
    secret = load_documents(files[0].read_bytes())[0]
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["labels"] == {KEY_LABEL: "active"}
    assert secret["metadata"]["generateName"] == "sealed-secrets-key"
    assert secret["metadata"]["name"].startswith("sealed-secrets-key")
    assert secret["metadata"]["namespace"] == "kube-system"
    assert b64decode_std(secret["data"]["tls.key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    cert = x509.load_pem_x509_certificate(b64decode_std(secret["data"]["tls.crt"]))
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 4096
    ttl = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert ttl == dt.timedelta(hours=87600)
    # Key Usage critical = encipherOnly alone, DER exactly as Go writes it (and as upstream's
    # certificates carry it; cryptography itself refuses to parse that lone bit).
    key_usage_der = bytes.fromhex("0603551d0f0101ff040403020001")
    upstream_pem = (sealed_dir / "keys" / "rsa4096-a.crt.pem").read_bytes()
    upstream = x509.load_pem_x509_certificate(upstream_pem)
    assert key_usage_der in upstream.tbs_certificate_bytes
    assert key_usage_der in cert.tbs_certificate_bytes
    basic_constraints_der = bytes.fromhex("0603551d130101ff040530030101ff")
    assert basic_constraints_der in cert.tbs_certificate_bytes
    assert bytes.fromhex("0603551d0e") in cert.tbs_certificate_bytes  # Subject Key Identifier
    assert cert.subject == cert.issuer and len(cert.subject) == 0
    # The printed certificate is this key's.
    printed = run_kubecrypt("sealed", "keys", "cert", "--keys-dir", str(keys_dir))
    assert x509.load_pem_x509_certificate(printed.stdout) == cert


@pytest.mark.slow
def test_backup_restore_cycle(run_kubecrypt, tmp_path, sealed_dir):
    keys_dir = str(tmp_path / "keys")
    gen = run_kubecrypt("sealed", "keys", "generate", "--keys-dir", keys_dir, "--key-size", "2048",
                        "--key-ttl", "720h", "--my-cn", "my-cluster")
    assert gen.returncode == 0, gen.stderr.decode()
    imported = run_kubecrypt("sealed", "keys", "import", "--keys-dir", keys_dir,
                             str(sealed_dir / "fixtures" / "backup-list.yaml"))
    assert imported.returncode == 0, imported.stderr.decode()
    again = run_kubecrypt("sealed", "keys", "import", "--keys-dir", keys_dir,
                          str(sealed_dir / "fixtures" / "backup-list.yaml"))
    assert again.returncode == 0 and again.stderr.decode().count("already present") == 2

    listed = json.loads(run_kubecrypt("sealed", "keys", "list", "--keys-dir", keys_dir,
                                      "-o", "json").stdout)
    assert [row["bits"] for row in listed] == [2048, 4096, 2048]  # newest first
    assert listed[0]["newest"] and all(row["active"] for row in listed)
    table = run_kubecrypt("sealed", "keys", "list", "--keys-dir", keys_dir).stdout.decode()
    assert "FINGERPRINT" in table and listed[0]["fingerprint"] in table

    cert = tmp_path / "cert.pem"
    cert.write_bytes(run_kubecrypt("sealed", "keys", "cert", "--keys-dir", keys_dir).stdout)
    assert b"my-cluster" not in cert.read_bytes()  # PEM is base64; check the CN properly:
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert parsed.subject.rfc4514_string() == "CN=my-cluster"
    sealed = run_kubecrypt("seal", "--cert", str(cert), input=SECRET)
    assert sealed.returncode == 0, sealed.stderr.decode()

    for fmt, out_fmt in (("list", "yaml"), ("secrets", "json")):
        backup = tmp_path / f"backup-{fmt}.{out_fmt}"
        exported = run_kubecrypt("sealed", "keys", "export", "--keys-dir", keys_dir,
                                 "--backup-format", fmt, "-o", out_fmt, "--out", str(backup))
        assert exported.returncode == 0, exported.stderr.decode()
        assert _mode(backup) == 0o600
        opened = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key",
                               str(backup), input=sealed.stdout)
        assert opened.returncode == 0, opened.stderr.decode()
        assert json.loads(opened.stdout)["data"] == {"k": "dg=="}
        restored = str(tmp_path / f"restored-{fmt}-{out_fmt}")
        run_kubecrypt("sealed", "keys", "import", "--keys-dir", restored, str(backup))
        relisted = json.loads(run_kubecrypt("sealed", "keys", "list", "--keys-dir", restored,
                                            "-o", "json").stdout)
        assert [r["fingerprint"] for r in relisted] == [r["fingerprint"] for r in listed]
    list_backup = load_documents((tmp_path / "backup-list.yaml").read_bytes())[0]
    assert list_backup["kind"] == "List" and len(list_backup["items"]) == 3


def test_import_bare_pem_gets_a_certificate(run_kubecrypt, tmp_path, sealed_dir):
    keys_dir = str(tmp_path / "keys")
    result = run_kubecrypt("sealed", "keys", "import", "--keys-dir", keys_dir,
                           str(sealed_dir / "keys" / "rsa3072-a.key.pem"))
    assert result.returncode == 0, result.stderr.decode()
    cert = run_kubecrypt("sealed", "keys", "cert", "--keys-dir", keys_dir)
    public_key = x509.load_pem_x509_certificate(cert.stdout).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 3072


def test_empty_key_dir_is_a_clear_error(run_kubecrypt, tmp_path):
    for args in (("cert",), ("export",)):
        result = run_kubecrypt("sealed", "keys", *args, "--keys-dir", str(tmp_path / "none"))
        assert result.returncode == 1
        assert result.stderr.decode().startswith("error: no ")
        assert result.stderr.decode().count("\n") == 1
