"""``kubecrypt lab up|down|status`` as a user runs them, restarts, and etcd outages."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kubecrypt.lab import processes
from kubecrypt.lab import up as lab_up

from .conftest import LabHandle


@pytest.mark.slow
def test_up_down_status_cli(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                            tmp_path: Path) -> None:
    d = str(tmp_path / "cli-lab")
    p = kubecrypt("lab", "up", "--dir", d, "--encryption", "secretbox")
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert f"export KUBECONFIG={d}/kubeconfig" in out and "etcdctl --endpoints=" in out
    assert oct(os.stat(f"{d}/kubeconfig").st_mode & 0o777) == "0o600"
    assert oct(os.stat(f"{d}/encryption-config.yaml").st_mode & 0o777) == "0o600"
    env = {**os.environ, "KUBECONFIG": f"{d}/kubeconfig"}
    subprocess.run(["kubectl", "create", "secret", "generic", "keep", "--from-literal=a=b"],
                   env=env, check=True, capture_output=True)
    state = json.loads(kubecrypt("lab", "status", "--dir", d, "-o", "json").stdout)
    assert state["state"] == "up" and state["encryption"] == "secretbox"
    pids = [state["etcd"]["pid"], state["apiserver"]["pid"]]
    # -o env: what `eval "$(kubecrypt lab status -o env)"` sets, from any working directory
    p = kubecrypt("lab", "status", "--dir", os.path.relpath(d, tmp_path), "-o", "env",
                  cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == [
        f"export KUBECONFIG={d}/kubeconfig",
        f"export ETCDCTL_ENDPOINTS={','.join(state['etcd']['endpoints'])}"]
    listed = subprocess.run(
        ["bash", "-c", f'eval "$({shlex.join(_kubecrypt_cmd())} lab status --dir {d} -o env)"'
         " && etcdctl get /registry/secrets/default/keep --keys-only && kubectl get secret keep"],
        env={**os.environ, "KUBECONFIG": "/nonexistent"}, capture_output=True, text=True,
        cwd="/")
    assert listed.returncode == 0 and "/registry/secrets/default/keep" in listed.stdout, listed

    p = kubecrypt("lab", "down", "--dir", d)
    assert p.returncode == 0 and "stopped apiserver" in p.stdout.decode()
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in pids)
    assert Path(d, "etcd-data").is_dir()
    p = kubecrypt("lab", "status", "--dir", d)
    assert p.returncode == 3 and "lab: down" in p.stdout.decode()
    p = kubecrypt("lab", "status", "--dir", d, "-o", "env")
    assert p.returncode == 3 and p.stdout == b"" and b"is not up" in p.stderr

    assert kubecrypt("lab", "up", "--dir", d).returncode == 0
    got = subprocess.run(["kubectl", "get", "secret", "keep", "-o", "jsonpath={.data.a}"],
                         env=env, check=True, capture_output=True, text=True)
    assert got.stdout == "Yg=="
    assert kubecrypt("lab", "down", "--dir", d, "--purge").returncode == 0
    assert not Path(d).exists()


def _kubecrypt_cmd() -> list[str]:
    exe = shutil.which("kubecrypt")
    return [exe] if exe else [sys.executable, "-m", "kubecrypt"]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_kms_v2_lab(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                    tmp_path: Path) -> None:
    # `--dir ./kms`, as the docs write it: the plugin's socket must be in the lab directory.
    d = tmp_path / "kms"
    p = kubecrypt("lab", "up", "--dir", "./kms", "--encryption", "kms", "--no-sealed-secrets",
                  cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lab = lab_up.Lab.load(d)
    assert lab is not None and "kms" in lab.extra
    assert f"unix://{d}/kms.sock" in (d / "encryption-config.yaml").read_text()
    assert (d / "kms.sock").is_socket()
    # A plugin that died is started again by the next `lab up`.
    processes.stop(lab.extra["kms"])
    assert kubecrypt("lab", "up", "--dir", str(d), "--no-sealed-secrets").returncode == 0
    lab = lab_up.Lab.load(d)
    assert lab is not None and processes.alive(lab.extra["kms"])
    # Back to kms after another provider: the running plugin is kept, not started twice.
    plugin = lab.extra["kms"]
    for kind in ("aesgcm", "kms"):
        p = kubecrypt("lab", "up", "--dir", str(d), "--encryption", kind, "--no-sealed-secrets")
        assert p.returncode == 0, p.stderr
    lab = lab_up.Lab.load(d)
    assert lab is not None and lab.extra["kms"] == plugin and processes.alive(plugin)
    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig)}
    subprocess.run(["kubectl", "create", "secret", "generic", "enveloped", "--from-literal=a=b"],
                   env=env, check=True, capture_output=True)
    raw = subprocess.run(["etcdctl", f"--endpoints={lab.etcd_endpoints[0]}", "get",
                          "/registry/secrets/default/enveloped", "--print-value-only"],
                         capture_output=True, check=True).stdout
    assert raw.startswith(b"k8s:enc:kms:v2:kubecrypt-kms:")
    state = json.loads(kubecrypt("lab", "status", "--dir", str(d), "-o", "json").stdout)
    assert state["extra"]["kms"]["running"] is True
    assert (d / "kms.pid").read_text().strip() == str(lab.extra["kms"].pid)
    kms_pid = lab.extra["kms"].pid
    assert "kms (pid" in kubecrypt("lab", "down", "--dir", str(d)).stdout.decode()
    assert not processes.alive(lab.extra["kms"])
    assert not (d / "kms.pid").exists() and not (d / "apiserver.pid").exists()
    assert kubecrypt("lab", "up", "--dir", str(d)).returncode == 0  # the plugin comes back too
    restarted = lab_up.Lab.load(d)
    assert restarted is not None and restarted.extra["kms"].pid != kms_pid
    got = subprocess.run(["kubectl", "get", "secret", "enveloped", "-o", "jsonpath={.data.a}"],
                         env=env, check=True, capture_output=True, text=True)
    assert got.stdout == "Yg=="
    assert kubecrypt("lab", "down", "--dir", str(d), "--purge").returncode == 0
    assert not d.exists()


def test_restart_loses_nothing(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("durable")
    lab.kubectl("create", "secret", "generic", name, "--from-literal=a=b")
    before = lab.kubectl_json("get", "secret", name)
    old = lab.lab.apiserver
    lab.lab = lab_up.up(lab.dir)  # restarts only the API server
    assert lab.lab.apiserver != old
    assert old is not None and not processes.alive(old)
    after = lab.kubectl_json("get", "secret", name)
    assert after == before


def test_etcd_down_is_503_then_recovers(lab: LabHandle, unique: Callable[[str], str]) -> None:
    assert lab.lab.etcd is not None
    processes.stop(lab.lab.etcd)
    try:
        p = lab.kubectl("get", "secrets", "--request-timeout=20s", check=False)
        assert p.returncode == 1
        assert "ServiceUnavailable" in p.stderr or "storage backend is unavailable" in p.stderr
        ready = lab.kubectl("get", "--raw", "/readyz", check=False)
        assert ready.returncode == 1  # 503: not ready while etcd is away
        assert lab.kubectl("get", "--raw", "/livez").stdout == "ok"
    finally:
        lab_up.start_etcd(lab.lab)
        lab.lab.save()
    deadline = time.monotonic() + 30
    name = unique("back")
    while True:
        p = lab.kubectl("create", "secret", "generic", name, "--from-literal=a=b", check=False)
        if p.returncode == 0:
            break
        assert time.monotonic() < deadline, p.stderr
        time.sleep(0.5)
    assert lab.kubectl_json("get", "secret", name)["metadata"]["name"] == name


def test_external_etcd_is_used_and_never_stopped(lab: LabHandle, tmp_path: Path,
                                                 unique: Callable[[str], str]) -> None:
    name = unique("shared")
    lab.kubectl("create", "secret", "generic", name, "--from-literal=a=b")
    other = lab_up.up(tmp_path / "second", etcd_endpoints=[lab.etcd],
                      encryption_provider_config=lab.dir / "encryption-config.yaml")
    try:
        env = {**os.environ, "KUBECONFIG": str(other.kubeconfig)}
        p = subprocess.run(["kubectl", "get", "secret", name, "-o", "name"], env=env,
                           capture_output=True, text=True, check=False)
        assert p.stdout.strip() == f"secret/{name}", p.stderr  # same etcd, same Secret
        assert lab_up.status(tmp_path / "second")["etcd"]["external"] is True
    finally:
        stopped = lab_up.down(tmp_path / "second", purge=True)
    assert stopped == [f"apiserver (pid {other.apiserver.pid})"] if other.apiserver else False
    assert lab.lab.etcd is not None and processes.alive(lab.lab.etcd)


def test_restart_collects_orphans_of_served_kinds_only(lab: LabHandle,
                                                       unique: Callable[[str], str]) -> None:
    ns = unique("gc")
    lab.kubectl("create", "ns", ns)
    owner = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
             "metadata": {"name": "owner", "namespace": ns}, "spec": {"encryptedData": {}}}
    lab.kubectl("create", "-f", "-", input=json.dumps(owner))
    uid = lab.kubectl_json("get", "sealedsecret", "owner", "-n", ns)["metadata"]["uid"]

    def owned(name: str, api_version: str, kind: str, owner_uid: str) -> str:
        return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": name, "namespace": ns, "ownerReferences": [
                {"apiVersion": api_version, "kind": kind, "name": "x", "uid": owner_uid}]}})

    lab.kubectl("create", "-f", "-", input=owned("dependent", "bitnami.com/v1alpha1",
                                                 "SealedSecret", uid))
    lab.kubectl("create", "-f", "-", input=owned("foreign", "apps/v1", "Deployment",
                                                 "0000-not-served"))
    assert lab.lab.apiserver is not None
    processes.stop(lab.lab.apiserver)
    lab.etcd_del(f"/registry/bitnami.com/sealedsecrets/{ns}/owner")  # deleted while nobody GCs
    lab.lab = lab_up.up(lab.dir)
    deadline = time.monotonic() + 15
    while lab.etcd_get(f"/registry/secrets/{ns}/dependent") is not None:
        assert time.monotonic() < deadline, "the orphaned dependent was not collected"
        time.sleep(0.2)
    assert lab.etcd_get(f"/registry/secrets/{ns}/foreign") is not None


@pytest.mark.slow
def test_port_taken_in_a_race_is_retried(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    try:
        assert lab.lab.apiserver is not None
        processes.stop(lab.lab.apiserver)
        lab.lab.port = taken
        lab.lab.save()
        # As if the port had been free when checked and taken just before the bind.
        monkeypatch.setattr(processes, "port_free", lambda port: True)
        lab.lab = lab_up.up(lab.dir)
    finally:
        squatter.close()
    assert lab.lab.port != taken
    assert "address already in use" in (lab.dir / "apiserver.log").read_text().lower()
    assert lab.kubectl("get", "ns", "default", "-o", "name").stdout.strip() == "namespace/default"


def _unchanged(lab: LabHandle, before: lab_up.Lab) -> None:
    now = lab_up.Lab.load(lab.dir)
    assert now is not None and before.apiserver is not None
    assert now.apiserver == before.apiserver and processes.alive(before.apiserver)
    assert (now.encryption, now.encryption_config) == (before.encryption,
                                                      before.encryption_config)
    assert lab.kubectl("get", "ns", "default", "-o", "name").stdout.strip() == "namespace/default"


def test_a_bad_encryption_config_stops_nothing(lab: LabHandle, tmp_path: Path) -> None:
    before = lab_up.Lab.load(lab.dir)
    assert before is not None
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
                   "resources:\n- resources: [secrets]\n  providers:\n"
                   "  - aesgcm: {keys: [{name: k, secret: c2hvcnQ=}]}\n")
    with pytest.raises(Exception, match="secret"):
        lab_up.up(lab.dir, encryption_provider_config=bad)
    _unchanged(lab, before)


def test_a_kms_plugin_that_does_not_answer_stops_nothing(lab: LabHandle, tmp_path: Path) -> None:
    before = lab_up.Lab.load(lab.dir)
    assert before is not None
    config = tmp_path / "kms.yaml"
    config.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
                      "resources:\n- resources: [secrets]\n  providers:\n"
                      f"  - kms: {{apiVersion: v2, name: gone, endpoint: "
                      f"'unix://{tmp_path}/none.sock', timeout: 1s}}\n  - identity: {{}}\n")
    with pytest.raises(lab_up.LabError, match=r"KMS plugin 'gone' .* does not answer"):
        lab_up.up(lab.dir, encryption_provider_config=config)
    _unchanged(lab, before)


def test_the_lab_kms_plugin_failing_to_start_stops_nothing(
        lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    before = lab_up.Lab.load(lab.dir)
    assert before is not None
    config = (lab.dir / "encryption-config.yaml").read_bytes()

    def fails(_: lab_up.Lab) -> None:
        raise lab_up.LabError("the KMS plugin did not start")

    monkeypatch.setattr(lab_up, "start_kms_plugin", fails)
    with pytest.raises(lab_up.LabError, match="did not start"):
        lab_up.up(lab.dir, encryption="kms")
    _unchanged(lab, before)
    assert (lab.dir / "encryption-config.yaml").read_bytes() == config


@pytest.mark.slow
def test_an_api_server_that_does_not_start_is_rolled_back(
        lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new settings pass their checks but the API server fails on them: the lab comes back
    up on the settings it had, and the error is the one raised."""
    before = lab_up.Lab.load(lab.dir)
    assert before is not None
    config = (lab.dir / "encryption-config.yaml").read_bytes()
    real = lab_up._start_apiserver
    calls: list[str | None] = []

    def first_fails(lab_: lab_up.Lab) -> None:
        calls.append(lab_.encryption_config)
        if len(calls) == 1:
            raise lab_up.LabError("the lab API server did not start")
        real(lab_)

    monkeypatch.setattr(lab_up, "_start_apiserver", first_fails)
    with pytest.raises(lab_up.LabError, match="did not start"):
        lab_up.up(lab.dir, encryption="secretbox")
    now = lab_up.Lab.load(lab.dir)
    assert now is not None and now.apiserver is not None and processes.alive(now.apiserver)
    assert (now.encryption, now.encryption_config) == (before.encryption,
                                                      before.encryption_config)
    assert (lab.dir / "encryption-config.yaml").read_bytes() == config
    assert len(calls) == 2
    lab.lab = now
    assert lab.kubectl("get", "ns", "default", "-o", "name").stdout.strip() == "namespace/default"


def test_encryption_after_a_users_config_keeps_its_providers(tmp_path: Path) -> None:
    """`lab up --encryption-provider-config mine.yaml`, then `lab up --encryption X`: X goes in
    front of *mine.yaml*'s providers (what etcd was written with), not of an older lab file."""
    lab = lab_up.Lab(tmp_path / "lab")
    lab.dir.mkdir()
    lab_up.write_encryption_config(lab, "aescbc")  # the lab's own file from an earlier `up`
    mine = tmp_path / "mine.yaml"
    mine.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
                    "resources:\n- resources: [secrets]\n  providers:\n"
                    "  - aesgcm: {keys: [{name: mine, secret: "
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n  - identity: {}\n")
    lab.encryption, lab.encryption_config = "custom", str(mine)
    path = lab_up.write_encryption_config(lab, "secretbox")
    assert path is not None
    providers = yaml.safe_load(path.read_text())["resources"][0]["providers"]
    assert [next(iter(p)) for p in providers] == ["secretbox", "aesgcm", "identity"]
    assert providers[1]["aesgcm"]["keys"][0]["name"] == "mine"
