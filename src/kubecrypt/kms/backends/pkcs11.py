"""``pkcs11``: a non-extractable AES-256 key inside an HSM, reached through PKCS#11.

The key never leaves the token: wrapping is AES-GCM computed by the HSM,
``nonce(12) || AES-256-GCM(key, nonce, plaintext, aad = key_id)``, as in upstream's reference
plugin (kubernetes/kms internal/plugins/_mock, which wraps with GCM by encrypting the DEK's bytes
because SoftHSM refuses GCM as a wrap mechanism). v1 uses empty AAD.

``key_id`` is the key's CKA_LABEL. To rotate, point ``key_label`` at a new label (with
``generate: true`` the key is created on first start) and restart; v2 Decrypt finds older keys by
the key_id stored with the data, v1 Decrypt (which carries no key_id) tries every AES key on the
token, so older data keeps working while its key stays on the token.

Config: ``module`` (path of the PKCS#11 library), ``token_label``, ``pin`` or ``pin_file``,
``key_label``, ``generate`` (default false)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubecrypt.errors import ConfigError
from kubecrypt.kms.backends.base import (
    Annotations,
    Backend,
    BackendUnavailable,
    InvalidCiphertext,
    PermissionDenied,
    UnknownKeyID,
    shown,
)

log = logging.getLogger(__name__)

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
NONCE_SIZE = 12
MIN_CIPHERTEXT = NONCE_SIZE + 16
T = TypeVar("T")


class PKCS11Backend(Backend):
    name = "pkcs11"

    def __init__(
        self,
        token_label: str | None = None,
        key_label: str | None = None,
        pin: str | None = None,
        pin_file: str | None = None,
        module: str = DEFAULT_MODULE,
        generate: bool = False,
    ) -> None:
        import pkcs11

        if not token_label or not key_label:
            raise ConfigError("pkcs11 backend needs `token_label` and `key_label` in --backend-config")
        if (pin is None) == (pin_file is None):
            raise ConfigError("pkcs11 backend needs exactly one of `pin` or `pin_file`")
        if pin_file is not None:
            try:
                pin = Path(pin_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"cannot read pkcs11 pin_file {pin_file}: {exc.strerror}") from None
        self._pkcs11 = pkcs11
        self.module = module
        self.token_label = token_label
        self.key_label = key_label
        self._pin = pin
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        try:
            self._lib = pkcs11.lib(module)
        except pkcs11.exceptions.PKCS11Error as exc:
            raise ConfigError(f"cannot load PKCS#11 module {module}: {exc}") from None
        self._session = self._open()
        try:
            self._key(key_label)
        except UnknownKeyID:
            if not generate:
                raise ConfigError(
                    f"PKCS#11 token {token_label!r} has no AES key labelled {key_label!r}; "
                    "create it or set `generate: true`"
                ) from None
            self._generate(key_label)

    # -- session handling -----------------------------------------------------------------------

    def _open(self) -> Any:
        p = self._pkcs11
        try:
            token = self._lib.get_token(token_label=self.token_label)
        except p.exceptions.NoSuchToken:
            raise ConfigError(f"PKCS#11 module {self.module} has no token labelled "
                              f"{self.token_label!r}") from None
        try:
            return token.open(user_pin=self._pin, rw=True)
        except (p.exceptions.PinIncorrect, p.exceptions.PinLenRange, p.exceptions.PinInvalid):
            raise ConfigError(f"PKCS#11 token {self.token_label!r} rejected the PIN; "
                              "check `pin` or `pin_file`") from None
        except p.exceptions.PinLocked:
            raise ConfigError(f"PKCS#11 token {self.token_label!r} has locked its user PIN; "
                              "unlock it with the SO PIN") from None

    def _call(self, fn: Callable[[], T]) -> T:
        """Runs ``fn`` under the session lock; reopens a lost session once."""
        p = self._pkcs11
        lost = (p.exceptions.SessionClosed, p.exceptions.SessionHandleInvalid,
                p.exceptions.DeviceRemoved, p.exceptions.TokenNotPresent,
                p.exceptions.DeviceError, p.exceptions.UserNotLoggedIn)
        with self._lock:
            try:
                return fn()
            except lost as exc:
                log.warning("PKCS#11 session lost (%s); reopening", type(exc).__name__)
                try:
                    self._session = self._open()
                except ConfigError as err:
                    raise PermissionDenied(str(err)) from None
                except p.exceptions.PKCS11Error as err:
                    raise BackendUnavailable(
                        f"PKCS#11 token {self.token_label!r} is unavailable ({type(err).__name__})"
                    ) from None
                self._keys.clear()
                return fn()

    def _key(self, label: str) -> Any:
        key = self._keys.get(label)
        if key is not None:
            return key
        p = self._pkcs11
        try:
            key = self._session.get_key(label=label, key_type=p.KeyType.AES,
                                        object_class=p.ObjectClass.SECRET_KEY)
        except p.exceptions.NoSuchKey:
            raise UnknownKeyID(f"key_id {shown(label)} is not an AES key on PKCS#11 token "
                               f"{self.token_label!r}") from None
        except p.exceptions.MultipleObjectsReturned:
            raise UnknownKeyID(f"PKCS#11 token {self.token_label!r} has several keys labelled "
                               f"{shown(label)}; labels must be unique") from None
        if key[p.Attribute.EXTRACTABLE]:
            log.warning("PKCS#11 key %r is extractable; generate non-extractable keys", label)
        self._keys[label] = key
        return key

    def _generate(self, label: str) -> None:
        p = self._pkcs11
        a = p.Attribute
        self._session.generate_key(
            p.KeyType.AES, 256, label=label, store=True,
            template={a.EXTRACTABLE: False, a.SENSITIVE: True, a.TOKEN: True,
                      a.ENCRYPT: True, a.DECRYPT: True},
        )
        log.info("generated non-extractable AES-256 key %r on token %r", label, self.token_label)

    # -- Backend --------------------------------------------------------------------------------

    def _gcm(self, nonce: bytes, aad: bytes) -> Any:
        from pkcs11.mechanisms import GCMParams

        return GCMParams(nonce, aad or None, 128)

    def status(self) -> str:
        self._call(lambda: self._key(self.key_label))
        return self.key_label

    def _seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)

        def run() -> bytes:
            key = self._key(self.key_label)
            return bytes(key.encrypt(plaintext, mechanism=self._pkcs11.Mechanism.AES_GCM,
                                     mechanism_param=self._gcm(nonce, aad)))

        return nonce + self._call(run)

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        return self._seal(plaintext, self.key_label.encode()), self.key_label, {}

    def encrypt_v1(self, plaintext: bytes) -> bytes:
        return self._seal(plaintext, b"")

    def _labels(self) -> list[str]:
        """Every AES secret key label on the token, the configured key first (v1 Decrypt)."""
        p = self._pkcs11
        found = self._session.get_objects({p.Attribute.CLASS: p.ObjectClass.SECRET_KEY,
                                           p.Attribute.KEY_TYPE: p.KeyType.AES})
        labels = []
        for obj in found:
            label = obj[p.Attribute.LABEL]
            if label and label not in labels:
                labels.append(label)
        return sorted(labels, key=lambda x: x != self.key_label)

    def _open_sealed(self, label: str, nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
        """The plaintext, or ``None`` when ``sealed`` does not authenticate under ``label``."""
        p = self._pkcs11
        key = self._key(label)
        try:
            return bytes(key.decrypt(sealed, mechanism=p.Mechanism.AES_GCM,
                                     mechanism_param=self._gcm(nonce, aad)))
        except (p.exceptions.EncryptedDataInvalid, p.exceptions.EncryptedDataLenRange,
                p.exceptions.GeneralError, p.exceptions.FunctionFailed):
            # SoftHSM reports a failed GCM tag check as CKR_GENERAL_ERROR.
            return None

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        if len(ciphertext) < MIN_CIPHERTEXT:
            raise InvalidCiphertext(f"ciphertext is {len(ciphertext)} bytes, shorter than nonce "
                                    f"and tag ({MIN_CIPHERTEXT})")
        nonce, sealed = ciphertext[:NONCE_SIZE], ciphertext[NONCE_SIZE:]

        if key_id:
            def run_v2() -> bytes:
                plain = self._open_sealed(key_id, nonce, sealed, key_id.encode())
                if plain is None:
                    raise InvalidCiphertext(
                        f"ciphertext does not authenticate under PKCS#11 key {shown(key_id)}")
                return plain

            return self._call(run_v2)

        # v1 carries no key_id: after a rotation the data may be under any older label, so
        # try every AES key on the token, the configured one first (as the local backend does).
        def run_v1() -> bytes:
            labels = self._labels()
            for label in labels:
                plain = self._open_sealed(label, nonce, sealed, b"")
                if plain is not None:
                    return plain
            raise InvalidCiphertext(
                f"ciphertext does not authenticate under any of the {len(labels)} AES keys on "
                f"PKCS#11 token {self.token_label!r}"
            )

        return self._call(run_v1)

    def close(self) -> None:
        import contextlib

        with self._lock, contextlib.suppress(Exception):
            self._session.close()
