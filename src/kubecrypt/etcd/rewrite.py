"""``etcd rewrite``: re-encrypt every stale value with the config's current first provider and key.

Each write is a compare-and-swap on the mod_revision the value was read at. When it loses (the
API server or anyone else wrote the key meanwhile), the key is read again and judged again: a
fresh value that is already current is left alone, a stale one is re-encrypted from *its* new
plaintext. So a concurrent writer never loses an update, and a second run finds nothing to do.
This is what ``kubectl get secrets -A -o json | kubectl replace -f -`` achieves through the API
server, done directly in etcd for when there is none."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kubecrypt.atrest.classify import classify
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.errors import DecryptError, EncryptError
from kubecrypt.etcd.client import DEFAULT_PAGE_SIZE, EtcdClient, KeyValue
from kubecrypt.etcd.inspect import resource_of
from kubecrypt.etcd.targets import Target

MAX_ATTEMPTS = 10
CONCURRENCY = 32


@dataclass
class RewriteReport:
    dry_run: bool = False
    scanned: int = 0
    stale: int = 0
    rewritten: int = 0
    current: int = 0
    """Read fine and not stale: left alone."""
    conflicts: int = 0
    """Compare-and-swap lost to a concurrent writer; the key was re-read and judged again."""
    vanished: int = 0
    """Deleted by someone else before it could be rewritten."""
    superseded: int = 0
    """Stale when read, then replaced by a concurrent writer with a current value: left alone."""
    unreadable: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would rewrite" if self.dry_run else "rewrote"
        text = (
            f"scanned {self.scanned} values: {self.stale} stale, {verb} {self.rewritten}, "
            f"{self.current} already current, {self.unreadable} unreadable"
        )
        if self.conflicts:
            text += (
                f"; {self.conflicts} lost races to concurrent writers were re-read "
                f"({self.superseded} already rewritten by them, {self.vanished} deleted)"
            )
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "scanned": self.scanned,
            "stale": self.stale,
            "rewritten": self.rewritten,
            "current": self.current,
            "unreadable": self.unreadable,
            "conflicts": self.conflicts,
            "superseded": self.superseded,
            "vanished": self.vanished,
            "errors": [{"key": k, "error": e} for k, e in self.errors[:100]],
        }


class Rewriter:
    def __init__(
        self, client: EtcdClient, transformers: TransformerSet, prefix: str, *, dry_run: bool = False
    ) -> None:
        self.client = client
        self.transformers = transformers
        self.prefix = prefix
        self.report = RewriteReport(dry_run=dry_run)
        self._sem = asyncio.Semaphore(CONCURRENCY)

    def _fresh_value(self, kv: KeyValue, resource: str | None) -> bytes | None:
        """The re-encrypted value if ``kv`` is stale, else None. Raises DecryptError."""
        if resource is None:
            return None
        chain = self.transformers.for_resource(resource)
        try:
            result = chain.decrypt(kv.value, kv.key)
        except DecryptError:
            # Plaintext left behind after identity was dropped from the config: nothing can read
            # it through the config, but it needs no key either. Encrypting it is the fix.
            if classify(kv.value).state == "plaintext":
                return chain.encrypt(kv.value, kv.key)
            raise
        if not result.stale:
            return None
        return chain.encrypt(result.plaintext, kv.key)

    async def _one(self, kv: KeyValue | None, resource: str | None) -> None:
        first = True
        for _ in range(MAX_ATTEMPTS):
            if kv is None:
                self.report.vanished += 1  # only after a lost swap: the page listed it
                return
            try:
                fresh = self._fresh_value(kv, resource)
            except DecryptError as exc:
                self.report.unreadable += 1
                self.report.errors.append((kv.key_text, str(exc)))
                return
            if fresh is None:
                if first:
                    self.report.current += 1
                else:
                    self.report.superseded += 1
                return
            if first:
                self.report.stale += 1
                first = False
            if self.report.dry_run:
                self.report.rewritten += 1
                return
            async with self._sem:
                swapped = await self.client.compare_and_swap(kv.key, fresh, kv.mod_revision)
            if swapped:
                self.report.rewritten += 1
                return
            self.report.conflicts += 1
            kv = await self.client.get(kv.key)
        raise EncryptError(
            f"{kv.key_text if kv else '?'} kept changing during {MAX_ATTEMPTS} attempts to rewrite it; "
            "run the rewrite again"
        )

    async def run(
        self,
        targets: Sequence[Target],
        *,
        on_page: Callable[[int], None] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RewriteReport:
        for target in targets:
            # Not one snapshot: a long rewrite must survive kube-apiserver's compactions (every
            # 5 minutes), and every write is a compare-and-swap anyway.
            pages = self.client.pages(target.key_prefix, page_size=page_size, snapshot=False)
            async with contextlib.aclosing(pages):
                async for page in pages:
                    self.report.scanned += len(page.items)
                    jobs = [
                        self._one(kv, target.resource or resource_of(kv.key_text, self.prefix))
                        for kv in page.items
                    ]
                    await asyncio.gather(*jobs)
                    if on_page is not None:
                        on_page(len(page.items))
        return self.report
