"""The ``unix://`` endpoint URLs that kube-apiserver's ``kms`` providers and KMS plugins use.

It lives in ``kms/`` because the plugin server, the gRPC client and the EncryptionConfiguration
loader all parse the same URLs; ``atrest`` imports it from here, never the other way round."""

from __future__ import annotations

from urllib.parse import urlparse


def kms_endpoint_path(endpoint: str) -> str:
    """The socket path of a ``unix://`` endpoint; ``unix:///@name`` is the abstract socket ``@name``."""
    path = urlparse(endpoint).path
    if path.startswith("/@"):
        return path[1:]
    return path
