"""Many clusters, escrow, provenance, backup status and the live history audit against the
lab's controller, with the real kubectl: the copy sealed for the lab (its certificate fetched
by kubeconfig context) unseals there, the other copies open only with their own keys, the
escrow copy is not picked up by ``kubectl apply -R -f``, and the Secret never carries
``kubecrypt.io/sealed-with``."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from controller.controller_lab import ControllerProc, Env, secret_data, wait_for

from kubecrypt.lab import up as lab_up
from kubecrypt.sealed.provenance import ANNOTATION, pem_fingerprint, sealed_with

VECTOR_KEYS = Path(os.environ.get("KUBECRYPT_SHARED", Path(__file__).resolve().parents[3] /
                                  "shared")) / "vectors" / "sealed" / "keys"


def _kubecrypt(env: Env, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kubecrypt", *args], capture_output=True,
                          env={**env.env(), **lab_up.kubecrypt_env()}, timeout=120, check=False)


@pytest.mark.slow
def test_many_clusters_escrow_and_live_audit(env: Env, lab_controller: ControllerProc,
                                             unique: Callable[[str], str], tmp_path: Path
                                             ) -> None:
    ns = env.namespace(unique("mc"))
    context = yaml.safe_load(env.lab.kubeconfig.read_text())["current-context"]
    src = tmp_path / "secret.yaml"
    src.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: {ns}}}\n"
                   "stringData: {password: lab-value-1}\n")
    out = tmp_path / "out"
    sealed = _kubecrypt(env, "seal", "-f", str(src), "--output-dir", str(out),
                        "--cert", f"lab=context:{context}",
                        "--cert", f"other={VECTOR_KEYS / 'rsa2048-b.crt.pem'}",
                        "--escrow-cert", str(VECTOR_KEYS / "rsa4096-a.crt.pem"))
    assert sealed.returncode == 0, sealed.stderr.decode()
    lab_copy = yaml.safe_load((out / "lab" / "secret.yaml").read_text())
    assert sealed_with(lab_copy) == pem_fingerprint(lab_controller.cert())

    env.kubectl("apply", "-f", str(out / "lab" / "secret.yaml"))
    secret = wait_for(lambda: env.get("secret", ns, "db"), what="the Secret")
    assert secret_data(secret) == {"password": b"lab-value-1"}
    assert ANNOTATION not in (secret["metadata"].get("annotations") or {})
    # The escrow copy is never applied by accident: kubectl skips the .escrow file.
    escrow = env.kubectl("apply", "-R", "-f", str(out / "escrow"), check=False)
    assert escrow.returncode != 0 and "recognized file extensions are" in escrow.stderr
    for name, key in (("other/secret.yaml", "rsa2048-b"),
                      ("escrow/secret.yaml.escrow", "rsa4096-a")):
        opened = _kubecrypt(env, "seal", "--recovery-unseal", "--recovery-private-key",
                            str(VECTOR_KEYS / f"{key}.key.pem"), "-f", str(out / name))
        assert opened.returncode == 0, opened.stderr.decode()
        assert base64.b64encode(b"lab-value-1") in opened.stdout

    # The lab's keys, backed up the way upstream documents it.
    backup = tmp_path / "backup"
    backup.mkdir()
    keys = env.kubectl("get", "secret", "-n", "kube-system", "-l",
                       "sealedsecrets.bitnami.com/sealed-secrets-key", "-o", "yaml")
    (backup / "keys.yaml").write_text(keys.stdout)
    ok = _kubecrypt(env, "sealed", "keys", "backup-status", "--keys-dir", str(backup),
                    "-o", "json")
    assert ok.returncode == 0, ok.stderr.decode()
    assert json.loads(ok.stdout)["missing"] == []
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = _kubecrypt(env, "sealed", "keys", "backup-status", "--keys-dir", str(empty),
                     "--dir", str(out / "lab"), "-o", "json")
    assert bad.returncode == 1
    lost = json.loads(bad.stdout)["only_missing_keys_open"]
    assert lost == [{"file": str(out / "lab" / "secret.yaml"), "namespace": ns, "name": "db"}]

    # The lab's key leaked: the audit finds the value in Git and says the cluster still uses it.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "db.yaml").write_bytes((out / "lab" / "secret.yaml").read_bytes())
    git = ("git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "db"], check=True)

    def audit() -> list[dict]:
        result = _kubecrypt(env, "sealed", "history-audit", "--repo", str(repo), "--key",
                            str(backup / "keys.yaml"), "--live", "-o", "json")
        assert result.returncode == 0, result.stderr.decode()
        assert b"lab-value" not in result.stdout + result.stderr
        return json.loads(result.stdout)["exposed"]

    assert [(e["namespace"], e["name"], e["item"], e["live"]) for e in audit()] == [
        (ns, "db", "password", True)]
    # Rotated at the source: the cluster's Secret no longer holds the exposed value.
    src.write_text(src.read_text().replace("lab-value-1", "lab-value-2"))
    resealed = _kubecrypt(env, "seal", "-f", str(src), "--context", context, "-w",
                          str(tmp_path / "new.yaml"))
    assert resealed.returncode == 0, resealed.stderr.decode()
    env.kubectl("apply", "-f", str(tmp_path / "new.yaml"))
    wait_for(lambda: secret_data(env.get("secret", ns, "db") or {}).get("password")
             == b"lab-value-2", what="the new value")
    assert [e["live"] for e in audit()] == [False]
