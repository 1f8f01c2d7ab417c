"""One injectable source of randomness, so tests can replay a vector's random inputs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

RandomSource = Callable[[int], bytes]
"""``rand(n)`` returns ``n`` random bytes."""


def system_random(n: int) -> bytes:
    return os.urandom(n)


class ScriptedRandom:
    """Returns the given byte strings in order, checking each has the requested length.

    Used by tests to reproduce an upstream vector byte for byte."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = list(chunks)

    def __call__(self, n: int) -> bytes:
        if not self._chunks:
            raise AssertionError(f"ScriptedRandom exhausted (asked for {n} bytes)")
        chunk = self._chunks.pop(0)
        if len(chunk) != n:
            raise AssertionError(f"ScriptedRandom: next chunk has {len(chunk)} bytes, asked {n}")
        return chunk

    @property
    def remaining(self) -> int:
        return len(self._chunks)


__all__ = ["RandomSource", "ScriptedRandom", "system_random"]
