"""Every kubectl the machine's dispatcher carries (1.27 to 1.33), run directly against the lab:
1.27-1.31 send JSON for ``create secret``, 1.32+ protobuf; 1.27 asks for v2beta1 aggregated
discovery, later ones v2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import LabHandle

VERSIONS = ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]


def _kubectl_dir() -> Path:
    found = shutil.which("kubectl")
    assert found, "kubectl is not on PATH"
    return Path(os.path.realpath(found)).parent


@pytest.mark.parametrize("version", VERSIONS)
def test_guide_commands_with_each_kubectl(lab: LabHandle, version: str, tmp_path: Path) -> None:
    binary = _kubectl_dir() / f"kubectl.{version}"
    assert binary.exists(), f"{binary} is missing: the kubectl dispatcher carries 1.27 to 1.33"
    # A private discovery cache, so each version really does its own discovery.
    env = {**lab.env(), "KUBECACHEDIR": str(tmp_path / "cache")}
    ns = f"v{version.replace('.', '-')}"

    def run(*args: str, input: str | None = None) -> str:
        p = subprocess.run([str(binary), *args], input=input, capture_output=True, text=True,
                           env=env, timeout=60, check=False)
        assert p.returncode == 0, f"kubectl {version} {' '.join(args)}: {p.stderr}"
        return p.stdout

    run("create", "ns", ns)
    run("create", "secret", "generic", "s", "-n", ns, "--from-literal=k=v")
    rows = run("get", "secrets", "-A").splitlines()
    assert any(r.split()[:4] == [ns, "s", "Opaque", "1"] for r in rows)
    manifest = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "applied", "namespace": ns}, "stringData": {"a": "1"}}
    run("apply", "-f", "-", input=json.dumps(manifest))
    manifest["stringData"] = {"a": "2"}
    assert "configured" in run("apply", "-f", "-", input=json.dumps(manifest))
    listing = run("get", "secrets", "-n", ns, "-o", "json")
    assert run("replace", "-f", "-", input=listing).count("replaced") == 2
    run("delete", "ns", ns)
    assert lab.etcd_get(f"/registry/secrets/{ns}/s") is None
