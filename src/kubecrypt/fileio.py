"""Writing files so that a failure never leaves a half-written one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(
    path: str | Path, data: bytes, mode: int | None = None, *, new_mode: int | None = None
) -> None:
    """Temp file in the same directory, fsync, then ``os.replace``. ``mode`` defaults to the
    existing file's mode; a new file gets ``new_mode`` (0600 for anything secret), else 0666
    minus umask, as ``open()`` would give it."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            if new_mode is not None:
                mode = new_mode
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
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
