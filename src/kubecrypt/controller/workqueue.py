"""client-go's rate-limited work queue, on asyncio: a key is queued once however often it is
added, never processed twice at the same time, and retried with per-key exponential back-off."""

from __future__ import annotations

import asyncio


class WorkQueue:
    def __init__(self, base_delay: float = 1.0, max_delay: float = 300.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}

    def add(self, key: str) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.put_nowait(key)

    async def get(self) -> str:
        key = await self._queue.get()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.put_nowait(key)

    def retry_later(self, key: str) -> float:
        n = self._failures.get(key, 0) + 1
        self._failures[key] = n
        delay = min(self.max_delay, self.base_delay * 2 ** (n - 1))
        asyncio.get_running_loop().call_later(delay, self.add, key)
        return delay

    def retries(self, key: str) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def idle(self) -> bool:
        return not self._dirty and not self._processing
