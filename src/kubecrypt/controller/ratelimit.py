"""GCRA rate limiting per key (upstream uses throttled's GCRA for ``/v1/verify``, keyed by path
and ``X-Forwarded-For``), and client-go's token bucket for the controller's own requests to the
API server (``--kubeclient-qps``, ``--kubeclient-burst``)."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float


class GCRA:
    def __init__(self, rate: float, burst: int, clock: object = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.burst = max(1, burst)
        self.clock = clock
        self._tat: dict[str, float] = {}

    def check(self, key: str) -> Decision:
        if self.interval == 0.0:
            return Decision(True, self.burst, self.burst, 0.0, 0.0)
        now = self.clock()  # type: ignore[operator]
        tolerance = self.interval * self.burst
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + self.interval
        if new_tat - now > tolerance:
            retry = new_tat - now - tolerance
            return Decision(False, self.burst, 0, tat - now, retry)
        self._tat[key] = new_tat
        if len(self._tat) > 10000:  # forget clients that went quiet
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        remaining = math.floor((tolerance - (new_tat - now)) / self.interval + 1e-9)
        return Decision(True, self.burst, remaining, new_tat - now, 0.0)


class TokenBucket:
    """``qps`` requests per second on average, ``burst`` at once; waits (never refuses) as
    client-go's rate limiter does. ``qps`` < 0 means no limit, as upstream's flag says."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps if qps != 0 else 5.0  # client-go: 0 is its default, 5
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, *_: object) -> None:
        if self.qps < 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.qps)
