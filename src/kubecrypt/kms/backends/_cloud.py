"""What the cloud backends (``gcp``, ``azure``) share: mapping a :class:`CloudError` onto the
plugin's error classes, and the cached real round-trip health check (30 s, as the upstream
cloud plugins do)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kubecrypt.cloud import CloudError
from kubecrypt.kms.backends.base import (
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
    """Runs ``probe`` at most once per period; its failure (a BackendError) is cached too."""

    def __init__(self, probe: Callable[[], None], period: float = HEALTH_CHECK_PERIOD) -> None:
        self._probe, self._period = probe, period
        self._lock = threading.Lock()
        self._last: tuple[float, BackendError | None] | None = None

    def check(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= self._period:
                err: BackendError | None = None
                try:
                    self._probe()
                except BackendError as exc:
                    err = exc
                self._last = (now, err)
            cached = self._last[1]
        if cached is not None:
            raise cached
