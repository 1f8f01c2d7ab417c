"""``exec-env`` and ``exec-file``: hand decrypted values to a command without writing them to
a persistent file (sops cmd/sops/subcommand/exec)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from kubecrypt.sops.errors import SopsError
from kubecrypt.sops.tree import Branch
from kubecrypt.sops.values import Comment, is_string, val_to_string


def env_from(branches: list[Branch]) -> dict[str, str]:
    """Top-level values of the first document as environment variables, refused as sops
    refuses them (cmd/sops/main.go exec-env): a nested value, a non-string key or a key with
    ``=`` is an error; other scalars are spelled by sops' ValToString."""
    out: dict[str, str] = {}
    for k, v in branches[0] if branches else []:
        if isinstance(v, (Branch, list)):
            raise SopsError(
                f"cannot use complex value in environment; offending key {k}. exec-env needs a "
                "flat file (use exec-file for nested values).")
        if isinstance(k, Comment):
            continue
        if not isinstance(k, str):
            raise SopsError(f"cannot use non-string keys in environment, got {k!r}.")
        if "=" in k:
            raise SopsError(f"cannot use keys with '=' in environment: {k}. Rename the key.")
        out[k] = v if is_string(v) else val_to_string(v)
    return out


def run_with_env(command: str, env: dict[str, str], pristine: bool = False) -> int:
    base = {} if pristine else dict(os.environ)
    return subprocess.run(["/bin/sh", "-c", command], env={**base, **env},
                          check=False).returncode


def run_with_file(command: str, plaintext: bytes, filename: str = "tmp-file") -> int:
    """Writes the plaintext to a 0600 file in a private directory, replaces ``{}`` in the
    command with its path, runs it, and removes the file whatever happens."""
    if "/" in filename or filename in ("", ".", ".."):
        raise SopsError(f"--filename {filename!r} must be a plain file name.")
    tmpdir = tempfile.mkdtemp(prefix="kubecrypt-sops-exec-")
    try:
        os.chmod(tmpdir, 0o700)
        path = Path(tmpdir) / filename
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(plaintext)
        cmd = command.replace("{}", str(path)) if "{}" in command else f"{command} {path}"
        return subprocess.run(["/bin/sh", "-c", cmd], check=False).returncode
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
