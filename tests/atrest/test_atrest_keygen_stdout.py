"""Issue 13 item 17: ``atrest keygen > file`` gets the shell's umask, not 0600; keygen warns on
stderr when stdout is a regular file that group or others can read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _keygen_to(target: Path, mode: int) -> subprocess.CompletedProcess[bytes]:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.chmod(target, mode)  # not subject to the umask
    try:
        return subprocess.run([sys.executable, "-m", "kubecrypt", "atrest", "keygen"],
                              stdout=fd, stderr=subprocess.PIPE, timeout=60, check=False,
                              env={**os.environ, "PYTHONPATH": SRC})
    finally:
        os.close(fd)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_redirect_target_is_warned(tmp_path: Path, mode: int) -> None:
    out = tmp_path / "config.yaml"
    r = _keygen_to(out, mode)
    assert r.returncode == 0
    err = r.stderr.decode()
    assert err.startswith("warning: stdout is a file that group or others can read")
    assert f"mode {mode:04o}" in err and "-o FILE" in err and err.count("\n") == 1
    assert b"secret:" in out.read_bytes()  # the output is still written
    assert out.read_bytes().split(b"secret:")[1].split()[0] not in r.stderr  # no key in stderr


def test_private_file_and_pipe_are_not_warned(tmp_path: Path) -> None:
    r = _keygen_to(tmp_path / "config.yaml", 0o600)
    assert r.returncode == 0 and r.stderr == b""
    piped = subprocess.run([sys.executable, "-m", "kubecrypt", "atrest", "keygen"],
                           capture_output=True, timeout=60, check=False,
                           env={**os.environ, "PYTHONPATH": SRC})
    assert piped.returncode == 0 and piped.stderr == b"" and b"secret:" in piped.stdout


def test_readme_no_longer_claims_a_redirect_is_0600() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "> encryption-config.yaml   # file is 0600" not in readme
    assert "-o encryption-config.yaml" in readme
