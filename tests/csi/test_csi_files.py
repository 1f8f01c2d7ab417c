"""The driver's file layout: kubelet's atomic writer (``..data`` swapped in one rename, top-level
symlinks), paths the driver refuses, objects that disappear on the next mount."""

from __future__ import annotations

import os

import pytest

from kubecrypt.csi.files import path_problem, read_mounted, write_payloads
from kubecrypt.errors import InputError


def test_layout_and_rewrite(tmp_path):
    write_payloads(tmp_path, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600), "gone": (b"x", 0o644)})
    assert os.readlink(tmp_path / "a") == "..data/a"
    assert os.readlink(tmp_path / "..data").startswith("..20")
    assert (tmp_path / "dir" / "b").read_bytes() == b"2"
    assert os.stat(tmp_path / "dir" / "b").st_mode & 0o777 == 0o600
    first = os.readlink(tmp_path / "..data")
    write_payloads(tmp_path, {"a": (b"new", 0o644), "dir/b": (b"2", 0o600)})
    second = os.readlink(tmp_path / "..data")
    assert second != first and not (tmp_path / first).exists()
    assert (tmp_path / "a").read_bytes() == b"new"
    assert not os.path.lexists(tmp_path / "gone")
    assert read_mounted(tmp_path) == {"a": b"new", "dir/b": b"2"}


def test_legacy_file_replaced(tmp_path):
    (tmp_path / "a").write_bytes(b"written by an old provider")
    write_payloads(tmp_path, {"a": (b"1", 0o644)})
    assert (tmp_path / "a").is_symlink() and (tmp_path / "a").read_bytes() == b"1"


@pytest.mark.parametrize("path", ["", "/abs", "../x", "a/../b", "..hidden", "a//b", "a/"])
def test_bad_paths_refused_and_nothing_written(tmp_path, path):
    assert path_problem(path)
    with pytest.raises(InputError, match="the driver refuses it"):
        write_payloads(tmp_path, {"ok": (b"1", 0o644), path: (b"2", 0o644)})
    assert list(tmp_path.iterdir()) == []


def test_bad_mode_refused(tmp_path):
    with pytest.raises(InputError, match=r"0\.\.511"):
        write_payloads(tmp_path, {"ok": (b"1", 0o1000)})
