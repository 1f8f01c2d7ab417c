"""The unix socket a local gRPC server listens on: the KMS plugin (``kms serve``) and the Secrets
Store CSI provider (``csi serve``) both serve kubelet-side or apiserver-side clients over one.

Both need the same care, so it is written once here: a stale socket (a file nobody answers on,
left by a killed server) is replaced, a live one or a non-socket file is refused; the socket is
created under a tight umask so it is 0600 from the first instant (only root, or the user the
client runs as, may dial it); and on shutdown it is removed only if it is still ours, since a
newer server may already have replaced it. ``@name`` paths are Linux abstract sockets: no file,
so nothing to clear, chmod or remove.

A leaf module (only :mod:`kubecrypt.errors` below it) so ``kms/`` and ``csi/`` can share it
without either importing the other's server."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import grpc

from kubecrypt.errors import ConfigError


def grpc_target(path: str) -> str:
    """The grpcio target for a socket path (``@name``: the abstract socket ``name``)."""
    return f"unix-abstract:{path[1:]}" if path.startswith("@") else f"unix:{path}"


class UnixSocket:
    """``path``: the socket file (or ``@name``); ``shown``: how errors name it (the ``--listen``
    URL, or the path); ``flag``: the setting a user changes to pick another one; ``dir_mode``:
    the mode of a parent directory created for it."""

    def __init__(self, path: str, *, shown: str, flag: str, dir_mode: int,
                 log: logging.Logger) -> None:
        self.path = path
        self.shown = shown
        self.flag = flag
        self.dir_mode = dir_mode
        self.log = log
        self.abstract = path.startswith("@")
        self._inode: int | None = None

    def serve(self, server: grpc.Server) -> None:
        """Binds ``server`` to the socket, starts it, and claims the socket file."""
        self.bind(server)
        server.start()
        self.claim()

    def shutdown(self, server: grpc.Server, grace: float) -> None:
        """Stops ``server`` (in-flight calls get ``grace`` seconds), then removes our socket."""
        server.stop(grace).wait()
        self.remove()

    def bind(self, server: grpc.Server) -> None:
        """Clears a stale socket, creates the directory, and binds ``server`` to the socket."""
        if not self.abstract:
            self._clear_stale()
            parent = Path(self.path).parent
            if not parent.is_dir():
                try:
                    parent.mkdir(mode=self.dir_mode, parents=True)
                except OSError as exc:
                    raise ConfigError(
                        f"cannot create socket directory {parent}: {exc.strerror}"
                    ) from None
        # The socket is created by bind(); a tight umask makes it 0600 from the first instant.
        old_umask = os.umask(0o177)
        try:
            bound = server.add_insecure_port(grpc_target(self.path))
        except RuntimeError as exc:
            raise ConfigError(f"cannot listen on {self.shown}: {exc}") from None
        finally:
            os.umask(old_umask)
        if not bound:
            raise ConfigError(
                f"cannot listen on {self.shown}; check the directory exists and is writable"
            )

    def claim(self) -> None:
        """After the server started: 0600 whatever happened, and remember which file is ours."""
        if self.abstract:
            return
        os.chmod(self.path, 0o600)
        self._inode = os.lstat(self.path).st_ino

    def remove(self) -> None:
        """Removes the socket file if it is still the one :meth:`claim` saw."""
        if self._inode is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)

    def _clear_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ConfigError(
                f"{self.path} exists and is not a socket; remove it or choose another {self.flag}"
            )
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(self.path)
        except (ConnectionRefusedError, FileNotFoundError):
            self.log.info("removing stale socket %s", self.path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return
        except OSError:
            pass
        finally:
            probe.close()
        raise ConfigError(f"another process is already serving on {self.shown}; stop it or "
                          f"choose another {self.flag}")


SIGNAL_POLL_SECONDS = 0.2


def run_until_signal(start: Callable[[], None], stop: Callable[[], None],
                     log: logging.Logger) -> None:
    """Calls ``start``, then waits for SIGTERM or SIGINT and calls ``stop`` (also when ``start``
    fails); the previous signal handlers are put back."""
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        start()
        # Short waits, not one long one: a signal that the kernel hands to one of gRPC's threads
        # only flags Python's handler, which runs when the main thread next runs bytecode; a
        # main thread blocked in one long wait would leave SIGTERM unanswered for that long.
        while not done.wait(SIGNAL_POLL_SECONDS):
            pass
    finally:
        stop()
        for s, h in previous.items():
            signal.signal(s, h)
