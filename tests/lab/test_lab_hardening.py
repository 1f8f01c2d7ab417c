"""Issue 13 item 16: the lab's logs cannot be forged through the request path, its files and
directories are private whatever the umask or an existing directory's mode, and
``lab down --purge`` after ``demo --keep`` leaves no key behind."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kubecrypt.lab import up as lab_up
from kubecrypt.logsafe import escape

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _cli_with_umask(*args: str) -> subprocess.CompletedProcess[bytes]:
    """``kubecrypt`` run under ``umask 000``, the worst a user's shell can have."""
    return subprocess.run(["sh", "-c", 'umask 000; exec "$@"', "sh", sys.executable, "-m",
                           "kubecrypt", *args], capture_output=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": SRC})


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _raw_get(lab: lab_up.Lab, target: str) -> bytes:
    host, port = lab.server.removeprefix("https://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(lab.dir / "pki" / "ca.crt"))
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                    .encode())
        out = b""
        while chunk := tls.recv(65536):
            out += chunk
    return out


def test_private_modes_and_unforgeable_log(tmp_path: Path) -> None:
    d = tmp_path / "lab"
    d.mkdir(mode=0o755)
    d.chmod(0o755)  # an existing, world-readable directory
    r = _cli_with_umask("lab", "up", "--dir", str(d), "--encryption", "aesgcm")
    try:
        assert r.returncode == 0, r.stderr
        assert _mode(d) == 0o700
        assert _mode(d / "pki") == 0o700
        logs = sorted(d.glob("*.log"))
        assert {p.name for p in logs} >= {"etcd.log", "apiserver.log"}
        for log in logs:
            assert _mode(log) == 0o600, log

        lab = lab_up.Lab.load(d)
        assert lab is not None
        forged = "INFO kubecrypt.lab.access GET /api 200 0.1ms admin-did-this"
        answer = _raw_get(lab, "/version%0d%0a" + forged.replace(" ", "%20"))
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        text = (d / "apiserver.log").read_text()
        assert not any(line.startswith(forged) or line.startswith("INFO kubecrypt.lab.access")
                       for line in text.splitlines())
        assert "/version\\x0d\\x0a" + forged in text
    finally:
        subprocess.run([sys.executable, "-m", "kubecrypt", "lab", "down", "--dir", str(d),
                        "--purge"], capture_output=True, timeout=120, check=False,
                       env={**os.environ, "PYTHONPATH": SRC})


def test_escape_keeps_one_record_on_one_line() -> None:
    assert escape("a\r\nb\x1b[31m\x7f\u2028c") == "a\\x0d\\x0ab\\x1b[31m\\x7f\\u2028c"
    assert escape("plain/path?x=1") == "plain/path?x=1"


@pytest.mark.slow
def test_purge_after_demo_keep_leaves_nothing(
        kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]], tmp_path: Path) -> None:
    d = tmp_path / "demo"
    p = kubecrypt("demo", "--dir", str(d), "--keep", timeout=300)
    assert p.returncode == 0, p.stderr
    assert any((d / "sealed-keys").iterdir())  # the Sealed Secrets private key
    p = kubecrypt("lab", "down", "--dir", str(d), "--purge")
    assert p.returncode == 0, p.stderr
    assert not d.exists(), sorted(str(x) for x in d.rglob("*"))
