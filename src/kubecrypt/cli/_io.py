"""Small I/O helpers shared by the commands: binary stdin/stdout and private files."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from kubecrypt.errors import InputError


def read_stdin_bytes(what: str) -> bytes:
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError(
            f"expected {what} on stdin; pipe them in (for example: ... | kubecrypt ...)"
        )
    data = sys.stdin.buffer.read()
    if not data:
        raise InputError(f"stdin is empty; expected {what}")
    return data


def write_stdout_bytes(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def write_private_file(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Write atomically (temp file in the same directory, then rename) with ``mode`` from the start."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
