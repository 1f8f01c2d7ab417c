"""Typed errors. Each carries one sentence a user can act on; the CLI prints it and exits."""

from __future__ import annotations


class KubecryptError(Exception):
    """Base class: ``str(err)`` is the sentence shown to the user; ``exit_code`` the CLI's exit."""

    exit_code = 1


class ConfigError(KubecryptError):
    """A configuration file (EncryptionConfiguration, keyring, .sops.yaml, ...) is invalid."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class InputError(KubecryptError):
    """Input on stdin or in a file is empty, truncated or of the wrong kind."""


class DecryptError(KubecryptError):
    """A value could not be decrypted (wrong key, tampered data, unknown format)."""


class EncryptError(KubecryptError):
    """A value could not be encrypted (for example the KMS plugin refused or is down)."""


class KMSUnavailable(EncryptError):
    """The KMS plugin cannot be reached or reports itself unhealthy."""


class EncodingError(KubecryptError):
    """Bytes are not a valid Kubernetes storage encoding (protobuf or JSON)."""
