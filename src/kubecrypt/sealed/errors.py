"""Sealed Secrets errors: upstream's wording where users and tools match on it."""

from __future__ import annotations

from kubecrypt.errors import DecryptError, InputError, KubecryptError


class SealedInputError(InputError):
    """A Secret, SealedSecret, key or certificate given to us is unusable."""


class CertificateError(InputError):
    """The sealing certificate cannot be used (not RSA, expired, unreadable, unreachable)."""


class UnsealError(DecryptError):
    """A SealedSecret could not be opened; the text lists the failing items, sorted."""


class TemplateFailed(UnsealError):
    """``spec.template.data`` could not be rendered (an error in the template, or a bound such as
    output size or time exceeded). The same object always fails the same way: not retried."""


class ControllerError(KubecryptError):
    """The controller (through the API server's service proxy) refused or could not be reached."""
