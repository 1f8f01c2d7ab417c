"""PGP keys through the real ``gpg`` binary, as sops does (sops pgp/keysource.go): the data key
is encrypted to the key's fingerprint as an armored message; decryption asks gpg (and its
agent) for whichever secret key fits. ``GNUPGHOME`` and ``SOPS_GPG_EXEC`` are honoured."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import ClassVar

from kubecrypt.sops.keysources.base import KeySourceError, MasterKey, created_at_now


def _gpg() -> str:
    exe = os.environ.get("SOPS_GPG_EXEC") or "gpg"
    path = shutil.which(exe)
    if not path:
        raise KeySourceError(f"the gpg binary ({exe}) was not found on PATH; install gnupg")
    return path


def _run(args: list[str], data: bytes) -> bytes:
    try:
        p = subprocess.run([_gpg(), "--batch", "--no-tty", *args], input=data,
                           capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KeySourceError(f"could not run gpg: {exc}") from None
    if p.returncode != 0:
        last = p.stderr.decode(errors="replace").strip().splitlines()
        raise KeySourceError(f"gpg failed: {last[-1] if last else 'exit ' + str(p.returncode)}")
    return p.stdout


class PGPKey(MasterKey):
    type_name: ClassVar[str] = "pgp"

    def __init__(self, fingerprint: str, enc: str = "", created_at: str = "") -> None:
        self.fp = fingerprint.replace(" ", "").strip()
        self.enc = enc
        self.created_at = created_at

    def encrypt(self, data_key: bytes) -> None:
        out = _run(["--no-default-recipient", "--yes", "--trust-model", "always", "--armor",
                    "--encrypt", "--no-encrypt-to", "-r", self.fp], data_key)
        # sops writes the armor without gpg's final newline (a ``|-`` block in YAML).
        self.enc = out.decode().rstrip("\n")
        self.created_at = created_at_now()

    def decrypt(self) -> bytes:
        return _run(["--quiet", "--decrypt"], self.enc.encode())

    def to_dict(self) -> dict[str, object]:
        return {"created_at": self.created_at or created_at_now(), "enc": self.enc, "fp": self.fp}

    def ident(self) -> str:
        return self.fp
