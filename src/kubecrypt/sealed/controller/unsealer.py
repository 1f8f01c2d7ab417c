"""Unsealing off the event loop. RSA-OAEP with 4096-bit keys costs ~2 ms per item and holds the
GIL, so a pool of worker processes spreads the work over the CPUs; the keys are handed to each
pool once (newest first) and a new pool replaces it whenever the key set changes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.sealed.errors import UnsealError
from kubecrypt.sealed.keys import KeyRegistry, load_private_key, private_key_pem
from kubecrypt.sealed.unseal import unseal

_worker_keys: list[rsa.RSAPrivateKey] = []
_worker_accept_v1 = True


def _init_worker(pems: list[bytes], accept_v1: bool) -> None:
    global _worker_keys, _worker_accept_v1
    _worker_keys = [load_private_key(p, "the controller's keys") for p in pems]
    _worker_accept_v1 = accept_v1


def _unseal_in_worker(sealed_secret: dict[str, Any]) -> tuple[bool, Any]:
    return _unseal_with(sealed_secret, _worker_keys, _worker_accept_v1)


def _unseal_with(sealed_secret: dict[str, Any], keys: list[rsa.RSAPrivateKey],
                 accept_v1: bool) -> tuple[bool, Any]:
    try:
        return True, unseal(sealed_secret, keys, accept_deprecated_v1_data=accept_v1)
    except UnsealError as exc:
        return False, str(exc)
    except Exception as exc:  # a malformed object: its error is the status message
        return False, f"{type(exc).__name__}: {exc}"


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cpus if (cpus or 1) > 1 else 0  # type: ignore[return-value]


class Unsealer:
    """``await unseal(obj)`` -> the Secret, or raises :class:`UnsealError`."""

    def __init__(self, workers: int, accept_deprecated_v1_data: bool = True) -> None:
        self.workers = default_workers() if workers < 0 else workers
        self.accept_v1 = accept_deprecated_v1_data
        self._keys: list[rsa.RSAPrivateKey] = []
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def set_keys(self, registry: KeyRegistry) -> None:
        self._keys = registry.private_keys()
        if self.workers > 0:
            old, self._pool = self._pool, None
            if old is not None:
                old.shutdown(wait=False)  # what it is doing finishes with the previous keys
            pems = [private_key_pem(k) for k in self._keys]
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(pems, self.accept_v1))

    async def unseal(self, sealed_secret: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if self._pool is not None:
            ok, out = await loop.run_in_executor(self._pool, _unseal_in_worker, sealed_secret)
        else:
            ok, out = await loop.run_in_executor(None, _unseal_with, sealed_secret,
                                                 list(self._keys), self.accept_v1)
        if not ok:
            raise UnsealError(out)
        return out  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
