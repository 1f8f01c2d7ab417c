"""Clients for the cloud key services (Google Cloud KMS, Azure Key Vault), shared by the SOPS
key sources and the KMS plugin backends. The official client libraries are optional extras,
imported on first use; a missing one is a one-sentence :class:`CloudError`."""

from __future__ import annotations

from kubecrypt.errors import KubecryptError


class CloudError(KubecryptError):
    """A cloud key service call failed. ``kind`` says how: ``invalid`` (wrong key or damaged
    ciphertext), ``denied`` (credentials or permissions), ``unavailable`` (retry may work),
    ``config`` (our side: bad name, missing extra) or ``other``. ``str()`` never holds key
    material or plaintext."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


def missing_extra(library: str, extra: str) -> CloudError:
    return CloudError(f"This needs the {library} library; install it with "
                      f"pip install 'kubecrypt[{extra}]'.", "config")
