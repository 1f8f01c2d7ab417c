"""The one atomic file writer: modes of new and existing files, nothing left behind on failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubecrypt.fileio import atomic_write


def test_new_file_gets_new_mode(tmp_path: Path) -> None:
    target = tmp_path / "key"
    atomic_write(target, b"secret", new_mode=0o600)
    assert target.read_bytes() == b"secret"
    assert target.stat().st_mode & 0o777 == 0o600


def test_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "doc"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write(target, b"new", new_mode=0o600)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640


def test_explicit_mode_wins(tmp_path: Path) -> None:
    target = tmp_path / "doc"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    atomic_write(target, b"new", 0o600)
    assert target.stat().st_mode & 0o777 == 0o600


def test_failure_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "doc"
    target.write_bytes(b"old")


    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["doc"]
