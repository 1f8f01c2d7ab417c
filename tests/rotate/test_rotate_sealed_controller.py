"""``kubecrypt rotate sealed --controller`` against the lab's real controller (started as
``kubecrypt lab up`` starts it, 2048-bit keys): a new key Secret the controller picks up live,
every file re-encrypted through /v1/rotate, the results unsealed by the controller after
``kubectl apply``, old keys kept; bad input stops before anything changes."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from lab.conftest import LabHandle

from kubecrypt.kube import ControllerProxy, KubeClient, Overrides
from kubecrypt.lab import processes
from kubecrypt.lab import sealed as lab_sealed
from kubecrypt.rotate.errors import NotLoaded
from kubecrypt.rotate.sealed_controller import wait_served
from kubecrypt.sealed.keys import KEY_LABEL, SealingKey, generate_key, sealing_public_key
from kubecrypt.sealed.kubeseal import render_sealed
from kubecrypt.sealed.seal import SealOptions, seal_secret

Run = Callable[..., subprocess.CompletedProcess[bytes]]
KEY_SIZE = "2048"


@pytest.fixture(scope="module")
def controller(rlab: LabHandle) -> Iterator[ControllerProxy]:
    lab_sealed.start_controller(rlab.lab, key_size=2048, extra_args=("--retry-base", "0.2s"))
    try:
        yield ControllerProxy(KubeClient.connect(Overrides(kubeconfig=str(rlab.lab.kubeconfig))))
    finally:
        proc = rlab.lab.extra.pop(lab_sealed.NAME, None)
        if proc is not None:
            processes.stop(proc)
        rlab.lab.save()


@pytest.fixture
def ns(rlab: LabHandle) -> str:
    name = f"rsc-{time.monotonic_ns() % 10**9:x}"
    rlab.kubectl("create", "namespace", name)
    return name


def _secret(ns: str, name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "stringData": data}


def _repo(tmp: Path, ns: str, cert: bytes) -> tuple[Path, dict[str, dict[str, bytes]]]:
    pub = sealing_public_key(cert)
    files = {"apps/db.yaml": [_secret(ns, "db", password="pw1", user="app")],
             "apps/api.json": [_secret(ns, "api", token="t0k")],
             "multi/two.yaml": [_secret(ns, "a", x="1"), _secret(ns, "b", y="2")]}
    repo = tmp / "repo"
    want = {}
    for rel, secrets in files.items():
        f = repo / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        fmt = "json" if rel.endswith(".json") else "yaml"
        f.write_text("".join(render_sealed(seal_secret(s, pub, SealOptions()), fmt)
                             for s in secrets))
        for s in secrets:
            want[s["metadata"]["name"]] = {k: v.encode() for k, v in s["stringData"].items()}
    (repo / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                                      "  name: x\n")
    (repo / "mixed.yaml").write_text((repo / "apps/db.yaml").read_text() + "---\napiVersion: v1\n"
                                     "kind: ConfigMap\nmetadata:\n  name: c\n")
    return repo, want


def _snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file()}


def _key_secrets(rlab: LabHandle) -> set[str]:
    items = rlab.kubectl_json("get", "secret", "-n", "kube-system", "-l", KEY_LABEL)["items"]
    return {i["metadata"]["name"] for i in items}


def _unsealed(rlab: LabHandle, ns: str, name: str, timeout: float = 20) -> dict[str, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        p = rlab.kubectl("get", "secret", name, "-n", ns, "-o", "json", "--ignore-not-found")
        if p.stdout.strip():
            data = json.loads(p.stdout).get("data") or {}
            return {k: base64.b64decode(v) for k, v in data.items()}
        assert time.monotonic() < deadline, f"the controller made no Secret {ns}/{name}"
        time.sleep(0.1)


def _serial(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


@pytest.mark.slow
def test_rotate_sealed_controller(kubecrypt: Run, rlab: LabHandle, controller: ControllerProxy,
                                  ns: str, tmp_path: Path) -> None:
    old_cert = controller.certificate()
    repo, want = _repo(tmp_path, ns, old_cert)
    mixed, deploy = (repo / "mixed.yaml").read_bytes(), (repo / "deploy.yaml").read_bytes()
    sealed_before = {rel: b for rel, b in _snapshot(repo).items() if rel.startswith(("apps", "m"))}
    keys_before = _key_secrets(rlab)
    kc = str(rlab.lab.kubeconfig)

    r = kubecrypt("rotate", "sealed", "--controller", "--kubeconfig", kc, "--dir", str(repo),
                  "--key-size", KEY_SIZE)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "3 files re-encrypted (4 SealedSecrets), 0 already current, 0 failed" in out, out
    assert "skipped" in out and "mixed.yaml" in out
    # The controller serves the new certificate; the old key Secret stays, one new one is added.
    new_cert = controller.certificate()
    assert _serial(new_cert) != _serial(old_cert)
    new_keys = _key_secrets(rlab) - keys_before
    assert len(new_keys) == 1 and keys_before <= _key_secrets(rlab)
    assert f"in Secret kube-system/{next(iter(new_keys))}" in out
    after = _snapshot(repo)
    for rel in ("apps/db.yaml", "apps/api.json", "multi/two.yaml"):
        assert after[rel] != sealed_before[rel], rel
    assert after["apps/api.json"].lstrip().startswith(b"{")
    assert after["mixed.yaml"] == mixed and after["deploy.yaml"] == deploy

    # kubectl apply of a re-encrypted file: the controller makes the right Secrets.
    rlab.kubectl("apply", "-f", str(repo / "multi/two.yaml"))
    assert _unsealed(rlab, ns, "a") == want["a"] and _unsealed(rlab, ns, "b") == want["b"]
    # An old SealedSecret (sealed before the renewal) still unseals: the old key is kept.
    rlab.kubectl("apply", "-f", "-", input=render_sealed(
        seal_secret(_secret(ns, "old", k="v"), sealing_public_key(old_cert), SealOptions()),
        "yaml"))
    assert _unsealed(rlab, ns, "old") == {"k": b"v"}

    # A second run (here --compromised, -o json) re-encrypts again, harmlessly, and lists every
    # SealedSecret of the tree as readable with the old keys: names and item names, no values.
    r = kubecrypt("rotate", "sealed", "--controller", "--kubeconfig", kc, "--dir", str(repo),
                  "--key-size", KEY_SIZE, "--compromised", "-o", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["new_key_secret"].startswith("kube-system/sealed-secrets-key")
    exposed = {(e["namespace"], e["name"]): e["items"] for e in report["exposed"]}
    assert exposed[(ns, "db")] == ["password", "user"] and exposed[(ns, "api")] == ["token"]
    assert {(ns, "a"), (ns, "b")} <= set(exposed)
    assert b"pw1" not in r.stdout and b"t0k" not in r.stdout
    rlab.kubectl("apply", "-f", str(repo / "apps/db.yaml"))
    assert _unsealed(rlab, ns, "db") == want["db"]
    assert len(_key_secrets(rlab) - keys_before) == 2


@pytest.mark.parametrize("case", ["wrong-namespace", "unreachable"])
def test_rotate_sealed_controller_bad_input(kubecrypt: Run, rlab: LabHandle,
                                            controller: ControllerProxy, ns: str, case: str,
                                            tmp_path: Path, free_port: Callable[[], int]
                                            ) -> None:
    repo, _ = _repo(tmp_path, ns, controller.certificate())
    before, keys_before = _snapshot(repo), _key_secrets(rlab)
    kc = rlab.lab.kubeconfig
    args = ["--kubeconfig", str(kc), "--controller-namespace", ns]
    if case == "unreachable":
        dead = tmp_path / "kubeconfig"
        dead.write_text(kc.read_text().replace(f":{rlab.lab.port}", f":{free_port()}"))
        args = ["--kubeconfig", str(dead)]
    r = kubecrypt("rotate", "sealed", "--controller", *args, "--dir", str(repo))
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = r.stderr.decode().strip()
    assert err.startswith("error: cannot reach the Sealed Secrets controller") and "\n" not in err
    assert _snapshot(repo) == before and _key_secrets(rlab) == keys_before


def test_wait_served_times_out_with_not_yet(controller: ControllerProxy) -> None:
    never = SealingKey(*generate_key(2048))  # a key the controller does not have
    with pytest.raises(NotLoaded, match="does not serve the new key's certificate yet"):
        wait_served(controller, never, "kube-system/x", 0.5)


def test_rotate_sealed_controller_no_renew_failed_dry_run(
        kubecrypt: Run, rlab: LabHandle, controller: ControllerProxy, ns: str,
        tmp_path: Path) -> None:
    repo, want = _repo(tmp_path, ns, controller.certificate())
    foreign = SealingKey(*generate_key(2048))  # a key the controller never had
    bad = repo / "foreign.yaml"
    bad.write_text(render_sealed(seal_secret(_secret(ns, "f", k="v"),
                                             foreign.private_key.public_key(), SealOptions()),
                                 "yaml"))
    before, keys_before = _snapshot(repo), _key_secrets(rlab)
    kc = str(rlab.lab.kubeconfig)
    dry = kubecrypt("rotate", "sealed", "--controller", "--kubeconfig", kc, "--dir", str(repo),
                    "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert b"would have: 4 files re-encrypted" in dry.stdout
    assert _snapshot(repo) == before and _key_secrets(rlab) == keys_before

    r = kubecrypt("rotate", "sealed", "--controller", "--kubeconfig", kc, "--dir", str(repo),
                  "--no-renew")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert b"3 files re-encrypted (4 SealedSecrets), 0 already current, 1 failed" in r.stdout
    assert r.stderr.decode().strip() == ("error: 1 files could not be re-encrypted (listed "
                                         "above); the others were")
    assert bad.read_bytes() == before["foreign.yaml"]  # left as it was
    assert _key_secrets(rlab) == keys_before  # --no-renew: no new key
    db = (repo / "apps/db.yaml").read_bytes()
    assert db != before["apps/db.yaml"] and db[:4] == before["apps/db.yaml"][:4]
    rlab.kubectl("apply", "-f", str(repo / "apps/db.yaml"))
    assert _unsealed(rlab, ns, "db") == want["db"]


def test_rotate_sealed_controller_skips_files_by_provenance(
        kubecrypt: Run, rlab: LabHandle, controller: ControllerProxy, ns: str,
        tmp_path: Path) -> None:
    """Files stamped with the certificate the controller serves are current: a second run
    leaves them byte for byte; the annotation never reaches the Secret the controller makes."""
    from kubecrypt.sealed.documents import load_documents
    from kubecrypt.sealed.provenance import ANNOTATION, pem_fingerprint, sealed_with

    repo, want = _repo(tmp_path, ns, controller.certificate())
    kc = str(rlab.lab.kubeconfig)
    args = ("rotate", "sealed", "--controller", "--kubeconfig", kc, "--dir", str(repo),
            "--no-renew")
    first = kubecrypt(*args)
    assert first.returncode == 0, first.stderr
    assert b"3 files re-encrypted (4 SealedSecrets), 0 already current" in first.stdout
    served = pem_fingerprint(controller.certificate())
    for rel in ("apps/db.yaml", "apps/api.json", "multi/two.yaml"):
        for doc in load_documents((repo / rel).read_bytes(), rel):
            assert sealed_with(doc) == served
            assert ANNOTATION not in json.dumps(doc["spec"])
    stamped = _snapshot(repo)
    again = kubecrypt(*args)
    assert again.returncode == 0, again.stderr
    assert b"0 files re-encrypted (0 SealedSecrets), 3 already current" in again.stdout
    assert _snapshot(repo) == stamped
    rlab.kubectl("apply", "-f", str(repo / "apps/db.yaml"))
    assert _unsealed(rlab, ns, "db") == want["db"]
    secret = rlab.kubectl_json("get", "secret", "db", "-n", ns)
    assert ANNOTATION not in (secret["metadata"].get("annotations") or {})
