"""``kubecrypt lab up`` runs the controller (with the default 4096-bit key: the suite's one
4096 test); ``kubecrypt seal --fetch-cert`` reaches it through the service proxy; ``lab down``
stops it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509


@pytest.mark.slow
def test_lab_up_runs_the_controller(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                                    tmp_path: Path) -> None:
    d = tmp_path / "lab"
    try:
        up = kubecrypt("lab", "up", "--dir", str(d), timeout=120)
        assert up.returncode == 0, up.stderr
        assert b"sealed-secrets controller (pid " in up.stdout
        env = {**os.environ, "KUBECONFIG": str(d / "kubeconfig")}
        cert = subprocess.run(["kubecrypt", "seal", "--fetch-cert"], capture_output=True,
                              env=env, timeout=60, check=False)
        assert cert.returncode == 0, cert.stderr
        assert x509.load_pem_x509_certificate(cert.stdout).public_key().key_size == 4096
        status = json.loads(kubecrypt("lab", "status", "--dir", str(d), "-o", "json").stdout)
        assert status["extra"]["sealed-secrets"]["running"] is True
        again = kubecrypt("lab", "up", "--dir", str(d), "--no-sealed-secrets", timeout=120)
        assert again.returncode == 0 and b"sealed-secrets controller" not in again.stdout
        status = json.loads(kubecrypt("lab", "status", "--dir", str(d), "-o", "json").stdout)
        assert "sealed-secrets" not in status["extra"]
    finally:
        down = kubecrypt("lab", "down", "--dir", str(d), "--purge")
        assert down.returncode == 0, down.stderr
    assert not d.exists()
