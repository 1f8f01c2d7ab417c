"""``kubecrypt demo`` end to end, as a newcomer runs it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path


def test_demo_tells_the_whole_story(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                                    tmp_path: Path) -> None:
    d = tmp_path / "demo"
    p = kubecrypt("demo", "--dir", str(d), timeout=180)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    # Step by step, what the reader must see, from the real tools' output.
    assert "secret/db-creds created" in out
    assert "|k8s.....v1..Secr|" in out  # plain protobuf in etcd
    assert "|k8s:enc:aesgcm:v|" in out and "|1:key1:" in out
    assert "secret/db-creds replaced" in out and "secret/api-token replaced" in out
    assert "2 of 2 secrets are NOT encrypted (must be encrypted)" in out  # etcd scan, before
    assert out.count("all 2 secrets are encrypted") == 3  # after rotating, key2 only, KMS
    key_rows = [line.split() for line in out.split("== 9.")[0].splitlines() if " aesgcm " in line]
    assert key_rows and all(row[:3] == ["secrets", "aesgcm", "key2"] for row in key_rows)
    assert "key1 is retired" in out
    assert "|k8s:enc:kms:v2:k|" in out  # KMS v2 envelope in etcd
    assert any(row[:3] == ["secrets", "kms", "kubecrypt-kms"] for row in
               (line.split() for line in out.splitlines()))
    assert "sealedsecret.bitnami.com/git-creds created" in out
    assert "The private key opens it: a Secret with data keys ['token']." in out
    assert "not-a-real-token" not in out.split("== 10.")[1]  # the sealed value never shown
    # It ends with the audit on its own lab: the plaintext revisions written before encryption
    # was turned on are still in etcd, and doctor says so.
    audit = out.split("kubecrypt doctor --lab")[1]
    assert "etcd.old-revisions" in audit and "secrets/default/db-creds" in audit
    assert "not-a-real-token" not in audit
    assert not d.exists()  # the lab was stopped and removed


def test_demo_refuses_an_existing_lab(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                                      tmp_path: Path) -> None:
    d = tmp_path / "taken"
    d.mkdir()
    (d / "lab.json").write_text("{}")
    p = kubecrypt("demo", "--dir", str(d))
    assert p.returncode == 1
    assert p.stderr.decode().startswith("error: ") and "already holds a lab" in p.stderr.decode()
