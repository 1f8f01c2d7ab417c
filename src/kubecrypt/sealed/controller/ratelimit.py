"""GCRA rate limiting per key (upstream uses throttled's GCRA for ``/v1/verify``, keyed by path
and ``X-Forwarded-For``)."""

from __future__ import annotations

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
