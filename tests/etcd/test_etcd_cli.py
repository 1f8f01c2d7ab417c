"""The etcd commands as an operator runs them: etcdctl's flags and ETCDCTL_* variables, TLS with
client certificates and auth, a progress bar on a terminal, and one clear line when it fails."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kubecrypt.etcd.client import EtcdClient

from .conftest import ROOT_PASSWORD, EtcdServer, keyed, load_config, run, secret_value, write_config

Kubecrypt = Callable[..., subprocess.CompletedProcess[bytes]]


def _seed_tls(server: EtcdServer, tmp_path: Path) -> Path:
    cfg = write_config(tmp_path / "c.json", [(["secrets"], [keyed("aesgcm", "tls1")])])
    chain = load_config(cfg).for_resource("secrets")

    async def go() -> None:
        async with EtcdClient(server.settings(user=f"root:{ROOT_PASSWORD}")) as etcd:
            for i in range(3):
                key = f"/registry/secrets/tls/s{i}".encode()
                await etcd.put(key, chain.encrypt(secret_value("tls", f"s{i}"), key))

    run(go())
    return cfg


@pytest.mark.slow
def test_scan_and_get_over_tls_with_flags(
    etcd_tls_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    cfg = _seed_tls(etcd_tls_server, tmp_path)
    s = etcd_tls_server
    flags = ["--endpoints", s.endpoint, "--cacert", str(s.ca), "--cert", str(s.cert), "--key", str(s.key),
             "--user", "root", "--password", ROOT_PASSWORD]
    clean = {var: "" for var in s.env()}
    r = kubecrypt("etcd", "scan", "--resources", "secrets", "-o", "json", *flags, env=clean)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])["summary"]
    assert summary["resources"]["secrets"]["encrypted"] == 3
    g = kubecrypt("etcd", "get", "/registry/secrets/tls/s1", "--config", str(cfg), "-o", "json", *flags,
                  env=clean)
    assert g.returncode == 0, g.stderr
    assert json.loads(g.stdout)["metadata"]["name"] == "s1"


def test_scan_over_tls_with_etcdctl_environment(
    etcd_tls_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    _seed_tls(etcd_tls_server, tmp_path)
    env = {**etcd_tls_server.env(), "ETCDCTL_USER": f"root:{ROOT_PASSWORD}"}
    r = kubecrypt("etcd", "scan", "--resources", "secrets", env=env)
    assert r.returncode == 0, r.stderr
    assert "all 3 secrets are encrypted" in r.stdout.decode()
    # The same environment works for etcdctl itself: one setup for both tools.
    e = subprocess.run(["etcdctl", "get", "--prefix", "--keys-only", "/registry/secrets/tls/"],
                       env={**os.environ, **env}, capture_output=True, check=False, timeout=30)
    assert e.returncode == 0 and b"/registry/secrets/tls/s0" in e.stdout


@pytest.mark.slow
def test_tls_failures_are_one_line(
    etcd_tls_server: EtcdServer, tls_material: dict[str, dict[str, Path]], kubecrypt: Kubecrypt
) -> None:
    env = {**etcd_tls_server.env(), "ETCDCTL_USER": f"root:{ROOT_PASSWORD}"}
    cases = [
        ({"ETCDCTL_CACERT": str(tls_material["other"]["ca"])}, b"TLS handshake failed"),
        ({"ETCDCTL_CERT": str(tls_material["other"]["client_cert"]),
          "ETCDCTL_KEY": str(tls_material["other"]["client_key"])}, etcd_tls_server.endpoint.encode()),
        ({"ETCDCTL_USER": "root:wrong"}, b"rejected the credentials"),
        ({"ETCDCTL_CACERT": "/nonexistent/ca.pem"}, b"cannot read --cacert /nonexistent/ca.pem"),
        ({"ETCDCTL_USER": "root"}, b"--user root has no password"),
    ]
    for change, message in cases:
        r = kubecrypt("etcd", "scan", "--dial-timeout", "2s", env={**env, **change}, input=b"")
        assert r.returncode == 1, (change, r.stderr)
        assert message in r.stderr, (change, r.stderr)
        assert r.stderr.count(b"\n") == 1 and r.stderr.startswith(b"error: ")
        assert r.stdout == b""


def test_scan_unreachable(kubecrypt: Kubecrypt, free_port: Callable[[], int]) -> None:
    port = free_port()
    r = kubecrypt("etcd", "scan", env={"ETCDCTL_ENDPOINTS": f"127.0.0.1:{port}"})
    assert r.returncode == 1
    assert r.stderr.decode().startswith(f"error: cannot connect to etcd at 127.0.0.1:{port}")
    r = kubecrypt("etcd", "scan", "--endpoints", "not-an-endpoint")
    assert r.returncode == 1 and b"is not host:port" in r.stderr


def test_progress_bar_on_a_terminal(etcd_server: EtcdServer) -> None:
    """stderr on a terminal shows rich's progress bar; stdout (piped) stays clean JSON."""
    exe = shutil.which("kubecrypt")
    argv = [exe] if exe else [sys.executable, "-m", "kubecrypt"]
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [*argv, "etcd", "scan", "--prefix", "/s3/registry", "-o", "json"],
            env={**os.environ, **etcd_server.env(), "COLUMNS": "100"}, stdout=subprocess.PIPE,
            stderr=slave, timeout=60, check=False,
        )
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    err = b"".join(chunks)
    assert b"scanning etcd" in err
    assert proc.stdout.startswith(b"{") or proc.stdout.startswith(b'{"summary"')
    assert json.loads(proc.stdout.splitlines()[-1])["summary"]
