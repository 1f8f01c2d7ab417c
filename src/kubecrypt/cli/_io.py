"""Small I/O helpers shared by the commands: binary stdin and stdout."""

from __future__ import annotations

import sys

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
