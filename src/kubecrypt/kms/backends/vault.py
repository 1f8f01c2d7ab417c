"""``vault``: HashiCorp Vault or OpenBao Transit, through hvac.

The key-encryption key lives in Transit; the plugin only sends DEKs to ``transit/encrypt`` and
``transit/decrypt``. ``key_id`` is ``<mount>/<key_name>:v<N>`` where N is the transit key's
latest version, so rotating the key in Vault (``bao write -f transit/keys/<name>/rotate``, or
``auto_rotate_period``) is what rotates the KMS key_id; old versions keep decrypting as long as
Vault's ``min_decryption_version`` allows. Ciphertext is Vault's own ``vault:vN:...`` text.

Config: ``address``, ``token`` or ``token_file`` (re-read when it changes or when Vault refuses
the token, so an agent can renew it), ``key_name``, ``mount`` (default ``transit``),
``namespace``, ``ca_cert``, ``verify`` (default true), ``timeout`` seconds (default 5),
``create_key`` (default false)."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubecrypt.errors import ConfigError
from kubecrypt.kms.backends.base import (
    Annotations,
    Backend,
    BackendError,
    BackendUnavailable,
    InvalidCiphertext,
    PermissionDenied,
    shown,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
_VERSION = re.compile(r"^vault:v(\d+):")


class VaultBackend(Backend):
    name = "vault"

    def __init__(
        self,
        address: str | None = None,
        key_name: str | None = None,
        token: str | None = None,
        token_file: str | None = None,
        mount: str = "transit",
        namespace: str | None = None,
        ca_cert: str | None = None,
        verify: bool = True,
        timeout: float = 5.0,
        create_key: bool = False,
    ) -> None:
        if not address or not key_name:
            raise ConfigError("vault backend needs `address` and `key_name` in --backend-config")
        if (token is None) == (token_file is None):
            raise ConfigError("vault backend needs exactly one of `token` or `token_file`")
        self.address = address.rstrip("/")
        self.key_name = key_name
        self.mount = mount.strip("/")
        self.namespace = namespace
        self.verify: bool | str = ca_cert if ca_cert else verify
        self.timeout = timeout
        self._token_file = Path(token_file) if token_file else None
        self._token = token if token is not None else self._read_token()
        self._generation = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        try:
            self._latest_version()
        except PermissionDenied as exc:
            raise ConfigError(str(exc)) from None
        except BackendUnavailable as exc:
            raise ConfigError(str(exc)) from None
        except _KeyMissing:
            if not create_key:
                raise ConfigError(
                    f"Vault at {self.address} has no transit key {self.mount}/{key_name}; "
                    "create it (bao write -f transit/keys/NAME type=aes256-gcm96) or set "
                    "`create_key: true`"
                ) from None
            self._call(lambda c: c.secrets.transit.create_key(
                name=key_name, key_type="aes256-gcm96", mount_point=self.mount))
            log.info("created transit key %s/%s", self.mount, key_name)

    # -- client and error mapping ---------------------------------------------------------------

    def _read_token(self) -> str:
        assert self._token_file is not None
        try:
            token = self._token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read vault token_file {self._token_file}: "
                              f"{exc.strerror}") from None
        if not token:
            raise ConfigError(f"vault token_file {self._token_file} is empty")
        return token

    def _client(self) -> Any:
        import hvac

        # hvac rides on a requests.Session, which is not meant to be shared between threads.
        cached = getattr(self._local, "client", None)
        if cached is not None and self._local.generation == self._generation:
            return cached
        client = hvac.Client(url=self.address, token=self._token, namespace=self.namespace,
                             verify=self.verify, timeout=self.timeout)
        self._local.client, self._local.generation = client, self._generation
        return client

    def _refresh_token(self) -> bool:
        """Re-reads token_file; true when it holds a new token."""
        if self._token_file is None:
            return False
        with self._lock:
            try:
                token = self._read_token()
            except ConfigError:
                return False
            if token == self._token:
                return False
            self._token = token
            self._generation += 1
            log.info("vault token reloaded from %s", self._token_file)
            return True

    def _call(self, fn: Callable[[Any], T]) -> T:
        import hvac.exceptions as hx
        import requests

        for attempt in (1, 2):
            try:
                return fn(self._client())
            except hx.Forbidden:
                if attempt == 1 and self._refresh_token():
                    continue
                raise PermissionDenied(
                    f"Vault at {self.address} refused the token (expired, revoked, or missing a "
                    f"policy for {self.mount}/encrypt|decrypt/{self.key_name}); renew the token"
                ) from None
            except hx.InvalidPath:
                raise _KeyMissing(f"Vault at {self.address} has no transit key "
                                  f"{self.mount}/{self.key_name}") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                raise BackendUnavailable(
                    f"Vault at {self.address} is not reachable ({type(exc).__name__})"
                ) from None
            except (hx.VaultDown, hx.InternalServerError, hx.BadGateway) as exc:
                raise BackendUnavailable(f"Vault at {self.address} is unavailable: "
                                         f"{_first_line(exc)}") from None
            except hx.InvalidRequest as exc:
                raise InvalidCiphertext(f"Vault refused the request: {_first_line(exc)}") from None
            except hx.VaultError as exc:
                raise BackendError(f"Vault error: {_first_line(exc)}") from None
        raise AssertionError("unreachable")

    def _latest_version(self) -> int:
        r = self._call(lambda c: c.secrets.transit.read_key(name=self.key_name,
                                                            mount_point=self.mount))
        return int(r["data"]["latest_version"])

    def _key_id(self, version: int) -> str:
        return f"{self.mount}/{self.key_name}:v{version}"

    # -- Backend --------------------------------------------------------------------------------

    def status(self) -> str:
        return self._key_id(self._latest_version())

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        b64 = base64.b64encode(plaintext).decode()
        r = self._call(lambda c: c.secrets.transit.encrypt_data(
            name=self.key_name, plaintext=b64, mount_point=self.mount))
        ciphertext = str(r["data"]["ciphertext"])
        m = _VERSION.match(ciphertext)
        if not m:
            raise BackendError("Vault returned a ciphertext without a vault:vN: prefix")
        return ciphertext.encode(), self._key_id(int(m.group(1))), {}

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        try:
            text = ciphertext.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidCiphertext("ciphertext is not a Vault transit ciphertext") from None
        m = _VERSION.match(text)
        if not m:
            raise InvalidCiphertext("ciphertext is not a Vault transit ciphertext (vault:vN:...)")
        # The key_id is stored beside the ciphertext; it must name the version inside it.
        if key_id and key_id != self._key_id(int(m.group(1))):
            raise InvalidCiphertext(
                f"key_id {shown(key_id)} does not match the ciphertext's key version v{m.group(1)} "
                f"of {self.mount}/{self.key_name}"
            )
        r = self._call(lambda c: c.secrets.transit.decrypt_data(
            name=self.key_name, ciphertext=text, mount_point=self.mount))
        try:
            return base64.b64decode(r["data"]["plaintext"], validate=True)
        except (binascii.Error, KeyError, TypeError):
            raise BackendError("Vault returned a malformed plaintext") from None


class _KeyMissing(BackendError):
    code = "FAILED_PRECONDITION"


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
