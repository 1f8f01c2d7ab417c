"""``aws``: AWS KMS through boto3, wire-compatible with kubernetes-sigs/aws-encryption-provider.

As upstream: Encrypt calls KMS ``Encrypt{KeyId: key, Plaintext, EncryptionContext}`` and returns
``b"1" + CiphertextBlob`` (a one-byte storage version) with ``key_id`` = the configured ``key``
and no annotations; Decrypt requires the ``"1"`` (optional for KMS v1 calls), strips it and
calls ``Decrypt{CiphertextBlob, EncryptionContext}`` (KMS finds the key in the blob). So a
cluster can move between this plugin and aws-encryption-provider without re-encrypting.
Status runs a real encrypt+decrypt, cached 30 s (upstream's health check period).

Key rotation inside AWS does not change the ciphertext's key_id (upstream neither). To let
``kubecrypt rotate kms`` see a move to a new key, set ``key_id_suffix`` (a generation label):
``key_id`` becomes ``<key>#<suffix>``; the data already stored still decrypts, because the blob
names its own key. With a suffix the key_id differs from upstream's; leave it unset to swap
plugins freely.

Config: ``key`` (ARN, ``alias/name`` or key id; required), ``region`` (else from the ARN, else
the AWS chain), ``endpoint`` (else ``AWS_ENDPOINT_URL_KMS``/``AWS_ENDPOINT_URL``),
``encryption_context`` (mapping of strings), ``qps`` and ``burst`` (client-side rate limit,
off by default), ``key_id_suffix``, ``profile``, ``timeout`` seconds (default 5). Credentials
come from the standard AWS chain (environment, shared config/profile, web identity, IMDS)."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kubecrypt.errors import ConfigError
from kubecrypt.kms.backends._cloud import HealthCache
from kubecrypt.kms.backends.base import (
    Annotations,
    Backend,
    BackendError,
    BackendUnavailable,
    InvalidCiphertext,
    PermissionDenied,
)

T = TypeVar("T")

STORAGE_VERSION = b"1"
_ARN = re.compile(r"^arn:aws[\w-]*:kms:([^:]+):[0-9]+:(key|alias)/.+$")
_KEY = re.compile(r"^(alias/[\w/.+=,@-]+|[0-9a-fA-F-]{36}|mrk-[0-9a-f]{32})$")

_INVALID = {"InvalidCiphertextException", "IncorrectKeyException"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
           "InvalidSignatureException", "ExpiredTokenException", "InvalidGrantTokenException"}
_UNAVAILABLE = {"ThrottlingException", "LimitExceededException", "KMSInternalException",
                "DependencyTimeoutException", "KeyUnavailableException",
                "ServiceUnavailableException", "RequestLimitExceeded"}


class RateLimiter:
    """A token bucket: ``qps`` tokens a second, at most ``burst`` saved; ``acquire`` waits."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.qps, self.burst = qps, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.qps
            self._sleep(wait)


class AWSBackend(Backend):
    name = "aws"

    def __init__(
        self,
        key: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        encryption_context: Mapping[str, str] | None = None,
        qps: float = 0,
        burst: int = 0,
        key_id_suffix: str | None = None,
        profile: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        if not key or not isinstance(key, str):
            raise ConfigError("aws backend needs `key` (a KMS key ARN, alias/NAME or key id) in "
                              "--backend-config")
        m = _ARN.match(key)
        if not m and not _KEY.match(key):
            raise ConfigError(f"aws backend: `key` {key!r} is not a KMS key ARN "
                              "(arn:aws:kms:REGION:ACCOUNT:key/ID or .../alias/NAME), "
                              "alias/NAME or a key id")
        ctx = dict(encryption_context or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in ctx.items()):
            raise ConfigError("aws backend: `encryption_context` must map strings to strings; "
                              "quote numbers and booleans")
        try:
            qps_f, burst_i = float(qps), int(burst)
        except (TypeError, ValueError):
            raise ConfigError("aws backend: `qps` and `burst` must be numbers") from None
        if qps_f < 0 or burst_i < 0:
            raise ConfigError("aws backend: `qps` and `burst` cannot be negative")
        if qps_f > 0 and burst_i <= 0:
            raise ConfigError(f"aws backend: with `qps` set, `burst` must be at least 1 "
                              f"(got {burst_i})")
        if key_id_suffix is not None and (not isinstance(key_id_suffix, str)
                                          or not key_id_suffix.strip()):
            raise ConfigError("aws backend: `key_id_suffix` must be a non-empty string")
        self.key = key
        self.key_id = f"{key}#{key_id_suffix}" if key_id_suffix else key
        self.encryption_context = ctx
        self.region = region or (m.group(1) if m else None)
        self.endpoint = endpoint
        self._limiter = RateLimiter(qps_f, burst_i) if qps_f > 0 else None
        self._health = HealthCache(self, "KMS")
        self._client = self._make_client(profile, timeout)

    def _make_client(self, profile: str | None, timeout: float) -> Any:
        import boto3
        import botocore.config
        from botocore.exceptions import BotoCoreError

        cfg = botocore.config.Config(connect_timeout=timeout, read_timeout=timeout,
                                     retries={"max_attempts": 3, "mode": "standard"})
        try:
            session = boto3.session.Session(profile_name=profile or None)
            return session.client("kms", region_name=self.region or session.region_name
                                  or "us-east-1", endpoint_url=self.endpoint, config=cfg)
        except BotoCoreError as exc:
            raise ConfigError(f"aws backend: cannot set up the KMS client: {exc}") from None
        except ValueError as exc:  # a malformed endpoint URL
            raise ConfigError(f"aws backend: {exc}") from None

    # -- calls and error mapping ----------------------------------------------------------------

    def _call(self, op: str, fn: Callable[[], T]) -> T:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            NoCredentialsError,
        )

        if self._limiter is not None:
            self._limiter.acquire()
        where = self.endpoint or f"AWS KMS in {self.region or 'the default region'}"
        try:
            return fn()
        except ClientError as exc:
            err = exc.response.get("Error") or {}
            code = str(err.get("Code", "")) or "Unknown"
            msg = f"KMS {op} with {self.key} failed: {code}"
            if code in _INVALID:
                raise InvalidCiphertext(msg + " (not made by this key/encryption context, or "
                                        "damaged)") from None
            if code in _DENIED:
                raise PermissionDenied(msg + "; check the credentials and the key policy") from None
            if code in _UNAVAILABLE:
                raise BackendUnavailable(msg + "; retry later") from None
            raise BackendError(msg + " (key disabled, pending deletion or not found?)") from None
        except NoCredentialsError:
            raise PermissionDenied("no AWS credentials found (environment, profile, web "
                                   "identity or instance role)") from None
        except ConnectionError as exc:
            raise BackendUnavailable(f"{where} is not reachable ({type(exc).__name__})") from None
        except BotoCoreError as exc:
            raise BackendError(f"KMS {op} with {self.key} failed: {type(exc).__name__}") from None

    # -- Backend --------------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        out = self._call("Encrypt", lambda: self._client.encrypt(
            KeyId=self.key, Plaintext=plaintext, EncryptionContext=self.encryption_context))
        return STORAGE_VERSION + bytes(out["CiphertextBlob"]), self.key_id, {}

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        if not ciphertext:
            raise InvalidCiphertext("invalid empty ciphertext")
        if ciphertext[:1] == STORAGE_VERSION:
            blob = ciphertext[1:]
        elif key_id:  # KMS v2 always has the storage version; v1 (key_id "") may lack it
            raise InvalidCiphertext(f"storage version {ciphertext[:1]!r} in the ciphertext is "
                                    "not the aws plugin's \"1\"")
        else:
            blob = ciphertext
        out = self._call("Decrypt", lambda: self._client.decrypt(
            CiphertextBlob=blob, EncryptionContext=self.encryption_context))
        return bytes(out["Plaintext"])

    def status(self) -> str:
        """A real encrypt+decrypt round trip, its result (good or bad) kept 30 s."""
        self._health.check()
        return self.key_id

    def close(self) -> None:
        with contextlib.suppress(Exception):  # best effort at shutdown
            self._client.close()
