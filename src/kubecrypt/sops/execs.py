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
from kubecrypt.sops.values import Comment, val_to_string


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
        out[k] = val_to_string(v)
    return out


# Go's names of the signals a command most often dies of (syscall.Signal.String()).
_SIGNALS = {1: "hangup", 2: "interrupt", 3: "quit", 6: "aborted", 9: "killed",
            11: "segmentation fault", 13: "broken pipe", 15: "terminated"}


def _finish(rc: int) -> int:
    """sops passes a failed command's status on (toExitError): "exit status N" and exit N; a
    command killed by a signal, "signal: killed" and exit 255 (Go's ExitCode() of -1)."""
    if rc == 0:
        return 0
    if rc > 0:
        err = SopsError(f"exit status {rc}")
        err.exit_code = rc
    else:
        err = SopsError(f"signal: {_SIGNALS.get(-rc, f'signal {-rc}')}")
        err.exit_code = 255
    raise err


def run_with_env(command: str, env: dict[str, str], pristine: bool = False) -> int:
    base = {} if pristine else dict(os.environ)
    if any("\0" in v for v in env.values()) or any("\0" in k for k in env):
        # sops (Go's exec): "exec: environment variable contains NUL", exit 1
        raise SopsError("exec: environment variable contains NUL; a value with a NUL "
                        "character cannot be passed in the environment (use exec-file).")
    return _finish(subprocess.run(["/bin/sh", "-c", command], env={**base, **env},
                                  check=False).returncode)


def run_with_file(command: str, plaintext: bytes, filename: str = "tmp-file") -> int:
    """Writes the plaintext to a 0600 file in a private directory, replaces ``{}`` in the
    command with its path (a command without ``{}`` is run as it is, as in sops), runs it,
    and removes the file whatever happens."""
    if "/" in filename or filename in ("", ".", ".."):
        raise SopsError(f"--filename {filename!r} must be a plain file name.")
    tmpdir = tempfile.mkdtemp(prefix="kubecrypt-sops-exec-")
    try:
        os.chmod(tmpdir, 0o700)
        path = Path(tmpdir) / filename
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(plaintext)
        cmd = command.replace("{}", str(path))
        return _finish(subprocess.run(["/bin/sh", "-c", cmd], check=False).returncode)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
