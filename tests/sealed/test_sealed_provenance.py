"""Provenance (``kubecrypt.io/sealed-with``): written on every SealedSecret kubecrypt makes,
never in a Secret, and ``kubecrypt sealed which`` reads it (or tries the keys it is given)."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.keys import KeyRegistry, keys_from_file
from kubecrypt.sealed.provenance import ANNOTATION, pem_fingerprint, sealed_with, stamp
from kubecrypt.sealed.seal import rotate_like_controller
from kubecrypt.sealed.unseal import unseal

SECRET = (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\n"
          b"  annotations: {team: x}\ndata:\n  password: czNjcjN0\n")

pytestmark = pytest.mark.slow  # each case runs the CLI in subprocesses


def _openssl_fingerprint(cert_path) -> str:
    """The fingerprint as openssl prints it, computed without kubecrypt."""
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                          str(cert_path)], capture_output=True, text=True, check=True).stdout
    return "sha256:" + out.strip().split("=", 1)[1].replace(":", "").lower()


def _seal(run_kubecrypt, cert, *extra: str, input: bytes = SECRET) -> dict:
    result = run_kubecrypt("seal", "--cert", str(cert), "-o", "yaml", *extra, input=input)
    assert result.returncode == 0, result.stderr.decode()
    return yaml.safe_load(result.stdout)


def test_seal_writes_the_certificate_fingerprint_outside_only(run_kubecrypt, sealed_dir):
    cert = sealed_dir / "keys" / "rsa2048-a.crt.pem"
    ss = _seal(run_kubecrypt, cert)
    assert ss["metadata"]["annotations"] == {ANNOTATION: _openssl_fingerprint(cert)}
    assert ANNOTATION not in ss["spec"]["template"]["metadata"]["annotations"]
    assert "annotations" not in _seal(run_kubecrypt, cert, "--no-provenance")["metadata"]


def test_the_secret_never_carries_the_annotation(run_kubecrypt, sealed_dir, vector_keys):
    """Even when a template holds it (upstream's /v1/rotate copies the outer metadata into the
    template when they differ), the Secret the controller would make has no annotation."""
    cert = sealed_dir / "keys" / "rsa2048-a.crt.pem"
    ss = _seal(run_kubecrypt, cert)
    ss["spec"]["template"]["metadata"]["annotations"][ANNOTATION] = "sha256:00"
    secret = unseal(ss, [vector_keys["rsa2048-a"]])
    assert secret["metadata"]["annotations"] == {"team": "x"}
    opened = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key",
                           str(sealed_dir / "keys" / "rsa2048-a.key.pem"), "-o", "json",
                           input=json.dumps(ss).encode())
    assert opened.returncode == 0, opened.stderr.decode()
    assert ANNOTATION.encode() not in opened.stdout


def test_rotate_like_controller_does_not_copy_it_into_the_template(sealed_dir, vector_keys,
                                                                   run_kubecrypt):
    ss = _seal(run_kubecrypt, sealed_dir / "keys" / "rsa2048-a.crt.pem")
    out = rotate_like_controller(ss, KeyRegistry(keys_from_file(
        (sealed_dir / "keys" / "rsa2048-a.key.pem").read_bytes(), "k")),
        vector_keys["rsa2048-b"].public_key())
    assert ANNOTATION not in json.dumps(out["spec"])
    assert sealed_with(out) is None  # the caller stamps the new certificate


def test_offline_reencrypt_restamps(run_kubecrypt, sealed_dir):
    keys = sealed_dir / "keys"
    ss = _seal(run_kubecrypt, keys / "rsa2048-a.crt.pem")
    result = run_kubecrypt("seal", "--re-encrypt", "--recovery-private-key",
                           str(keys / "rsa2048-a.key.pem"), "--cert", str(keys / "rsa2048-b.crt.pem"),
                           "-o", "yaml", input=yaml.safe_dump(ss).encode())
    assert result.returncode == 0, result.stderr.decode()
    assert sealed_with(yaml.safe_load(result.stdout)) == _openssl_fingerprint(
        keys / "rsa2048-b.crt.pem")


def test_merge_keeps_the_stamp_only_for_the_same_certificate(run_kubecrypt, sealed_dir, tmp_path):
    keys = sealed_dir / "keys"
    target = tmp_path / "ss.yaml"
    target.write_text(yaml.safe_dump(_seal(run_kubecrypt, keys / "rsa2048-a.crt.pem")))
    more = SECRET.replace(b"password: czNjcjN0", b"user: YQ==")
    same = run_kubecrypt("seal", "--cert", str(keys / "rsa2048-a.crt.pem"), "--merge-into",
                         str(target), input=more)
    assert same.returncode == 0, same.stderr.decode()
    assert sealed_with(yaml.safe_load(target.read_text())) == _openssl_fingerprint(
        keys / "rsa2048-a.crt.pem")
    other = run_kubecrypt("seal", "--cert", str(keys / "rsa2048-b.crt.pem"), "--merge-into",
                          str(target), input=more)
    assert other.returncode == 0, other.stderr.decode()
    # Now two certificates sealed its items: the file names neither.
    assert sealed_with(yaml.safe_load(target.read_text())) is None


def _which(run_kubecrypt, *args: str) -> list[dict]:
    result = run_kubecrypt("sealed", "which", "-o", "json", *args)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_which_by_annotation_by_trial_and_unknown(run_kubecrypt, sealed_dir, tmp_path):
    keys = sealed_dir / "keys"
    stamped = tmp_path / "stamped.yaml"
    stamped.write_text(yaml.safe_dump(_seal(run_kubecrypt, keys / "rsa2048-a.crt.pem")))
    plain = tmp_path / "plain.yaml"  # kubeseal's output: no annotation
    plain.write_text(yaml.safe_dump(_seal(run_kubecrypt, keys / "rsa2048-b.crt.pem",
                                          "--no-provenance")))
    answers = _which(run_kubecrypt, str(stamped), str(plain), "--cert",
                     f"prod={keys / 'rsa2048-a.crt.pem'}", "--key", str(keys / "rsa2048-b.key.pem"))
    assert [(a["file"], a["known"], a["how"]) for a in answers] == [
        (str(stamped), "prod", "annotation"),
        (str(plain), f"{keys / 'rsa2048-b.key.pem'} ({_ssh_fp(keys / 'rsa2048-b.key.pem')})",
         "trial")]
    # A key backup holds the certificates: the annotation is matched, then verified by opening.
    backup = sealed_dir / "fixtures" / "backup-list.yaml"  # rsa2048-a and rsa4096-a
    verified = _which(run_kubecrypt, str(stamped), "--key", str(backup))
    assert verified[0]["how"] == "annotation, verified"
    # A bare PEM key has no certificate to match the annotation with: it is tried instead.
    bare = _which(run_kubecrypt, str(stamped), "--key", str(keys / "rsa2048-a.key.pem"))
    assert bare[0]["how"] == "trial"
    # Nothing known: unknown, and the annotation is still reported.
    unknown = _which(run_kubecrypt, str(stamped), str(plain))
    assert [a["how"] for a in unknown] == ["unknown", "unknown"]
    assert unknown[0]["sealed_with"] == _openssl_fingerprint(keys / "rsa2048-a.crt.pem")
    table = run_kubecrypt("sealed", "which", str(stamped), "--cert",
                          f"prod={keys / 'rsa2048-a.crt.pem'}")
    assert table.returncode == 0 and "app/db" in table.stdout.decode()
    assert "prod" in table.stdout.decode() and "annotation" in table.stdout.decode()


def test_which_notices_an_annotation_that_lies(run_kubecrypt, sealed_dir, tmp_path):
    keys = sealed_dir / "keys"
    ss = _seal(run_kubecrypt, keys / "rsa2048-b.crt.pem")
    stamp(ss, pem_fingerprint((keys / "rsa2048-a.crt.pem").read_bytes()))
    path = tmp_path / "lie.yaml"
    path.write_text(yaml.safe_dump(ss))
    backup = sealed_dir / "fixtures" / "backup-list.yaml"  # rsa2048-a and rsa4096-a, with certs
    answers = _which(run_kubecrypt, str(path), "--key", str(backup))
    assert answers[0]["how"] == "annotation not confirmed"


def test_which_bad_input(run_kubecrypt, tmp_path):
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = run_kubecrypt("sealed", "which", str(path))
    assert result.returncode == 1
    assert result.stderr.decode() == f"error: {path} holds no SealedSecret\n"
    missing = run_kubecrypt("sealed", "which", str(path), "--cert", str(tmp_path / "nope.pem"))
    assert missing.returncode == 1 and b"Traceback" not in missing.stderr
    assert "cannot read certificate" in missing.stderr.decode()


def _ssh_fp(key_path) -> str:
    return keys_from_file(key_path.read_bytes(), "k")[0].fingerprint


def test_load_documents_roundtrip_of_stamp():
    doc = load_documents(b"kind: SealedSecret\nmetadata: {name: a}\n")[0]
    assert sealed_with(stamp(doc, "sha256:ab")) == "sha256:ab"
    assert "annotations" not in stamp(doc, None)["metadata"]
