"""How to reach etcd, spelled as etcdctl spells it.

Flags (``--endpoints``, ``--cacert``, ``--cert``, ``--key``, ``--user``, ``--password``,
``--dial-timeout``, ``--command-timeout``) win over the ``ETCDCTL_*`` environment variables, as
in etcdctl (etcdctl/ctlv3/ctl.go), so an operator's shell set up for etcdctl works unchanged."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kubecrypt.errors import InputError
from kubecrypt.etcd.errors import EtcdTLSConfigError
from kubecrypt.goduration import parse_duration

DEFAULT_ENDPOINT = "127.0.0.1:2379"
DEFAULT_DIAL_TIMEOUT = 2.0
DEFAULT_COMMAND_TIMEOUT = 5.0

# Flag name -> environment variable, etcdctl's naming (ETCDCTL_ + upper-cased flag, - -> _).
ENV_VARS = {
    "endpoints": "ETCDCTL_ENDPOINTS",
    "cacert": "ETCDCTL_CACERT",
    "cert": "ETCDCTL_CERT",
    "key": "ETCDCTL_KEY",
    "user": "ETCDCTL_USER",
    "password": "ETCDCTL_PASSWORD",
    "dial_timeout": "ETCDCTL_DIAL_TIMEOUT",
    "command_timeout": "ETCDCTL_COMMAND_TIMEOUT",
}


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    """``http``, ``https`` or ``""`` (no scheme: TLS only when certificates are given)."""
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        raw = text.strip()
        scheme, sep, rest = raw.partition("://")
        if not sep:
            scheme, rest = "", raw
        scheme = scheme.lower()
        if scheme not in ("", "http", "https", "unix", "unixs"):
            raise InputError(
                f"etcd endpoint {text!r} has an unknown scheme; use host:port or https://host:port"
            )
        if scheme in ("unix", "unixs"):
            raise InputError(
                f"etcd endpoint {text!r}: unix sockets are not supported; use host:port"
            )
        rest = rest.rstrip("/")
        if rest.startswith("["):  # [::1]:2379
            host, _, port_text = rest[1:].partition("]:")
        else:
            host, _, port_text = rest.rpartition(":")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InputError(
                f"etcd endpoint {text!r} is not host:port (for example 127.0.0.1:2379)"
            )
        return cls(scheme, host, int(port_text))

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        return f"{self.scheme}://{self.address}" if self.scheme else self.address


@dataclass(frozen=True)
class TLSMaterial:
    ca_cert: bytes | None = field(default=None, repr=False)
    cert_chain: bytes | None = field(default=None, repr=False)
    private_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EtcdSettings:
    endpoints: tuple[Endpoint, ...] = (Endpoint("", "127.0.0.1", 2379),)
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    dial_timeout: float = DEFAULT_DIAL_TIMEOUT
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EtcdSettings:
        return cls().with_flags(**_env_flags(os.environ if environ is None else environ))

    @classmethod
    def resolve(
        cls, environ: Mapping[str, str] | None = None, **flags: str | float | None
    ) -> EtcdSettings:
        """Environment first, then the flags that were given (None = not given)."""
        return cls.from_env(environ).with_flags(**flags)

    def with_flags(self, **flags: str | float | None) -> EtcdSettings:
        changes: dict[str, object] = {}
        for name, value in flags.items():
            if value is None or value == "":
                continue
            if name not in ENV_VARS:
                raise TypeError(f"unknown etcd setting {name}")
            if name == "endpoints":
                parts = [p for p in str(value).split(",") if p.strip()]
                if not parts:
                    raise InputError("--endpoints is empty; give host:port[,host:port]")
                changes[name] = tuple(Endpoint.parse(p) for p in parts)
            elif name in ("dial_timeout", "command_timeout"):
                changes[name] = _seconds(name, value)
            else:
                changes[name] = str(value)
        out = replace(self, **changes)  # type: ignore[arg-type]
        # etcdctl: --user NAME:PASSWORD when --password is not given.
        if out.user and out.password is None and ":" in out.user:
            name, _, password = out.user.partition(":")
            out = replace(out, user=name, password=password)
        return out

    @property
    def tls(self) -> bool:
        schemes = {e.scheme for e in self.endpoints}
        if "https" in schemes and "http" in schemes:
            raise InputError("--endpoints mixes http:// and https://; use one scheme for all")
        return "https" in schemes or any((self.cacert, self.cert, self.key))

    def describe(self) -> str:
        """The endpoints as a user typed them, for error messages."""
        prefix = "https://" if self.tls else ""
        return ",".join(str(e) if e.scheme else prefix + e.address for e in self.endpoints)

    def load_tls(self) -> TLSMaterial:
        """Read and check the PEM files so a typo is reported by file, not as a failed handshake."""
        if bool(self.cert) != bool(self.key):
            raise EtcdTLSConfigError("--cert and --key go together; give both or neither")
        ca = _read_pem("--cacert", self.cacert, "certificate") if self.cacert else None
        chain = _read_pem("--cert", self.cert, "certificate") if self.cert else None
        key = _read_pem("--key", self.key, "key") if self.key else None
        return TLSMaterial(ca, chain, key)


def _env_flags(environ: Mapping[str, str]) -> dict[str, str | float | None]:
    return {name: environ.get(var) for name, var in ENV_VARS.items()}


def _seconds(name: str, value: str | float) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise InputError(
            f"--{name.replace('_', '-')} {value!r} is not a duration like 2s or 500ms"
        ) from None
    if seconds <= 0:
        raise InputError(f"--{name.replace('_', '-')} must be positive")
    return seconds


def _read_pem(flag: str, path: str, kind: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise EtcdTLSConfigError(f"cannot read {flag} {path}: {exc.strerror or exc}") from None
    try:
        if kind == "certificate":
            x509.load_pem_x509_certificates(data)
        else:
            load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        what = "an unencrypted PEM private key" if kind == "key" else "a PEM certificate"
        raise EtcdTLSConfigError(f"{flag} {path} is not {what}") from None
    return data
