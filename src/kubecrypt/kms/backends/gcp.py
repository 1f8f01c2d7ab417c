"""``gcp``: Google Cloud KMS through the official ``google-cloud-kms`` client (``pip install
'kubecrypt[gcp]'``).

Format (kubecrypt's own, documented in docs/kms.md; no upstream GCP KMS v2 plugin format is
specified for us to match): the ciphertext is exactly Cloud KMS's ``Encrypt`` ciphertext, as
GoogleCloudPlatform/k8s-cloudkms-plugin stores it for KMS v1; ``key_id`` is the configured key
name (``projects/P/locations/L/keyRings/R/cryptoKeys/K``), plus ``#<key_id_suffix>`` when
that generation label is set; no annotations. Cloud KMS finds the key version in the
ciphertext itself, so a primary-version rotation in GCP needs no re-encryption (and, as with
AWS, is invisible to key_id unless you bump ``key_id_suffix``). Status runs a real encrypt and
decrypt, cached 30 s.

Config: ``key`` (required), ``endpoint`` (``host:port``; else ``SOPS_GCP_KMS_ENDPOINT``, else
Google's), ``key_id_suffix``, ``timeout`` seconds (default 5). Credentials as sops:
``GOOGLE_CREDENTIALS`` (file or JSON), ``GOOGLE_OAUTH_ACCESS_TOKEN``, else ADC."""

from __future__ import annotations

from kubecrypt.cloud import CloudError
from kubecrypt.errors import ConfigError
from kubecrypt.kms.backends._cloud import HealthCache, backend_error
from kubecrypt.kms.backends.base import Annotations, Backend, InvalidCiphertext


class GCPBackend(Backend):
    name = "gcp"

    def __init__(self, key: str | None = None, endpoint: str | None = None,
                 key_id_suffix: str | None = None, timeout: float = 5.0) -> None:
        from kubecrypt.cloud import gcp

        if not key or not isinstance(key, str):
            raise ConfigError("gcp backend needs `key` (projects/P/locations/L/keyRings/R/"
                              "cryptoKeys/K) in --backend-config")
        try:
            gcp.check_resource_id(key)
            gcp.client(endpoint)  # fail at start-up when the library or credentials are missing
        except CloudError as exc:
            raise ConfigError(f"gcp backend: {exc}") from None
        if key_id_suffix is not None and (not isinstance(key_id_suffix, str)
                                          or not key_id_suffix.strip()):
            raise ConfigError("gcp backend: `key_id_suffix` must be a non-empty string")
        self.key, self.endpoint, self.timeout = key, endpoint, float(timeout)
        self.key_id = f"{key}#{key_id_suffix}" if key_id_suffix else key
        self._health = HealthCache(self, "GCP KMS")

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str, Annotations]:
        from kubecrypt.cloud import gcp

        try:
            ct, _ = gcp.encrypt(self.key, plaintext, self.endpoint, self.timeout)
        except CloudError as exc:
            raise backend_error(exc) from None
        return ct, self.key_id, {}

    def decrypt(self, ciphertext: bytes, key_id: str, annotations: Annotations) -> bytes:
        from kubecrypt.cloud import gcp

        if not ciphertext:
            raise InvalidCiphertext("invalid empty ciphertext")
        try:
            return gcp.decrypt(self.key, ciphertext, self.endpoint, self.timeout)
        except CloudError as exc:
            raise backend_error(exc) from None

    def status(self) -> str:
        self._health.check()
        return self.key_id
