"""The one interface every KMS backend implements, and the errors a backend may raise.

A backend holds (or reaches) the key-encryption keys. The plugin server turns gRPC calls into
these three methods; it never sees key material. Write your own by subclassing :class:`Backend`
(see docs/kms.md) and pass it to ``kubecrypt kms serve --backend module.path:ClassName``.

Backends are called from several server threads at once, so they must be thread-safe."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

Annotations = Mapping[str, bytes]


class BackendError(Exception):
    """A call failed for a reason the caller should see. ``str(err)`` is one sentence that names
    the problem and never contains plaintext or key material; ``code`` is the gRPC status name
    the plugin answers with."""

    code = "INTERNAL"


class InvalidCiphertext(BackendError):
    """The ciphertext is malformed, tampered with, or was not made by this key."""

    code = "INVALID_ARGUMENT"


class UnknownKeyID(BackendError):
    """The ciphertext names a key_id this backend does not have (any more)."""

    code = "NOT_FOUND"


class BackendUnavailable(BackendError):
    """The key store (HSM, Vault, ...) cannot be reached right now; retrying may succeed."""

    code = "UNAVAILABLE"


class PermissionDenied(BackendError):
    """The key store refused our credentials (wrong PIN, expired token, missing policy)."""

    code = "PERMISSION_DENIED"


class Backend(ABC):
    """Wraps and unwraps data keys (DEKs or KMS v2 seeds) with a key that stays in the backend.

    The constructor receives the ``--backend-config`` mapping as keyword arguments and should
    raise :class:`kubecrypt.errors.ConfigError` (one sentence) when the configuration is unusable,
    so ``kubecrypt kms serve`` fails at start-up instead of on the first call."""

    #: The name shown in logs and metrics.
    name: str = "custom"

    @abstractmethod
    def status(self) -> str:
        """Returns the key_id new :meth:`encrypt` calls will use. Raise :class:`BackendError`
        when unhealthy; the plugin then reports that sentence as its ``healthz``."""

    @abstractmethod
    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        """Wraps ``plaintext``; returns ``(ciphertext, key_id, annotations)``.

        ``key_id`` must equal what :meth:`status` reports (kube-apiserver drops the answer
        otherwise) and must never be reused for a different key. ``annotations`` (keys are
        fully-qualified domain names, e.g. ``version.kms.example.com``) are stored unencrypted
        beside the ciphertext and handed back to :meth:`decrypt`."""

    @abstractmethod
    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        """Unwraps ``ciphertext`` made under ``key_id``. For KMS v1 calls ``key_id`` is ``""``
        and ``annotations`` is empty: find the key another way (try each, or read the
        ciphertext's own header)."""

    def encrypt_v1(self, plaintext: bytes) -> bytes:
        """Wraps a DEK for a KMS v1 caller, which stores only the ciphertext. Override when the
        v1 form must differ (the ``local`` backend drops the key_id AAD, since v1 Decrypt
        does not pass a key_id back)."""
        return self.encrypt(plaintext)[0]

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Releases sessions and connections at plugin shutdown."""
