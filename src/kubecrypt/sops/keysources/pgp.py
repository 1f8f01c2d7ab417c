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
    """gpg's output; a failure as sops words it: gpg's whole stderr, trimmed (or its exit
    status when it printed nothing)."""
    try:
        p = subprocess.run([_gpg(), "--batch", "--no-tty", *args], input=data,
                           capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KeySourceError(f"could not run gpg: {exc}") from None
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip()
        raise KeySourceError(err or f"exit status {p.returncode}")
    return p.stdout


def _gnupg_home() -> str:
    """sops' gnuPGHome: $GNUPGHOME, else the user's home directory's .gnupg."""
    home = os.environ.get("GNUPGHOME")
    if home:
        return home
    import pwd

    try:
        return os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".gnupg")
    except KeyError:
        return os.path.join(os.environ.get("HOME", ""), ".gnupg")


def _openpgp_error(decrypting: bool, fp: str) -> str:
    """What sops' first attempt, the Go OpenPGP library on the legacy keyrings, says before it
    falls back to gpg (kubecrypt only uses gpg; the legacy rings are gone since GnuPG 2.1)."""
    home = _gnupg_home()
    ring = os.path.join(home, "pubring.gpg")
    if decrypting and not os.path.lexists(os.path.join(home, "secring.gpg")) \
            and not os.path.lexists(ring):
        return (f"github.com/ProtonMail/go-crypto/openpgp error: could not load secring: "
                f"open {ring}: no such file or directory; ")
    if not decrypting:
        return (f"github.com/ProtonMail/go-crypto/openpgp error: key with fingerprint '{fp}' "
                "is not available in keyring; ")
    return ""


def _short_id(fp: str) -> str:
    """sops' shortenFingerprint: the last 16 hex digits (and a final '!'), which gpg's
    --trusted-key must read as a long key ID: a short ID or a name is refused there."""
    offset = len(fp) - 16 - (1 if fp.endswith("!") else 0)
    return fp[offset:] if offset > 0 else fp


class PGPKey(MasterKey):
    type_name: ClassVar[str] = "pgp"

    def __init__(self, fingerprint: str, enc: str = "", created_at: str = "") -> None:
        self.fp = fingerprint.replace(" ", "").strip()
        self.enc = enc
        self.created_at = created_at

    def encrypt(self, data_key: bytes) -> None:
        # sops' encryptWithGnuPG arguments (the key trusted through --trusted-key)
        try:
            out = _run(["--no-default-recipient", "--yes", "--encrypt", "-a", "-r", self.fp,
                        "--trusted-key", _short_id(self.fp), "--no-encrypt-to"], data_key)
        except KeySourceError as exc:
            raise KeySourceError(
                f"could not encrypt data key with PGP key: {_openpgp_error(False, self.fp)}"
                f"GnuPG binary error: failed to encrypt sops data key with pgp: {exc}") from None
        # sops writes the armor without gpg's final newline (a ``|-`` block in YAML).
        self.enc = out.decode().rstrip("\n")
        self.created_at = created_at_now()

    def decrypt(self) -> bytes:
        try:
            out = _run(["-d"], self.enc.encode())
            if not out:  # sops: an old gpg drops an AEAD packet it cannot read
                raise KeySourceError("zero bytes returned")
        except KeySourceError as exc:
            raise KeySourceError(
                f"could not decrypt data key with PGP key: {_openpgp_error(True, self.fp)}"
                f"GnuPG binary error: failed to decrypt sops data key with pgp: {exc}") from None
        return out

    def to_dict(self) -> dict[str, object]:
        return {"created_at": self.created_at or created_at_now(), "enc": self.enc, "fp": self.fp}

    def ident(self) -> str:
        return self.fp
