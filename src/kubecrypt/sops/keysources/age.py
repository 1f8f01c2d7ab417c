"""age recipients (sops age/keysource.go): one armored age file per recipient wrapping the data
key; identities from SSH keys, ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY_CMD`` and
the default ``<config dir>/sops/age/keys.txt``, all loaded and tried together."""

from __future__ import annotations

import os
import sys
from typing import Any, ClassVar

from kubecrypt.sops.keysources.base import KeySourceError, MasterKey

_identity_cache: dict[tuple[str, ...], tuple[list[Any], list[str], list[str]]] = {}


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


def _os_error(op: str, path: str, exc: OSError) -> str:
    """Go's ``*PathError`` text: ``open /x: no such file or directory``."""
    reason = exc.strerror or str(exc)
    return f"{op} {path}: {reason[:1].lower()}{reason[1:]}"


def load_identities() -> tuple[list[Any], list[str], list[str]]:
    """(identities, locations that gave none, errors) as sops' ``loadIdentities``: a source that
    fails is an error beside the others, not the end (a key elsewhere still opens the file);
    a variable that is set counts even when empty; the default key file is read whenever it
    exists and listed as unused only when nothing else was found."""
    env = os.environ
    cache_key = tuple(env.get(v, "\0") for v in (
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD",
        "HOME", "XDG_CONFIG_HOME"))
    if cache_key in _identity_cache:
        return _identity_cache[cache_key]
    ids: list[Any] = []
    unused: list[str] = []
    errs: list[str] = []
    ssh_file = env.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    if ssh_file is not None:
        try:
            ids.append(_ssh_identity(ssh_file))
        except KeySourceError as exc:
            errs.append(str(exc))
    else:
        unused.append("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    for name in ("id_ed25519", "id_rsa"):
        p = os.path.join(_home(), ".ssh", name)
        if os.path.exists(p):
            try:
                ids.append(_ssh_identity(p))
            except KeySourceError as exc:
                errs.append(str(exc))
        else:
            unused.append(p)
    readers: list[tuple[str, str]] = []  # (location, identity text), in sops' order
    if "SOPS_AGE_KEY" in env:
        readers.append(("SOPS_AGE_KEY", env["SOPS_AGE_KEY"]))
    else:
        unused.append("SOPS_AGE_KEY")
    key_file = env.get("SOPS_AGE_KEY_FILE")
    if key_file is not None:
        try:
            readers.append(("SOPS_AGE_KEY_FILE", _read_text(key_file)))
        except OSError as exc:
            errs.append(f"failed to open SOPS_AGE_KEY_FILE file: {_os_error('open', key_file, exc)}")
    else:
        unused.append("SOPS_AGE_KEY_FILE")
    if "SOPS_AGE_KEY_CMD" in env:
        readers += _key_cmd(env["SOPS_AGE_KEY_CMD"], errs)
    else:
        unused.append("SOPS_AGE_KEY_CMD")
    default = default_key_file()
    try:
        readers.append((default, _read_text(default)))
    except FileNotFoundError:
        if not readers and not ids:
            unused.append(default)
    except OSError as exc:
        errs.append(f"failed to open file: {_os_error('open', default, exc)}")
    for location, text in readers:
        try:
            found = _parse_identities(text, location)
        except KeySourceError as exc:
            errs.append(str(exc))
            continue
        ids += found
        if not found:
            unused.append(location)
    _identity_cache[cache_key] = (ids, unused, errs)
    return ids, unused, errs


def _key_cmd(cmd: str, errs: list[str]) -> list[tuple[str, str]]:
    import shlex
    import subprocess

    try:
        args = shlex.split(cmd)
    except ValueError as exc:
        errs.append(f"failed to parse command {cmd} from SOPS_AGE_KEY_CMD: {exc}")
        return []
    try:
        out = subprocess.run(args, capture_output=True, check=True, timeout=60).stdout
    except (OSError, IndexError, subprocess.SubprocessError) as exc:
        errs.append(f"failed to execute command {cmd} from SOPS_AGE_KEY_CMD: {exc}")
        return []
    return [("SOPS_AGE_KEY_CMD", out.decode("utf-8", "replace"))]


def _failure(msg: str, errs: list[str], unused: list[str]) -> str:
    """sops' ``formatError``: the loading errors, then every location that gave no key."""
    text = msg
    if errs:
        text += ". Errors while loading age identities: " + "; ".join(errs)
    if len(unused) == 1:
        text += f". Did not find keys in location '{unused[0]}'."
    elif len(unused) == 2:
        text += f". Did not find keys in locations '{unused[0]}' and '{unused[1]}'."
    elif unused:
        listed = "', '".join(unused[:-1])
        text += f". Did not find keys in locations '{listed}', and '{unused[-1]}'."
    return text


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

        ids, unused, errs = load_identities()
        if not ids:
            raise KeySourceError(_failure("failed to load age identities", errs, unused))
        try:
            return bytes(pyrage.decrypt(self.enc.encode(), ids))
        except Exception:
            raise KeySourceError(_failure(
                "failed to create reader for decrypting sops data key with age: identity did "
                "not match any of the recipients: incorrect identity for recipient block",
                errs, unused)) from None

    def to_dict(self) -> dict[str, object]:
        return {"recipient": self.recipient, "enc": self.enc}

    def ident(self) -> str:
        return self.recipient
