"""Fixtures for the KMS tests: a real ``kubecrypt kms serve`` subprocess on a real unix socket."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_azure_keyvault import fake_azure_keyvault  # noqa: F401  (a Key Vault fake)
from fake_gcp_kms import fake_gcp_kms  # noqa: F401  (a Cloud KMS fake)
from moto_kms import moto  # noqa: F401  (the moto_server fixture)

HERE = Path(__file__).resolve().parent


def kubecrypt_argv() -> list[str]:
    exe = shutil.which("kubecrypt")
    return [exe] if exe else [sys.executable, "-m", "kubecrypt"]


def short_tmpdir() -> str:
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path can be longer.
    return tempfile.mkdtemp(prefix="kc-kms-", dir="/tmp")


def env_with_tests_path(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*parts, str(HERE)])
    env.update(extra or {})
    return env


def _connectable(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect("\0" + path[1:] if path.startswith("@") else path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Plugin:
    """One ``kubecrypt kms serve`` process; ``restart()`` starts it again on the same socket."""

    def __init__(self, argv: list[str], path: str, env: dict[str, str], log: Path) -> None:
        self.argv = argv
        self.path = path
        self.endpoint = "unix://" + ("/" + path if path.startswith("@") else path)
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Plugin:
        self._logf = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.argv, stdout=self._logf, stderr=subprocess.STDOUT,
                                     env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"plugin exited with {self.proc.returncode}: {self.output()}")
            if _connectable(self.path):
                return self
            time.sleep(0.02)
        raise AssertionError(f"plugin did not listen on {self.path}: {self.output()}")

    def wait_serving(self, timeout: float = 20.0) -> Plugin:
        """Until the plugin has logged "serving KMS": its socket opens before its first Status,
        so a test that counts backend calls, or takes the backend away, waits for that one."""
        deadline = time.monotonic() + timeout
        while "serving KMS" not in self.output():
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.02)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self._logf.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=15)
        self._logf.close()

    def restart(self) -> Plugin:
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.terminate()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=15)


StartPlugin = Callable[..., Plugin]


@pytest.fixture
def socket_dir() -> Iterator[str]:
    d = short_tmpdir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def start_plugin(socket_dir: str) -> Iterator[StartPlugin]:
    """``start_plugin(backend, config=dict|None, api="v2,v1", extra=[...])`` starts a plugin."""
    plugins: list[Plugin] = []

    def start(backend: str, config: dict[str, Any] | None = None, *, api: str = "v2,v1",
              extra: list[str] | None = None, path: str | None = None,
              env: dict[str, str] | None = None, name: str = "plugin") -> Plugin:
        path = path or os.path.join(socket_dir, f"{name}.sock")
        argv = [*kubecrypt_argv(), "kms", "serve", "--listen",
                "unix://" + ("/" + path if path.startswith("@") else path),
                "--backend", backend, "--api", api, *(extra or [])]
        if config is not None:
            cfg = Path(socket_dir) / f"{name}-backend.json"
            cfg.write_text(json.dumps(config))
            argv += ["--backend-config", str(cfg)]
        plugin = Plugin(argv, path, env_with_tests_path(env), Path(socket_dir) / f"{name}.log")
        plugins.append(plugin)
        return plugin.start()

    try:
        yield start
    finally:
        for p in plugins:
            p.stop()


@pytest.fixture
def keyring_path(socket_dir: str) -> str:
    from kubecrypt.kms import keyring

    path = os.path.join(socket_dir, "keyring.json")
    keyring.init(path)
    return path


@pytest.fixture
def local_plugin(start_plugin: StartPlugin, keyring_path: str) -> Plugin:
    return start_plugin("local", {"keyring": keyring_path})
