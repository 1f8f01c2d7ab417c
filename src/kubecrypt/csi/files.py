"""Writing a provider's files as the driver does (``fileutil.WritePayloads`` on kubelet's
``AtomicWriter``): every file goes into a fresh ``..YYYY_MM_DD_HH_MM_SS.<random>`` directory, the
``..data`` symlink is swapped to it in one rename, and each top-level name is a symlink through
``..data``, so a reader sees the old set or the new set, never a mix."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from kubecrypt.errors import InputError

DATA_DIR = "..data"


def path_problem(path: str) -> str | None:
    """Why the driver would refuse this File.path (fileutil.Validate's rules), or None."""
    if not path:
        return "is empty"
    if path.startswith("/"):
        return "is absolute"
    if path.startswith(".."):
        return "starts with '..'"
    if ".." in path.split("/"):
        return "contains '..'"
    if os.path.normpath(path) != path:
        return "is not clean (no '.', '//' or trailing '/')"
    return None


def write_payloads(target: str | Path, files: Mapping[str, tuple[bytes, int]]) -> None:
    """``files``: relative path -> (contents, mode). Refuses the whole set on one bad path."""
    root = Path(target)
    for name, (_, mode) in files.items():
        problem = path_problem(name)
        if problem:
            raise InputError(f"the provider returned file {name!r}, whose path {problem}; the "
                             "driver refuses it, fix the provider's objectName")
        if not 0 <= mode <= 0o777:
            raise InputError(f"the provider returned file {name!r} with mode {mode}; the driver "
                             "accepts 0..511")
    root.mkdir(parents=True, exist_ok=True)
    # Files a legacy provider wrote directly (not our symlinks) would never be updated.
    for top in {n.split("/")[0] for n in files}:
        p = root / top
        if p.exists() and not p.is_symlink():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    stamp = dt.datetime.now(dt.UTC).strftime("..%Y_%m_%d_%H_%M_%S.")
    new_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=root))
    os.chmod(new_dir, 0o755)
    for name, (contents, mode) in files.items():
        p = new_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(contents)
        os.chmod(p, mode)
    data = root / DATA_DIR
    old = os.readlink(data) if data.is_symlink() else None
    tmp_link = root / "..data_tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(new_dir.name, tmp_link)
    os.replace(tmp_link, data)
    tops = {n.split("/")[0] for n in files}
    for top in tops:
        link = root / top
        if not link.is_symlink():
            os.symlink(f"{DATA_DIR}/{top}", link)
    for entry in root.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.is_symlink() and entry.name not in tops:
            entry.unlink()  # an object the new set no longer has
    if old and old != new_dir.name:
        shutil.rmtree(root / old, ignore_errors=True)


def read_mounted(target: str | Path) -> dict[str, bytes]:
    """Every file under the mount (through ``..data``), by relative path."""
    root = Path(target) / DATA_DIR
    out: dict[str, bytes] = {}
    if not root.is_dir():
        return out
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            out[str(p.relative_to(root))] = p.read_bytes()
    return out
