"""The etcd client for synchronous callers (threaded servers, rotation scripts): the same
operations as :class:`~kubecrypt.etcd.client.EtcdClient`, run on a private event loop thread.

``with BlockingEtcdClient(settings) as etcd: etcd.get("/registry/secrets/default/db")``"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from kubecrypt.etcd.client import DEFAULT_PAGE_SIZE, EtcdClient, KeyValue, Page
from kubecrypt.etcd.settings import EtcdSettings

T = TypeVar("T")


class BlockingEtcdClient:
    def __init__(self, settings: EtcdSettings | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="etcd-client", daemon=True)
        self._thread.start()
        self.client = EtcdClient(settings)
        try:
            self._run(self.client.connect())
        except BaseException:
            self._stop()
            raise

    @property
    def settings(self) -> EtcdSettings:
        return self.client.settings

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self.client.close())
        finally:
            self._stop()

    def __enter__(self) -> BlockingEtcdClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def get(self, key: str | bytes) -> KeyValue | None:
        return self._run(self.client.get(key))

    def put(self, key: str | bytes, value: bytes) -> int:
        return self._run(self.client.put(key, value))

    def put_many(self, items: Iterable[tuple[bytes, bytes]]) -> int:
        return self._run(self.client.put_many(items))

    def delete(self, key: str | bytes) -> bool:
        return self._run(self.client.delete(key))

    def compare_and_swap(self, key: str | bytes, value: bytes, mod_revision: int) -> bool:
        return self._run(self.client.compare_and_swap(key, value, mod_revision))

    def compare_and_delete(self, key: str | bytes, mod_revision: int) -> bool:
        return self._run(self.client.compare_and_delete(key, mod_revision))

    def count(self, prefix: str | bytes) -> int:
        return self._run(self.client.count(prefix))

    def pages(
        self, prefix: str | bytes, *, page_size: int = DEFAULT_PAGE_SIZE, revision: int = 0
    ) -> Iterator[Page]:
        agen = self.client.pages(prefix, page_size=page_size, revision=revision)
        try:
            while True:
                try:
                    yield self._run(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            with contextlib.suppress(Exception):
                self._run(agen.aclose())

    def items(self, prefix: str | bytes, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[KeyValue]:
        for page in self.pages(prefix, page_size=page_size):
            yield from page.items
