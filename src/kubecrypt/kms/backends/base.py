"""The one interface every KMS backend implements, and the errors a backend may raise.

A backend holds (or reaches) the key-encryption keys. The plugin server turns gRPC calls into
these three methods; it never sees key material. Write your own as any class with ``status()``,
``encrypt()`` and ``decrypt()`` (:class:`BackendProtocol`; ``encrypt_v1()`` and ``close()`` are
optional), or subclass :class:`Backend` for those two defaults, and pass it to
``kubecrypt kms serve --backend module.path:ClassName`` (see docs/kms.md).

Backends are called from several server threads at once, so they must be thread-safe."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

Annotations = Mapping[str, bytes]

SHOWN_CHARS = 64


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """A caller-supplied string (key_id, uid) fit for a log line or error: quoted, and cut to
    ``limit`` characters with its full length noted, so a 1 MiB key_id is not echoed whole."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} chars)"


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


REQUIRED_METHODS = ("status", "encrypt", "decrypt")


@runtime_checkable
class BackendProtocol(Protocol):
    """What a backend must have; :class:`Backend` adds ``encrypt_v1``, ``close`` and ``name``."""

    def status(self) -> str: ...

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]: ...

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes: ...


def missing_methods(cls: type) -> list[str]:
    """The required methods ``cls`` lacks (empty when it satisfies :class:`BackendProtocol`)."""
    return [m for m in REQUIRED_METHODS if not callable(getattr(cls, m, None))]


class _Adapted(Backend):
    """A structural backend (or one only ``Backend.register``-ed, which inherits nothing) seen as
    a :class:`Backend`: its own ``encrypt_v1``/``close``/``name`` when it has them, else the
    defaults."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = str(getattr(inner, "name", type(inner).__name__))

    def status(self) -> str:
        return str(self.inner.status())

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        ciphertext, key_id, annotations = self.inner.encrypt(plaintext)
        return ciphertext, key_id, annotations

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        return bytes(self.inner.decrypt(ciphertext, key_id, annotations))

    def encrypt_v1(self, plaintext: bytes) -> bytes:
        own = getattr(self.inner, "encrypt_v1", None)
        if callable(own):
            return bytes(own(plaintext))
        return super().encrypt_v1(plaintext)

    def close(self) -> None:
        own = getattr(self.inner, "close", None)
        if callable(own):
            own()


def as_backend(obj: Any) -> Backend:
    """``obj`` itself when it subclasses :class:`Backend`, else wrapped so the server can call
    ``encrypt_v1``/``close`` on it. ``obj`` must have the :data:`REQUIRED_METHODS`."""
    if Backend in type(obj).__mro__:
        return obj  # type: ignore[no-any-return]
    missing = missing_methods(type(obj))
    if missing:
        raise TypeError(f"{type(obj).__name__} lacks {', '.join(missing)}")
    return _Adapted(obj)
