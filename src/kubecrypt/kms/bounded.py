"""Backend calls bounded by the caller's gRPC deadline, on threads of their own.

kube-apiserver gives every KMS call a deadline (3 s by default) and expects Status to answer
within it, with ``healthz`` saying what is wrong. A backend that hangs (a stopped Vault, a wedged
HSM) must neither make the answer late nor hold gRPC worker threads: each backend call runs on a
small executor separate from the gRPC workers, and the worker waits only until a little before the
caller's deadline. A call that has not started by then is cancelled; one that hangs keeps its
executor thread (never a gRPC worker) until the backend returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from kubecrypt.kms.backends.base import BackendUnavailable

T = TypeVar("T")

#: Budget when the caller sent no deadline (kube-apiserver always sends one; grpcio then reports
#: an effectively infinite time remaining), and the most any call gets.
NO_DEADLINE_BUDGET = 30.0
#: Share of the caller's remaining time kept for answering (at least MIN_MARGIN seconds).
MARGIN_SHARE = 0.1
MIN_MARGIN = 0.1
MIN_BUDGET = 0.05


class BackendTimeout(BackendUnavailable):
    """The backend did not answer before the caller's deadline."""

    code = "DEADLINE_EXCEEDED"


def budget(time_remaining: float | None) -> float:
    """Seconds a backend call may take when the caller has ``time_remaining`` seconds left."""
    if time_remaining is None or time_remaining > NO_DEADLINE_BUDGET:
        return NO_DEADLINE_BUDGET
    margin = max(MIN_MARGIN, time_remaining * MARGIN_SHARE)
    return max(MIN_BUDGET, time_remaining - margin)


class BoundedCalls:
    """Runs backend calls on ``threads`` threads of their own, each waited for at most its
    budget. Thread-safe."""

    def __init__(self, backend_name: str, threads: int) -> None:
        self.backend_name = backend_name
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kms-backend")
        self._running = 0
        self._lock = threading.Lock()

    def call(self, fn: Callable[[], T], deadline: float, what: str) -> T:
        """``fn()``'s result, or :class:`BackendTimeout` once ``time.monotonic()`` passes
        ``deadline``. Exceptions of ``fn`` propagate."""
        future: Future[T] = self._pool.submit(self._tracked, fn)
        wait = deadline - time.monotonic()
        try:
            return future.result(timeout=max(0.0, wait))
        except FutureTimeout:
            future.cancel()  # succeeds only if it never started
            raise BackendTimeout(
                f"backend {self.backend_name!r} did not answer {what} within "
                f"{max(0.0, wait):.1f}s ({self.running} call(s) still running in it); "
                "check that its key store responds"
            ) from None

    def _tracked(self, fn: Callable[[], T]) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn()
        finally:
            with self._lock:
                self._running -= 1

    @property
    def running(self) -> int:
        """Backend calls running right now (hung ones included)."""
        with self._lock:
            return self._running

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
