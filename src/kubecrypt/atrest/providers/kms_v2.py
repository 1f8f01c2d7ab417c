"""``kms`` apiVersion v2: envelope encryption with a seed (or DEK) wrapped once per key id.

Behaves as kube-apiserver does (apiserver envelope/kmsv2/envelope.go and
server/options/encryptionconfig/config.go):

- a *write state* is made from a fresh 32-byte seed, wrapped by one plugin ``Encrypt``, whenever
  there is none or the plugin's Status reports a new key_id; it is never persisted;
- Status is asked again after 60 s when healthy (fewer with KUBECRYPT_KMS_STATUS_INTERVAL, not an
  upstream setting) and 10 s after a failure; each success moves the
  state's expiry to now + 3 minutes, and writes fail closed once it has passed;
- until the first successful Status + Encrypt, reads and writes fail, as upstream;
- decrypted seeds/DEKs are cached by (type, encryptedDEKSource, keyID, annotations), so reads keep
  working while the plugin is down for anything already seen;
- a read is stale when its key id or source type differs from what this process writes now.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.atrest.providers.base import Provider, ProviderError, ReadResult
from kubecrypt.atrest.providers.cache import LRU
from kubecrypt.atrest.providers.encrypted_object import (
    AES_GCM_KEY,
    HKDF_SHA256_XNONCE_AES_GCM_SEED,
    EncryptedObject,
    InvalidEncryptedObject,
    validate_annotations,
    validate_dek_source,
    validate_key_id,
)
from kubecrypt.crypto.aead import (
    ERR_SHORT,
    GCM_NONCE_SIZE,
    CryptoError,
    gcm_open_prefixed,
    gcm_seal,
    hkdf_expand_sha256,
)
from kubecrypt.crypto.rand import RandomSource, system_random
from kubecrypt.kms.service import KMSv2Service, close_service
from kubecrypt.storage import wire

SEED_SIZE = 32
INFO_SIZE = 32
HEALTHY_POLL = 60.0
# Not a kube-apiserver setting: lets a lab, a demo or a test see a rotated KEK in seconds.
STATUS_INTERVAL_ENV = "KUBECRYPT_KMS_STATUS_INTERVAL"
UNHEALTHY_POLL = 10.0
STATE_TTL = 180.0
DEK_CACHE_SIZE = 1000
NONCE_COUNTER_START = 1_000_000_000
DERIVED_CACHE_SIZE = 1024


def healthy_poll() -> float:
    """Seconds between Status calls while healthy: 60 as upstream, or ``STATUS_INTERVAL_ENV``
    (a number from 1 to 60) when set; anything else there is ignored."""
    raw = os.environ.get(STATUS_INTERVAL_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return HEALTHY_POLL
    return value if 1.0 <= value <= HEALTHY_POLL else HEALTHY_POLL


@dataclass
class _Reader:
    """Opens encryptedData for one decrypted seed (type 1) or DEK (type 0).

    Seed mode caches per-write derived keys by their HKDF info, as upstream caches them for reads,
    so reading back a value this process just wrote costs no key derivation."""

    source_type: int
    secret: bytes = field(repr=False)
    aead: AESGCM | None = None
    derived: OrderedDict[bytes, AESGCM] = field(default_factory=OrderedDict, repr=False)

    def derive(self, info: bytes) -> AESGCM:
        aead = self.derived.get(info)
        if aead is None:
            aead = AESGCM(hkdf_expand_sha256(self.secret, info))
            if len(self.derived) >= DERIVED_CACHE_SIZE:
                # FIFO eviction in O(1); OrderedDict's C operations are safe under the GIL.
                with contextlib.suppress(KeyError):
                    self.derived.popitem(last=False)
            self.derived[info] = aead
        return aead

    def open(self, data: bytes, aad: bytes) -> bytes:
        if self.source_type == HKDF_SHA256_XNONCE_AES_GCM_SEED:
            if len(data) < INFO_SIZE:
                raise CryptoError(ERR_SHORT)
            return gcm_open_prefixed(self.derive(data[:INFO_SIZE]), data[INFO_SIZE:], aad)
        assert self.aead is not None
        return gcm_open_prefixed(self.aead, data, aad)


@dataclass
class _WriteState:
    key_id: str
    encrypted_dek_source: bytes = field(repr=False)
    annotations: dict[str, bytes]
    source_type: int
    reader: _Reader
    expiry: float
    counter: int = NONCE_COUNTER_START
    tail: bytes = b""
    """EncryptedObject fields 2..5, identical for every write under this state."""


def _cache_key(
    source_type: int, source: bytes, key_id: str, annotations: dict[str, bytes]
) -> bytes:
    h = hashlib.sha256()
    for part in (str(source_type).encode(), source, key_id.encode()):
        h.update(len(part).to_bytes(8, "big") + part)
    for k in sorted(annotations):
        h.update(len(k).to_bytes(8, "big") + k.encode() + len(annotations[k]).to_bytes(8, "big"))
        h.update(annotations[k])
    return h.digest()


class KMSv2Provider(Provider):
    type = "kms"

    def __init__(
        self,
        name: str,
        service: KMSv2Service,
        *,
        endpoint: str = "",
        rand: RandomSource = system_random,
        write_source_type: int = HKDF_SHA256_XNONCE_AES_GCM_SEED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.prefix = b"k8s:enc:kms:v2:" + name.encode() + b":"
        self.service = service
        self.rand = rand
        self.write_source_type = write_source_type
        self.clock = clock
        self._state: _WriteState | None = None
        self._cache: LRU[bytes, _Reader] = LRU(DEK_CACHE_SIZE)
        # Serialized EncryptedObject tails (fields 2..5) this process wrote: already validated.
        self._known_tails: dict[bytes, _Reader] = {}
        self._next_check = 0.0
        self._first_version: str | None = None
        self._last_error = "no Status call has been made yet"
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ state machine

    def _where(self) -> str:
        return f"KMS provider {self.name}" + (f" ({self.endpoint})" if self.endpoint else "")

    def _check(self, now: float) -> None:
        try:
            status = self.service.status()
            if status.healthz != "ok":
                raise ProviderError(f"plugin reports healthz {status.healthz!r}")
            if status.version not in ("v2", "v2beta1"):
                raise ProviderError(f"plugin reports version {status.version!r}, expected v2")
            if self._first_version is None:
                self._first_version = status.version
            elif status.version != self._first_version:
                raise ProviderError(
                    f"plugin version changed from {self._first_version} to {status.version}"
                )
            validate_key_id(status.key_id)
            state = self._state
            if state is None or state.key_id != status.key_id:
                state = self._new_state(status.key_id, now)
            state.expiry = now + STATE_TTL
            self._state = state
            self._next_check = now + healthy_poll()
        except Exception as exc:  # plugin down or misbehaving: keep the old state until it expires
            self._last_error = str(exc) or type(exc).__name__
            self._next_check = now + UNHEALTHY_POLL

    def _new_state(self, key_id: str, now: float) -> _WriteState:
        secret = self.rand(SEED_SIZE)
        resp = self.service.encrypt(secret, str(uuid.uuid4()))
        if resp.key_id != key_id:
            raise ProviderError(
                f"plugin's Encrypt returned key_id {resp.key_id!r}, but Status reported {key_id!r}"
            )
        annotations = dict(resp.annotations)
        try:
            validate_dek_source(resp.ciphertext)
            validate_annotations(annotations)
        except InvalidEncryptedObject as exc:
            raise ProviderError(str(exc)) from None
        aead = AESGCM(secret) if self.write_source_type == AES_GCM_KEY else None
        reader = _Reader(self.write_source_type, secret, aead)
        # What this process writes it can always read back without a Decrypt call.
        self._cache.put(
            _cache_key(self.write_source_type, resp.ciphertext, key_id, annotations), reader
        )
        tail = EncryptedObject(b"", key_id, resp.ciphertext, annotations, self.write_source_type)
        tail_bytes = tail.to_bytes()[2:]  # drop the empty field 1 (0x0a 0x00)
        self._known_tails[tail_bytes] = reader
        return _WriteState(
            key_id,
            resp.ciphertext,
            annotations,
            self.write_source_type,
            reader,
            now,
            tail=tail_bytes,
        )

    def _ready_state(self, for_write: bool) -> _WriteState:
        now = self.clock()
        state = self._state
        if state is not None and now < self._next_check and (not for_write or now <= state.expiry):
            return state  # the common case: no Status poll due, no lock needed
        with self._lock:
            now = self.clock()
            if now >= self._next_check:
                self._check(now)
            state = self._state
            if state is None:
                raise ProviderError(
                    f"{self._where()} is not ready: {self._last_error}; check that the KMS plugin "
                    "is running and healthy"
                )
            if for_write and now > state.expiry:
                raise ProviderError(
                    f"{self._where()}: the encryptedDEKSource for key id {state.key_id!r} expired "
                    f"because the plugin has been unhealthy for over {int(STATE_TTL)}s "
                    f"({self._last_error}); writes are refused until it recovers"
                )
            return state

    # ------------------------------------------------------------------ transformer

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        state = self._ready_state(for_write=True)
        if state.source_type == HKDF_SHA256_XNONCE_AES_GCM_SEED:
            info = self.rand(INFO_SIZE)
            nonce = self.rand(GCM_NONCE_SIZE)
            encrypted = info + nonce + gcm_seal(state.reader.derive(info), nonce, data, aad)
        else:
            # Legacy AES_GCM_KEY mode: 4 random bytes and a little-endian counter per DEK.
            with self._lock:
                state.counter += 1
                counter = state.counter
            nonce = self.rand(4) + counter.to_bytes(8, "little")
            assert state.reader.aead is not None
            encrypted = nonce + gcm_seal(state.reader.aead, nonce, data, aad)
        # Field 1 (encryptedData), then fields 2..5, the same for every write under this state.
        return self.prefix + wire.field_bytes(1, encrypted) + state.tail

    def decrypt(self, value: bytes, aad: bytes) -> ReadResult:
        state = self._ready_state(for_write=False)
        fast = self._decrypt_known(value, aad, state)
        if fast is not None:
            return fast
        try:
            obj = EncryptedObject.from_bytes(value[len(self.prefix) :])
            obj.validate()
        except InvalidEncryptedObject as exc:
            raise ProviderError(str(exc)) from None
        ckey = _cache_key(
            obj.encrypted_dek_source_type, obj.encrypted_dek_source, obj.key_id, obj.annotations
        )
        reader = self._cache.get(ckey)
        if reader is None:
            try:
                secret = self.service.decrypt(
                    obj.encrypted_dek_source, str(uuid.uuid4()), obj.key_id, obj.annotations
                )
            except Exception as exc:  # any plugin failure fails this read, never the process
                raise ProviderError(
                    f"failed to decrypt DEK with {self._where()} for key id {obj.key_id!r}: {exc}"
                ) from None
            if obj.encrypted_dek_source_type == AES_GCM_KEY and len(secret) != 32:
                raise ProviderError(
                    f"{self._where()} returned a DEK of {len(secret)} bytes, expected 32"
                )
            if (
                obj.encrypted_dek_source_type == HKDF_SHA256_XNONCE_AES_GCM_SEED
                and len(secret) < SEED_SIZE
            ):
                raise ProviderError(
                    f"{self._where()} returned a seed of {len(secret)} bytes, expected 32"
                )
            aead = AESGCM(secret) if obj.encrypted_dek_source_type == AES_GCM_KEY else None
            reader = _Reader(obj.encrypted_dek_source_type, secret, aead)
            self._cache.put(ckey, reader)
        try:
            plaintext = reader.open(obj.encrypted_data, aad)
        except CryptoError as exc:
            raise ProviderError(str(exc)) from None
        stale = obj.key_id != state.key_id or obj.encrypted_dek_source_type != state.source_type
        return ReadResult(
            plaintext, stale, self.type, self.name, key_id=obj.key_id, api_version="v2"
        )

    def _decrypt_known(self, value: bytes, aad: bytes, state: _WriteState) -> ReadResult | None:
        """Fast path for values whose EncryptedObject tail this process wrote itself."""
        start = len(self.prefix)
        if len(value) < start + 2 or value[start] != 0x0A:
            return None
        try:
            length, pos = wire.read_varint(value, start + 1)
        except wire.WireError:
            return None
        end = pos + length
        if end > len(value):
            return None
        reader = self._known_tails.get(value[end:])
        if reader is None:
            return None
        try:
            plaintext = reader.open(value[pos:end], aad)
        except CryptoError as exc:
            raise ProviderError(str(exc)) from None
        # A tail from an earlier write state means an earlier key id: stale.
        stale = reader is not state.reader
        key_id = EncryptedObject.from_bytes(value[end:]).key_id if stale else state.key_id
        return ReadResult(plaintext, stale, self.type, self.name, key_id=key_id, api_version="v2")

    def describe(self) -> str:
        return f"kms v2 ({self.name})"

    def close(self) -> None:
        close_service(self.service)
