"""The reconcile loop: SealedSecrets (and deleted Secrets) from watches into a rate-limited
queue; each item unsealed, its Secret created or updated, its status and events written."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubecrypt.controller import secrets as sec
from kubecrypt.controller.config import Config
from kubecrypt.controller.events import NORMAL, WARNING, Recorder
from kubecrypt.controller.kube import Kube, code_of, message_of, parse_selector
from kubecrypt.controller.metrics import Metrics
from kubecrypt.controller.status import condition_value, next_status, synced
from kubecrypt.controller.unsealer import Unsealer
from kubecrypt.controller.workqueue import WorkQueue
from kubecrypt.sealed.errors import TemplateFailed, UnsealError
from kubecrypt.sealed.objects import SEALED_KIND

log = logging.getLogger("kubecrypt.controller")
INSTANCE_LABEL = "app.kubernetes.io/instance"


class Retry(Exception):
    """The attempt failed; try again later (up to --max-unseal-retries)."""


class Permanent(Exception):
    """The attempt failed in a way retrying cannot fix (an immutable Secret)."""


def key_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _spec(obj: dict[str, Any]) -> Any:
    return obj.get("spec")


class Reconciler:
    def __init__(self, kube: Kube, config: Config, unsealer: Unsealer, metrics: Metrics) -> None:
        self.kube = kube
        self.config = config
        self.unsealer = unsealer
        self.metrics = metrics
        self.events = Recorder(kube)
        self.cache: dict[str, dict[str, Any]] = {}
        self.queue = WorkQueue(config.retry_base)
        self.writes = 0  # Secret creates/updates/deletes and status writes, for tests/bench
        self._gone: dict[str, str] = {}  # --old-gc-behavior: uid of a deleted SealedSecret

    # --- what triggers work ------------------------------------------------------------------

    def namespaces(self) -> list[str | None]:
        cfg = self.config
        if cfg.additional_namespaces:
            return list(dict.fromkeys([cfg.namespace, *cfg.additional_namespaces]))
        return [None] if cfg.all_namespaces else [cfg.namespace]

    def on_sealed(self, etype: str, obj: dict[str, Any]) -> None:
        key = key_of(obj)
        old = self.cache.get(key)
        if etype == "DELETED":
            self.cache.pop(key, None)
            meta = obj.get("metadata") or {}
            if self.config.old_gc_behavior:
                self._gone[key] = str(meta.get("uid") or "")
            self.metrics.remove_condition(str(meta.get("namespace")), str(meta.get("name")))
            self.events.forget(str(meta.get("uid") or ""))
            self.queue.add(key)
            return
        self.cache[key] = obj
        self._gone.pop(key, None)
        if old is None or _spec(old) != _spec(obj) or \
                (old.get("metadata") or {}).get("uid") != (obj.get("metadata") or {}).get("uid"):
            self.queue.forget(key)  # a new spec gets a fresh set of retries
            self.queue.add(key)

    def on_secret(self, etype: str, obj: dict[str, Any]) -> None:
        """A deleted Secret is made again when its SealedSecret owns it or it was managed."""
        if etype != "DELETED":
            return
        key = key_of(obj)
        ss = self.cache.get(key)
        if ss is not None and (sec.controlled_by(obj, ss) or sec.is_managed(obj)):
            self.queue.add(key)

    def requeue_failed(self) -> None:
        """After a key change: what could not be opened may open now."""
        for key, ss in self.cache.items():
            cond = synced(ss)
            if cond is None or cond.get("status") != "True":
                self.queue.forget(key)
                self.queue.add(key)

    async def _watch(self, kind: str, namespace: str | None) -> None:
        labels = parse_selector(self.config.label_selector)
        handler = self.on_sealed if kind == SEALED_KIND else self.on_secret
        async for etype, obj in self.kube.watch(kind, namespace, labels,
                                                deleted_only=kind != SEALED_KIND):
            handler(etype, obj)

    async def run(self) -> None:
        # A fresh start each time this replica leads: everything is listed and looked at again.
        self.cache.clear()
        self.queue = WorkQueue(self.config.retry_base)
        tasks = [asyncio.ensure_future(self._watch(SEALED_KIND, ns)) for ns in self.namespaces()]
        if not self.config.skip_recreate:
            tasks += [asyncio.ensure_future(self._watch("Secret", ns))
                      for ns in self.namespaces()]
        tasks += [asyncio.ensure_future(self._worker())
                  for _ in range(max(1, self.config.concurrency))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
                self.queue.forget(key)
            except Permanent as exc:
                log.warning("%s: %s (not retried)", key, exc)
                self.queue.forget(key)
            except Retry as exc:
                if self.queue.retries(key) < self.config.max_unseal_retries:
                    delay = self.queue.retry_later(key)
                    log.warning("%s: %s (retry in %.1fs)", key, exc, delay)
                else:
                    log.error("%s: %s (giving up after %d retries until it changes)", key, exc,
                              self.config.max_unseal_retries)
                    self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # API errors: retry with back-off, never give up
                delay = self.queue.retry_later(key)
                log.warning("%s: %s (retry in %.1fs)", key, message_of(exc), delay)
            finally:
                self.queue.done(key)

    # --- one SealedSecret --------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        self.metrics.unseal_requests.inc()
        namespace, _, name = key.partition("/")
        ss = self.cache.get(key)
        if ss is None:
            uid = self._gone.pop(key, None)
            if self.config.old_gc_behavior and uid:
                await self._delete_orphan(namespace, name, uid)
            return
        if (ss.get("metadata") or {}).get("deletionTimestamp"):
            return
        try:
            unsealed = await self.unsealer.unseal(ss)
        except UnsealError as exc:
            message = str(exc)
            self.metrics.unseal_errors.labels("unseal", namespace).inc()
            await self.events.event(ss, WARNING, "ErrUnsealFailed", f"Failed to unseal: {message}")
            await self._status(ss, message)
            if isinstance(exc, TemplateFailed):  # the same object fails the same way again
                raise Permanent(message) from None
            raise Retry(message) from None
        changed = await self._write_secret(ss, unsealed)
        status_changed = await self._status(ss, None)
        if changed or status_changed:
            await self.events.event(ss, NORMAL, "Unsealed", "SealedSecret unsealed successfully")

    async def _write_secret(self, ss: dict[str, Any], unsealed: dict[str, Any]) -> bool:
        namespace = str(ss["metadata"].get("namespace"))
        name = str(ss["metadata"].get("name"))
        existing = None
        if (ss.get("status") or {}).get("conditions"):
            # Seen before: the Secret most likely exists (upstream always GETs first).
            existing = await self._fetch(ss, namespace, name)
        try:
            if existing is None:
                try:
                    await self.kube.create_secret(sec.for_create(unsealed))
                    self.writes += 1
                    return True
                except Exception as exc:
                    if code_of(exc) != 409:
                        raise
                existing = await self._fetch(ss, namespace, name)
                if existing is None:
                    raise Retry(f"Secret {namespace}/{name} was deleted while being created")
            if not sec.may_write(existing, ss):
                message = sec.ERR_RESOURCE_EXISTS.format(name)
                self.metrics.unseal_errors.labels("unmanaged", namespace).inc()
                await self.events.event(ss, WARNING, "ErrUpdateFailed", message)
                await self._status(ss, f"failed update: {message}")
                raise Retry(f"failed update: {message}")
            want = sec.desired(existing, unsealed)
            if sec.same(want, existing):
                return False
            await self.kube.replace_secret(want)
            self.writes += 1
            return True
        except Retry:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = message_of(exc)
            self.metrics.unseal_errors.labels("update", namespace).inc()
            if message.endswith(sec.IMMUTABLE_SUFFIX):
                text = sec.ERR_IMMUTABLE.format(namespace, name)
                await self.events.event(ss, WARNING, "ErrUpdateFailed", text)
                await self._status(ss, text)
                raise Permanent(text) from None
            await self.events.event(ss, WARNING, "ErrUpdateFailed", message)
            await self._status(ss, message)
            if code_of(exc) in (409, 422):
                raise Retry(message) from None
            raise

    async def _fetch(self, ss: dict[str, Any], namespace: str, name: str
                     ) -> dict[str, Any] | None:
        try:
            return await self.kube.get_secret(namespace, name)
        except Exception as exc:
            self.metrics.unseal_errors.labels("fetch", "").inc()
            await self._status(ss, message_of(exc))
            raise

    async def _status(self, ss: dict[str, Any], error: str | None) -> bool:
        meta = ss.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        instance = str((meta.get("labels") or {}).get(INSTANCE_LABEL, ""))
        if not self.config.update_status:
            return False
        status = next_status(ss, error)
        if status is None:
            self.metrics.set_condition(namespace, name, instance, condition_value(ss))
            return False
        try:
            await self.kube.patch_sealed_status(namespace, name, status)
            self.writes += 1
        except Exception as exc:
            if code_of(exc) != 404:
                self.metrics.unseal_errors.labels("status", namespace).inc()
                log.warning("%s/%s: status not written: %s", namespace, name, message_of(exc))
            return False
        ss["status"] = status  # the watch brings the same shortly; keep the cache current now
        self.metrics.set_condition(namespace, name, instance, condition_value(ss))
        return True

    async def _delete_orphan(self, namespace: str, name: str, uid: str) -> None:
        """--old-gc-behavior: delete the Secret of a deleted SealedSecret, only if that very
        SealedSecret (by uid) controlled it."""
        secret = await self.kube.get_secret(namespace, name)
        if secret is None or not sec.controlled_by(secret, {"metadata": {"uid": uid}}):
            return
        await self.kube.delete_secret(namespace, name)
        self.writes += 1
