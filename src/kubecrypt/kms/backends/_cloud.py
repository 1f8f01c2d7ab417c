"""What the cloud backends share: mapping a :class:`CloudError` onto the plugin's error classes
(``gcp``, ``azure``), and the cached real round-trip health check (30 s, as the upstream cloud
plugins do; ``aws`` too)."""

from __future__ import annotations

import threading
import time

from kubecrypt.cloud import CloudError
from kubecrypt.kms.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    InvalidCiphertext,
    PermissionDenied,
)

HEALTH_CHECK_PERIOD = 30.0


def backend_error(exc: CloudError) -> BackendError:
    cls = {"invalid": InvalidCiphertext, "denied": PermissionDenied,
           "unavailable": BackendUnavailable}.get(exc.kind, BackendError)
    return cls(str(exc))


class HealthCache:
    """A real encrypt+decrypt round trip through ``backend`` at most once per period; its failure
    (a BackendError) is cached too. ``service`` names the KMS in the error."""

    def __init__(self, backend: Backend, service: str,
                 period: float = HEALTH_CHECK_PERIOD) -> None:
        self._backend, self._service, self._period = backend, service, period
        self._lock = threading.Lock()
        self._last: tuple[float, BackendError | None] | None = None

    def check(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= self._period:
                err: BackendError | None = None
                try:
                    self._round_trip()
                except BackendError as exc:
                    err = exc
                self._last = (now, err)
            cached = self._last[1]
        if cached is not None:
            raise cached

    def _round_trip(self) -> None:
        probe = b"kubecrypt-health"
        ct, key_id, _ = self._backend.encrypt(probe)
        if self._backend.decrypt(ct, key_id, {}) != probe:
            raise BackendError(
                f"the {self._service} health check round trip returned other bytes")
