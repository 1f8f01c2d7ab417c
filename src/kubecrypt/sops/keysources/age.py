"""age recipients (sops age/keysource.go): one armored age file per recipient wrapping the data
key; identities from SSH keys, ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY_CMD`` and
the default ``<config dir>/sops/age/keys.txt``, all loaded and tried together."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, ClassVar

from kubecrypt.sops.keysources.base import KeySourceError, MasterKey

_identity_cache: dict[tuple[str, ...], tuple[list[Any], list[str]]] = {}


# os.path rather than pathlib: pathlib (with urllib.parse and ipaddress behind it) costs
# milliseconds of every ``kubecrypt sops decrypt`` start.
def _home() -> str:
    return os.path.expanduser("~")


def default_key_file() -> str:
    if sys.platform == "darwin" and not os.environ.get("XDG_CONFIG_HOME"):
        base = os.path.join(_home(), "Library", "Application Support")
    elif sys.platform == "win32":
        base = os.environ.get("APPDATA", _home())
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(_home(), ".config")
    return os.path.join(base, "sops", "age", "keys.txt")


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _parse_identities(text: str, where: str) -> list[Any]:
    import pyrage

    out: list[Any] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                out.append(pyrage.x25519.Identity.from_str(line))
            except Exception:
                raise KeySourceError(f"failed to parse an age identity in {where}") from None
        elif line.startswith("AGE-PLUGIN-"):
            raise KeySourceError(f"age plugin identities ({where}) are not supported by kubecrypt")
        else:
            raise KeySourceError(f"{where} holds a line that is not an age identity")
    return out


def _ssh_identity(path: str) -> Any:
    import pyrage

    try:
        with open(path, "rb") as f:
            data = f.read()
        return pyrage.ssh.Identity.from_buffer(data)
    except Exception as exc:
        raise KeySourceError(f"failed to parse the SSH key {path}: {exc}") from None


def load_identities() -> tuple[list[Any], list[str]]:
    """(identities, locations that yielded nothing), sops' search order."""
    env = os.environ
    cache_key = tuple(env.get(v, "") for v in (
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD",
        "HOME", "XDG_CONFIG_HOME"))
    if cache_key in _identity_cache:
        return _identity_cache[cache_key]
    ids: list[Any] = []
    missing: list[str] = []
    ssh_file = env.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    if ssh_file:
        ids.append(_ssh_identity(ssh_file))
    else:
        missing.append("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        for name in ("id_ed25519", "id_rsa"):
            p = os.path.join(_home(), ".ssh", name)
            if os.path.isfile(p):
                # an encrypted or unusual SSH key: sops skips it as well
                with contextlib.suppress(KeySourceError):
                    ids.append(_ssh_identity(p))
            else:
                missing.append(p)
    if env.get("SOPS_AGE_KEY"):
        ids += _parse_identities(env["SOPS_AGE_KEY"], "SOPS_AGE_KEY")
    else:
        missing.append("SOPS_AGE_KEY")
    if env.get("SOPS_AGE_KEY_CMD"):
        import shlex
        import subprocess

        try:
            out = subprocess.run(shlex.split(env["SOPS_AGE_KEY_CMD"]), capture_output=True,
                                 check=True, timeout=60).stdout.decode()
        except (OSError, subprocess.SubprocessError) as exc:
            raise KeySourceError(f"SOPS_AGE_KEY_CMD failed: {exc}") from None
        ids += _parse_identities(out, "SOPS_AGE_KEY_CMD")
    else:
        missing.append("SOPS_AGE_KEY_CMD")
    key_file = env.get("SOPS_AGE_KEY_FILE")
    if key_file:
        try:
            ids += _parse_identities(_read_text(key_file), key_file)
        except OSError as exc:
            raise KeySourceError(f"failed to open SOPS_AGE_KEY_FILE {key_file}: {exc}") from None
    else:
        missing.append("SOPS_AGE_KEY_FILE")
    default = default_key_file()
    if os.path.isfile(default):
        ids += _parse_identities(_read_text(default), default)
    _identity_cache[cache_key] = (ids, missing)
    return ids, missing


def _locations(missing: list[str]) -> str:
    quoted = [f"'{m}'" for m in missing]
    if len(quoted) > 1:
        return ", ".join(quoted[:-1]) + ", and " + quoted[-1]
    return "".join(quoted)


def parse_recipient(text: str) -> Any:
    import pyrage

    r = text.strip()
    try:
        # Any age1... string: plugin and post-quantum recipients simply fail to parse here
        # (an X25519 recipient may itself start with "age1pq...").
        if r.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(r)
        if r.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            return pyrage.ssh.Recipient.from_str(r)
    except Exception:
        pass
    raise KeySourceError(f"{r!r} is not a valid age recipient (age1..., ssh-ed25519 or ssh-rsa)")


class AgeKey(MasterKey):
    type_name: ClassVar[str] = "age"

    def __init__(self, recipient: str, enc: str = "") -> None:
        self.recipient = recipient.strip()
        self.enc = enc

    def encrypt(self, data_key: bytes) -> None:
        import pyrage

        self.enc = pyrage.encrypt(data_key, [parse_recipient(self.recipient)],
                                  armored=True).decode()

    def decrypt(self) -> bytes:
        import pyrage

        ids, missing = load_identities()
        if not ids:
            raise KeySourceError(
                f"failed to load age identities. Did not find keys in locations "
                f"{_locations(missing)}.")
        try:
            return bytes(pyrage.decrypt(self.enc.encode(), ids))
        except Exception:
            missing = [m for m in missing if m != "SOPS_AGE_KEY_FILE"]
            raise KeySourceError(
                "failed to create reader for decrypting sops data key with age: identity did "
                "not match any of the recipients: incorrect identity for recipient block. Did "
                f"not find keys in locations {_locations(missing)}.") from None

    def to_dict(self) -> dict[str, object]:
        return {"recipient": self.recipient, "enc": self.enc}

    def ident(self) -> str:
        return self.recipient
