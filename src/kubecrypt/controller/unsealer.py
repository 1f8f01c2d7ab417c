"""Unsealing off the event loop. RSA-OAEP with 4096-bit keys costs ~2 ms per item and holds the
GIL, so worker processes (one per CPU) do it; each gets the keys (newest first) whenever the
key set changes, before any later job. Jobs and results travel as JSON lines over pipes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.controller.worker import unseal_with
from kubecrypt.sealed.errors import TemplateFailed, UnsealError
from kubecrypt.sealed.keys import KeyRegistry, private_key_pem

log = logging.getLogger("kubecrypt.controller")


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cpus if (cpus or 1) > 1 else 0  # type: ignore[return-value]


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pending: dict[int, asyncio.Future[tuple[bool, Any]]] = {}
        self.reader = asyncio.ensure_future(self._read())

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.reader.done()

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    break
                msg = json.loads(line)
                fut = self.pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result((msg["ok"], msg["result"]))
        finally:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(RuntimeError("an unsealing worker exited"))
            self.pending.clear()


class Unsealer:
    """``await unseal(obj)`` -> the Secret, or raises :class:`UnsealError`."""

    def __init__(self, workers: int, accept_deprecated_v1_data: bool = True) -> None:
        self.workers = default_workers() if workers < 0 else workers
        self.accept_v1 = accept_deprecated_v1_data
        self._keys: list[rsa.RSAPrivateKey] = []
        self._pool: list[_Worker] = []
        self._ids = itertools.count()
        self._lock = asyncio.Lock()

    def _keys_msg(self) -> dict[str, Any]:
        return {"op": "keys", "accept_v1": self.accept_v1,
                "pems": [private_key_pem(k).decode("ascii") for k in self._keys]}

    def set_keys(self, registry: KeyRegistry) -> None:
        self._keys = registry.private_keys()
        msg = self._keys_msg()
        for w in self._pool:
            if w.alive:
                w.send(msg)

    async def _worker(self) -> _Worker:
        async with self._lock:  # one spawn at a time: concurrent jobs must not each start one
            self._pool = [w for w in self._pool if w.alive]
            while len(self._pool) < self.workers:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "kubecrypt.controller.worker",
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    limit=64 * 1024 * 1024)
                w = _Worker(proc)
                w.send(self._keys_msg())
                self._pool.append(w)
        return min(self._pool, key=lambda w: len(w.pending))

    async def unseal(self, sealed_secret: dict[str, Any]) -> dict[str, Any]:
        if self.workers > 0:
            w = await self._worker()
            job = next(self._ids)
            fut: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
            w.pending[job] = fut
            w.send({"op": "unseal", "id": job, "obj": sealed_secret})
            ok, out = await fut
        else:
            ok, out = await asyncio.get_running_loop().run_in_executor(
                None, unseal_with, sealed_secret, list(self._keys), self.accept_v1)
        if not ok:
            raise (TemplateFailed if out["permanent"] else UnsealError)(out["message"])
        return out  # type: ignore[no-any-return]

    def close(self) -> None:
        for w in self._pool:
            with contextlib.suppress(ProcessLookupError):
                w.proc.kill()
            w.reader.cancel()
        self._pool = []
