"""``kms`` apiVersion v1 (deprecated upstream): a fresh DEK per write, wrapped by the plugin.

Stored value after ``k8s:enc:kms:v1:<name>:``: ``uint16 BE len || encrypted DEK || AES-GCM(DEK)``
with the etcd key as AAD. Values written by kube-apiserver <= 1.24 hold AES-CBC data instead; they
still read, and are stale. Upstream: apiserver pkg/storage/value/encrypt/envelope/envelope.go."""

from __future__ import annotations

from collections.abc import Callable

from kubecrypt.atrest.providers.base import Provider, ProviderError, ReadResult
from kubecrypt.atrest.providers.cache import LRU
from kubecrypt.crypto.aead import (
    GCM_NONCE_SIZE,
    CryptoError,
    cbc_decrypt,
    gcm_open_prefixed,
    gcm_seal,
)
from kubecrypt.crypto.rand import RandomSource, system_random
from kubecrypt.kms.service import KMSv1Service, close_service

DEK_SIZE = 32
ERR_LENGTH = (
    "invalid data encountered by envelope transformer: failed to read uint16 length prefixed data"
)


class KMSv1Provider(Provider):
    type = "kms"

    def __init__(
        self,
        name: str,
        service: KMSv1Service,
        cachesize: int = 1000,
        rand: RandomSource = system_random,
    ) -> None:
        self.name = name
        self.prefix = b"k8s:enc:kms:v1:" + name.encode() + b":"
        self.service = service
        self.rand = rand
        self._cache: LRU[bytes, bytes] = LRU(cachesize)
        self._version_ok = False

    def _check_version(self) -> None:
        # kube-apiserver asks Version before its first call and repeats until one succeeds.
        if self._version_ok:
            return
        try:
            version = self.service.version()
        except Exception as exc:  # any plugin failure fails this call, never the process
            raise ProviderError(str(exc)) from None
        if version != "v1beta1":
            raise ProviderError(
                f"KMS provider {self.name}: plugin speaks {version!r}, expected v1beta1"
            )
        self._version_ok = True

    def _plugin(self, op: str, call: Callable[[bytes], bytes], dek: bytes) -> bytes:
        """The plugin's Encrypt or Decrypt (``op``) of one DEK, after the Version handshake."""
        self._check_version()
        try:
            return call(dek)
        except Exception as exc:  # any plugin failure fails this call, never the process
            raise ProviderError(
                f"failed to {op} DEK with KMS provider {self.name}: {exc}"
            ) from None

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        dek = self.rand(DEK_SIZE)
        encrypted_dek = self._plugin("encrypt", self.service.encrypt, dek)
        if not encrypted_dek or len(encrypted_dek) > 0xFFFF:
            raise ProviderError(
                f"KMS provider {self.name} returned an encrypted DEK of invalid size"
            )
        self._cache.put(encrypted_dek, dek)
        nonce = self.rand(GCM_NONCE_SIZE)
        body = nonce + gcm_seal(dek, nonce, data, aad)
        return self.prefix + len(encrypted_dek).to_bytes(2, "big") + encrypted_dek + body

    def decrypt(self, value: bytes, aad: bytes) -> ReadResult:
        body = value[len(self.prefix) :]
        if len(body) < 2:
            raise ProviderError(ERR_LENGTH)
        n = int.from_bytes(body[:2], "big")
        if 2 + n > len(body):
            raise ProviderError(ERR_LENGTH)
        encrypted_dek, data = body[2 : 2 + n], body[2 + n :]
        dek = self._cache.get(encrypted_dek)
        if dek is None:
            dek = self._plugin("decrypt", self.service.decrypt, encrypted_dek)
            if len(dek) not in (16, 24, 32):
                raise ProviderError(
                    f"KMS provider {self.name} returned a DEK of invalid size {len(dek)}"
                )
            self._cache.put(encrypted_dek, dek)
        try:
            plaintext = gcm_open_prefixed(dek, data, aad)
            stale = False
        except CryptoError as gcm_err:
            # Written by kube-apiserver <= 1.24: the same DEK in AES-CBC. Readable, but stale.
            try:
                plaintext = cbc_decrypt(dek, data)
            except CryptoError as cbc_err:
                raise ProviderError(f"[{gcm_err}, {cbc_err}]") from None
            stale = True
        return ReadResult(plaintext, stale, self.type, self.name, api_version="v1")

    def describe(self) -> str:
        return f"kms v1 ({self.name})"

    def close(self) -> None:
        close_service(self.service)
