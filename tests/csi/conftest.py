"""Fixtures for the CSI provider tests: a real ``kubecrypt csi serve`` process on a unix socket,
an OpenBao dev server (``bao server -dev``) with KV v2, and a JWT auth mount that trusts a local
signing key, so login works like Kubernetes auth without a cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import hvac
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from openbao import dev_server

ROOT_TOKEN = "kubecrypt-csi-root"
JWT_MOUNT = "k8s-jwt"
APP_POLICY = """
path "secret/data/app/*" { capabilities = ["read"] }
"""


def kubecrypt_argv() -> list[str]:
    exe = shutil.which("kubecrypt")
    return [exe] if exe else [sys.executable, "-m", "kubecrypt"]


@dataclass
class Bao:
    addr: str
    signing_key: ec.EllipticCurvePrivateKey

    def root(self) -> hvac.Client:
        return hvac.Client(url=self.addr, token=ROOT_TOKEN, timeout=5)

    def token_for(self, namespace: str, sa: str, audience: str = "vault",
                  pod: str = "app-0") -> str:
        from kubecrypt.satoken.issue import ObjectRef, TokenIssuer

        issuer = TokenIssuer(self.signing_key, "https://kubernetes.default.svc.cluster.local")
        return issuer.issue(namespace=namespace, service_account=ObjectRef(sa, f"uid-{sa}"),
                            audiences=[audience], expiration_seconds=600, now=int(time.time()),
                            pod=ObjectRef(pod, f"uid-{pod}"))


@pytest.fixture(scope="session")
def bao() -> Iterator[Bao]:
    with dev_server(ROOT_TOKEN) as (addr, _):
        root = hvac.Client(url=addr, token=ROOT_TOKEN, timeout=2)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        root.sys.enable_auth_method("jwt", path=JWT_MOUNT)
        root.write(f"auth/{JWT_MOUNT}/config", jwt_validation_pubkeys=[pem.decode()])
        root.sys.create_or_update_policy(name="app", policy=APP_POLICY)
        root.write(f"auth/{JWT_MOUNT}/role/app", role_type="jwt", user_claim="sub",
                   bound_audiences=["vault"],
                   bound_subject="system:serviceaccount:default:app", token_policies=["app"],
                   token_ttl="10m")
        root.secrets.kv.v2.create_or_update_secret(
            path="app/db", secret={"username": "admin", "password": "s3cr3t-v1",
                                   "port": 5432, "blob": "aGVsbG8="})
        yield Bao(addr, key)


@dataclass
class Served:
    socket: str
    proc: subprocess.Popen[bytes]
    dir: str
    log: Path

    def channel(self) -> grpc.Channel:
        # As the driver dials: unix:<path>, authority "localhost".
        return grpc.insecure_channel(f"unix:{self.socket}",
                                     options=[("grpc.default_authority", "localhost")])

    def stderr(self) -> str:
        return self.log.read_text()


def short_tmpdir() -> str:
    return tempfile.mkdtemp(prefix="kc-csi-", dir="/tmp")


def wait_for_socket(path: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise AssertionError(f"csi serve exited: {log.read_text()}")
        assert time.monotonic() < deadline, "csi serve did not create its socket"
        time.sleep(0.05)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*extra: str, name: str = "kubecrypt", env: dict[str, str] | None = None) -> Served:
        d = short_tmpdir()
        sock = os.path.join(d, f"{name}.sock")
        log = Path(d) / "serve.log"
        full_env = {**os.environ, **(env or {})}
        full_env.pop("KUBECONFIG", None)
        with log.open("wb") as fh:
            proc = subprocess.Popen([*kubecrypt_argv(), "csi", "serve", "--socket", sock,
                                     "--no-kube", *extra], stdout=fh, stderr=fh, env=full_env)
        served = Served(sock, proc, d, log)
        started.append(served)
        wait_for_socket(sock, proc, log)
        return served

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
            try:
                s.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                s.proc.kill()
        shutil.rmtree(s.dir, ignore_errors=True)


def attributes(objects: str, **extra: Any) -> dict[str, str]:
    """SPC parameters plus the volume context the driver adds for pod default/app-0."""
    out = {"objects": objects, "secretProviderClass": "app-spc",
           "csi.storage.k8s.io/pod.name": "app-0", "csi.storage.k8s.io/pod.namespace": "default",
           "csi.storage.k8s.io/pod.uid": "uid-app-0",
           "csi.storage.k8s.io/serviceAccount.name": "app",
           "csi.storage.k8s.io/ephemeral": "false"}
    out.update({k: str(v) for k, v in extra.items()})
    return out
