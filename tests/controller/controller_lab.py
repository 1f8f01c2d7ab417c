"""Helpers for the controller tests: controllers as processes, sealing with the library, the
real kubectl against the lab."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lab.conftest import LabHandle

from kubecrypt.lab import processes
from kubecrypt.lab import up as lab_up
from kubecrypt.sealed.keys import sealing_public_key
from kubecrypt.sealed.scope import Scope
from kubecrypt.sealed.seal import SealOptions, seal_secret

ISOLATED = "kubecrypt-test/isolated"  # SealedSecrets the session controller leaves alone
FAST = ("--key-size", "2048", "--retry-base", "0.2s", "--leader-elect-retry-period", "0.3s",
        "--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s")


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None
         ) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=body, headers=headers or {},
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(), dict(exc.headers)
    except (urllib.error.URLError, OSError):
        return 0, b"", {}


@dataclass
class ControllerProc:
    proc: subprocess.Popen[bytes] | None  # None: the lab's controller (lab.extra)
    port: int
    metrics_port: int
    log: Path
    namespace: str

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cert(self) -> bytes:
        status, body, _ = http(self.url("/v1/cert.pem"))
        assert status == 200, body
        return body

    def metric(self, series: str) -> float:
        _, body, _ = http(f"http://127.0.0.1:{self.metrics_port}/metrics")
        for line in body.decode().splitlines():
            name, _, value = line.rpartition(" ")
            if name == series:
                return float(value)
        return 0.0

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Env(LabHandle):
    """The lab's handle (``dir``: where the controllers' logs go) and the controllers started."""

    started: list[ControllerProc] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**super().env(), **lab_up.kubecrypt_env()}

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        p = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", "--ignore-not-found")
        return json.loads(p.stdout) if p.stdout.strip() else None

    def apply(self, obj: dict[str, Any] | str) -> None:
        text = obj if isinstance(obj, str) else yaml.safe_dump(obj)
        self.kubectl("apply", "-f", "-", input=text)

    def namespace(self, name: str) -> str:
        self.kubectl("create", "namespace", name)
        return name

    def start(self, namespace: str, *args: str, wait_cert: bool = True) -> ControllerProc:
        port, metrics_port = processes.free_port(), processes.free_port()
        log = self.dir / f"controller-{namespace}-{port}.log"
        argv = [sys.executable, "-m", "kubecrypt", "sealed", "controller",
                "--kubeconfig", str(self.lab.kubeconfig), "--namespace", namespace,
                "--listen-addr", f"127.0.0.1:{port}",
                "--listen-metrics-addr", f"127.0.0.1:{metrics_port}", *FAST, *args]
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    env=lab_up.kubecrypt_env())
        c = ControllerProc(proc, port, metrics_port, log, namespace)
        self.started.append(c)
        wait_for(lambda: proc.poll() is not None or
                 http(c.url("/v1/cert.pem" if wait_cert else "/healthz"))[0] == 200,
                 30, "the controller to serve")
        assert proc.poll() is None, c.logs()
        return c


def seal(cert: bytes, name: str, namespace: str, data: dict[str, bytes],
         scope: Scope = Scope.STRICT, labels: dict[str, str] | None = None,
         template: dict[str, Any] | None = None, annotations: dict[str, str] | None = None
         ) -> dict[str, Any]:
    """A SealedSecret made by the library, as ``kubecrypt seal`` (kubeseal) makes it."""
    secret: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, **(
            {"annotations": annotations} if annotations else {})},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
    if template:
        secret.update(template)
    out = seal_secret(secret, sealing_public_key(cert), SealOptions(scope=scope))
    if labels:
        out["metadata"].setdefault("labels", {}).update(labels)
    return out


def secret_data(secret: dict[str, Any]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
