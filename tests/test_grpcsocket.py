"""The shared unix-socket handling of ``kms serve`` and ``csi serve`` (kubecrypt.grpcsocket)."""

from __future__ import annotations

import logging
import os
import socket
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from kubecrypt.errors import ConfigError
from kubecrypt.grpcsocket import UnixSocket, grpc_target

log = logging.getLogger("test")


def _sock(path: Path) -> UnixSocket:
    return UnixSocket(str(path), shown=f"unix://{path}", flag="--listen path", dir_mode=0o700,
                      log=log)


def test_bind_makes_a_0600_socket_and_removes_only_its_own(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "a.sock"
    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    s = _sock(path)
    s.bind(server)
    server.start()
    try:
        s.claim()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        # Someone replaced the socket: it is not ours any more, so it stays.
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX)
        other.bind(str(path))
        other.close()
        s.remove()
        assert path.exists()
    finally:
        server.stop(None).wait()


def test_stale_replaced_live_and_non_socket_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    _sock(path).bind(server)  # nobody answered: replaced
    server.start()
    try:
        with pytest.raises(ConfigError, match=r"already serving on unix://.*--listen path"):
            _sock(path).bind(grpc.server(ThreadPoolExecutor(max_workers=1)))
    finally:
        server.stop(None)
    plain = tmp_path / "file"
    plain.write_text("x")
    with pytest.raises(ConfigError, match="is not a socket; remove it or choose another --socket"):
        UnixSocket(str(plain), shown=str(plain), flag="--socket", dir_mode=0o755,
                   log=log).bind(grpc.server(ThreadPoolExecutor(max_workers=1)))
    assert plain.read_text() == "x"


def test_abstract_socket_target() -> None:
    assert grpc_target("@kms") == "unix-abstract:kms"
    assert grpc_target("/run/kms.sock") == "unix:/run/kms.sock"


_SIGNAL_FROM_ANOTHER_THREAD = """
import logging, signal, threading, time
from kubecrypt.grpcsocket import run_until_signal

def deliver():
    time.sleep(0.5)  # the main thread is waiting by now
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    time.sleep(30)  # as gRPC's threads do, this one stays

def start():
    # As when the kernel hands SIGTERM to one of gRPC's threads instead of the main thread.
    threading.Thread(target=deliver, daemon=True).start()

run_until_signal(start, lambda: print("stopped", flush=True), logging.getLogger("t"))
"""


def test_sigterm_taken_by_another_thread_still_stops_the_server() -> None:
    """A SIGTERM delivered to a thread other than the main one must stop the server promptly; the
    main thread once slept in a single hour-long wait and answered it an hour late."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _SIGNAL_FROM_ANOTHER_THREAD], capture_output=True,
                          text=True, timeout=20, env={**os.environ,
                                                      "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "stopped\n"
