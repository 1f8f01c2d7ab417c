"""The two controllers of kube-controller-manager the lab stands in for: the namespace
controller (empty a terminating namespace, then remove it) and the garbage collector (delete,
or orphan, the dependents of a deleted owner by ``ownerReferences[].uid``)."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

from kubecrypt.lab.apiserver import errors
from kubecrypt.lab.apiserver.etcdstore import StoreUnavailable
from kubecrypt.lab.apiserver.kinds.namespace import NAMESPACES
from kubecrypt.lab.apiserver.objects import Objects, Stored
from kubecrypt.lab.apiserver.registry import REGISTRY
from kubecrypt.lab.apiserver.resources import Resource

if TYPE_CHECKING:
    from kubecrypt.lab.apiserver.rest import Rest

log = logging.getLogger("kubecrypt.lab.controllers")
RETRY = 0.2


class Controllers:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.rest: Rest | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._terminating: set[str] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def object_deleted(self, res: Resource, obj: dict[str, Any], policy: str = "Background"
                       ) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("uid"):
            self._spawn(self._collect(meta["uid"], meta.get("namespace"), policy))

    def object_changed(self, res: Resource, obj: dict[str, Any], policy: str = "Background"
                       ) -> None:
        meta = obj.get("metadata") or {}
        if not meta.get("deletionTimestamp"):
            return
        if res is NAMESPACES:
            if meta["name"] not in self._terminating:
                self._terminating.add(meta["name"])
                self._spawn(self._finalize_namespace(meta["name"]))
        else:
            self._spawn(self._collect_if_gone(res, obj, policy))

    async def resume(self) -> None:
        """After a restart: finish terminating namespaces, collect orphans of owners deleted
        while no server was watching."""
        items, _, _ = await self.objects.list(NAMESPACES, None, lambda o: True)
        for ns in items:
            self.object_changed(NAMESPACES, ns)
        await self.sweep()

    async def sweep(self) -> None:
        """The garbage collector's full pass: an object whose every owner that the lab serves
        is gone is deleted. Owners of kinds the lab does not serve are never presumed gone
        (upstream's GC also leaves a dependent alone when it cannot resolve the owner)."""
        served = {(r.group_version, r.kind) for r in REGISTRY.stored()}
        everything: list[tuple[Resource, dict[str, Any]]] = []
        for res in REGISTRY.stored():
            items, _, _ = await self.objects.list(res, None, lambda o: True)
            everything += [(res, o) for o in items]
        uids = {o["metadata"].get("uid") for _, o in everything}
        for res, obj in everything:
            refs = obj["metadata"].get("ownerReferences") or []
            if refs and all((r.get("apiVersion"), r.get("kind")) in served and
                            r.get("uid") not in uids for r in refs):
                await self._handle_dependent(res, obj, refs[0].get("uid", ""), "Background")

    async def _collect_if_gone(self, res: Resource, obj: dict[str, Any], policy: str) -> None:
        meta = obj["metadata"]
        try:
            await self.objects.get(res, meta.get("namespace"), meta["name"])
        except errors.ApiError as exc:
            if exc.code == 404:
                await self._collect(meta["uid"], meta.get("namespace"), policy)

    async def _collect(self, uid: str, namespace: str | None, policy: str) -> None:
        assert self.rest is not None
        for _ in range(50):
            try:
                for res in REGISTRY.namespaced():
                    items, _, _ = await self.objects.list(
                        res, namespace, lambda o: any(r.get("uid") == uid for r in
                                                      o["metadata"].get("ownerReferences") or []))
                    for dep in items:
                        await self._handle_dependent(res, dep, uid, policy)
                return
            except (StoreUnavailable, errors.ApiError) as exc:
                log.warning("garbage collection of dependents of %s: %s", uid, exc)
                await asyncio.sleep(RETRY * 5)

    async def _handle_dependent(self, res: Resource, dep: dict[str, Any], uid: str,
                                policy: str) -> None:
        assert self.rest is not None
        meta = dep["metadata"]
        if policy == "Orphan":
            async def strip(cur: Stored) -> dict[str, Any]:
                new = copy.deepcopy(cur.obj)
                refs = [r for r in new["metadata"].get("ownerReferences") or []
                        if r.get("uid") != uid]
                if refs:
                    new["metadata"]["ownerReferences"] = refs
                else:
                    new["metadata"].pop("ownerReferences", None)
                return new
            await self.objects.update(res, meta.get("namespace"), meta["name"], strip)
            return
        try:
            await self.rest.delete(res, meta.get("namespace"), meta["name"], None, {})
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    async def _finalize_namespace(self, name: str) -> None:
        assert self.rest is not None
        delay = RETRY
        try:
            while True:
                try:
                    remaining = 0
                    for res in REGISTRY.namespaced():
                        items, _, _ = await self.objects.list(res, name, lambda o: True)
                        remaining += len(items)
                        for obj in items:
                            if not obj["metadata"].get("deletionTimestamp"):
                                try:
                                    await self.rest.delete(res, name, obj["metadata"]["name"],
                                                           None, {})
                                except errors.ApiError as exc:
                                    if exc.code != 404:
                                        raise
                    if remaining == 0:
                        await self._remove_namespace(name)
                        return
                except (StoreUnavailable, errors.ApiError) as exc:
                    if isinstance(exc, errors.ApiError) and exc.code == 404:
                        return
                    log.warning("finalizing namespace %s: %s", name, exc)
                # Objects held by finalizers may take long; back off so a stuck namespace does
                # not cost a list of everything five times a second.
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 2.0)
        finally:
            self._terminating.discard(name)

    async def _remove_namespace(self, name: str) -> None:
        async def finalize(cur: Stored) -> dict[str, Any] | None:
            new = copy.deepcopy(cur.obj)
            new["spec"] = {}
            if new["metadata"].get("finalizers"):
                return new  # other finalizers still hold it
            return None

        out = await self.objects.update(NAMESPACES, None, name, finalize)
        await self._collect(out["metadata"].get("uid", ""), None, "Background")
