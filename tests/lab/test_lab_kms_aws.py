"""The lab with its KMS plugin on the ``aws`` backend (a real moto KMS server on loopback):
Secrets written through the real kubectl are stored as ``k8s:enc:kms:v2:...`` whose DEK source
is aws-encryption-provider's ``"1"`` + CiphertextBlob, which boto3 decrypts directly."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from moto_kms import Moto, clean_env

from kubecrypt.atrest.providers.encrypted_object import EncryptedObject
from kubecrypt.lab import up as lab_up

CTX = {"cluster": "kubecrypt-lab"}


@pytest.mark.slow
def test_lab_kms_aws_backend(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                             moto: Moto, tmp_path: Path) -> None:
    arn = moto.create_key()
    cfg = tmp_path / "aws.yaml"
    cfg.write_text(json.dumps({"key": arn, "encryption_context": CTX}))
    env = {**clean_env(dict(os.environ)), **moto.env()}
    d = tmp_path / "lab"
    p = kubecrypt("lab", "up", "--dir", str(d), "--encryption", "kms", "--kms-backend", "aws",
                  "--kms-backend-config", str(cfg), "--no-sealed-secrets", env=env, timeout=180)
    try:
        assert p.returncode == 0, p.stderr
        lab = lab_up.Lab.load(d)
        assert lab is not None and "kms" in lab.extra
        kenv = {**env, "KUBECONFIG": str(lab.kubeconfig)}
        subprocess.run(["kubectl", "create", "secret", "generic", "in-aws",
                        "--from-literal=password=hunter2"], env=kenv, check=True,
                       capture_output=True)
        raw = subprocess.run(["etcdctl", f"--endpoints={lab.etcd_endpoints[0]}", "get",
                              "/registry/secrets/default/in-aws", "--print-value-only"],
                             capture_output=True, check=True).stdout.rstrip(b"\n")
        prefix = b"k8s:enc:kms:v2:kubecrypt-kms:"
        assert raw.startswith(prefix) and b"hunter2" not in raw
        obj = EncryptedObject.from_bytes(raw[len(prefix):])
        assert obj.key_id == arn and obj.annotations == {}
        assert obj.encrypted_dek_source[:1] == b"1"
        seed = moto.client().decrypt(CiphertextBlob=obj.encrypted_dek_source[1:],
                                     EncryptionContext=CTX)["Plaintext"]
        assert len(seed) == 32
        got = subprocess.run(["kubectl", "get", "secret", "in-aws", "-o",
                              "jsonpath={.data.password}"], env=kenv, check=True,
                             capture_output=True, text=True)
        assert got.stdout == "aHVudGVyMg=="
        # The backend is remembered: after `lab down`, `lab up` restarts the aws plugin.
        assert kubecrypt("lab", "down", "--dir", str(d), env=env).returncode == 0
        assert kubecrypt("lab", "up", "--dir", str(d), "--no-sealed-secrets", env=env,
                         timeout=180).returncode == 0
        again = subprocess.run(["kubectl", "get", "secret", "in-aws", "-o",
                                "jsonpath={.data.password}"], env=kenv, check=True,
                               capture_output=True, text=True)
        assert again.stdout == "aHVudGVyMg=="
        # Switching the backend of a lab that already wrote through another is refused.
        other = tmp_path / "other.yaml"
        other.write_text(json.dumps({"key": moto.create_key()}))
        r = kubecrypt("lab", "up", "--dir", str(d), "--encryption", "kms", "--kms-backend",
                      "aws", "--kms-backend-config", str(other), env=env)
        assert r.returncode != 0 and b"already uses the aws backend" in r.stderr
        assert b"Traceback" not in r.stderr
    finally:
        kubecrypt("lab", "down", "--dir", str(d), "--purge", env=env)


def test_lab_kms_backend_options_go_together(
        kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]], tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("key: alias/x\n")
    r = kubecrypt("lab", "up", "--dir", str(tmp_path / "l"), "--kms-backend", "aws")
    assert r.returncode == 2 and b"together" in r.stderr
    r = kubecrypt("lab", "up", "--dir", str(tmp_path / "l"), "--kms-backend", "aws",
                  "--kms-backend-config", str(cfg))
    assert r.returncode == 2 and b"needs --encryption kms" in r.stderr
    assert not (tmp_path / "l").exists()
