"""The controllers of kube-controller-manager (and apiextensions-apiserver) the lab stands in
for: the namespace controller (empty a terminating namespace, then remove it), the garbage
collector (delete, or orphan, the dependents of a deleted owner by ``ownerReferences[].uid``),
the service account controller (a ``default`` ServiceAccount in every namespace), the
ClusterRole aggregation controller, and the CRD controllers (serve a CRD's resources; delete its
custom resources when it goes)."""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from typing import TYPE_CHECKING, Any

from kubecrypt.lab.apiserver import errors
from kubecrypt.lab.apiserver.etcdstore import StoreUnavailable
from kubecrypt.lab.apiserver.kinds.crd import CRDS, resources_of
from kubecrypt.lab.apiserver.kinds.event import EVENTS
from kubecrypt.lab.apiserver.kinds.namespace import NAMESPACES
from kubecrypt.lab.apiserver.kinds.pod import NO_NODES, PODS
from kubecrypt.lab.apiserver.kinds.rbac import CLUSTER_ROLES
from kubecrypt.lab.apiserver.kinds.serviceaccount import SERVICE_ACCOUNTS
from kubecrypt.lab.apiserver.objects import Objects, Stored
from kubecrypt.lab.apiserver.registry import REGISTRY
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.rbac.aggregation import aggregate

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
        # Called with the resource after every write (the authorizer drops its cached policy).
        self.hooks: list[Any] = []

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def object_written(self, res: Resource, obj: dict[str, Any], created: bool) -> None:
        """After a create or update went to etcd."""
        meta = obj.get("metadata") or {}
        if res is CRDS:
            if meta.get("deletionTimestamp"):
                self._spawn(self._crd_if_gone(obj))
            else:
                REGISTRY.set_custom(meta.get("name", ""), resources_of(obj))
        elif res is NAMESPACES and created:
            self._spawn(self._default_service_account(meta.get("name", "")))
        elif res is CLUSTER_ROLES:
            self._spawn(self.aggregate())
        elif res is PODS and created:
            self._spawn(self._unschedulable(obj))
        for hook in self.hooks:
            hook(res)

    async def _unschedulable(self, pod: dict[str, Any]) -> None:
        """The scheduler's FailedScheduling Event (what ``kubectl describe pod`` shows)."""
        assert self.rest is not None
        meta = pod["metadata"]
        when = meta.get("creationTimestamp")
        event = {"metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}"},
                 "involvedObject": {"kind": "Pod", "namespace": meta.get("namespace"),
                                    "name": meta["name"], "uid": meta.get("uid"),
                                    "apiVersion": "v1",
                                    "resourceVersion": meta.get("resourceVersion")},
                 "reason": "FailedScheduling", "message": NO_NODES, "type": "Warning",
                 "source": {"component": "default-scheduler"}, "count": 1,
                 "firstTimestamp": when, "lastTimestamp": when,
                 "reportingComponent": "default-scheduler"}
        try:
            await self.rest.create(EVENTS, meta.get("namespace"), event, {})
        except (errors.ApiError, StoreUnavailable) as exc:
            log.warning("scheduling event for pod %s: %s", meta["name"], exc)

    def object_deleted(self, res: Resource, obj: dict[str, Any], policy: str = "Background"
                       ) -> None:
        meta = obj.get("metadata") or {}
        if res is CRDS:
            self._crd_deleted(obj)
        elif res is CLUSTER_ROLES:
            self._spawn(self.aggregate())
        for hook in self.hooks:
            hook(res)
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
        while no server was watching, make missing default ServiceAccounts, aggregate."""
        items, _, _ = await self.objects.list(NAMESPACES, None, lambda o: True)
        for ns in items:
            self.object_changed(NAMESPACES, ns)
            if not ns["metadata"].get("deletionTimestamp"):
                await self._default_service_account(ns["metadata"]["name"])
        await self.aggregate()
        await self.sweep()

    async def load_crds(self) -> None:
        """Serve every CRD in etcd (at start-up, before requests are served)."""
        items, _, _ = await self.objects.list(CRDS, None, lambda o: True)
        for crd in items:
            REGISTRY.set_custom(crd["metadata"]["name"], resources_of(crd))

    async def _default_service_account(self, namespace: str) -> None:
        assert self.rest is not None
        try:
            await self.rest.create(SERVICE_ACCOUNTS, namespace,
                                   {"metadata": {"name": "default"}}, {})
        except errors.ApiError as exc:
            if exc.code not in (403, 404, 409):  # exists, or the namespace is going
                log.warning("default service account in %s: %s", namespace, exc.message)
        except StoreUnavailable as exc:
            log.warning("default service account in %s: %s", namespace, exc)

    async def aggregate(self) -> None:
        """Fills in the rules of ClusterRoles with an aggregationRule."""
        try:
            items, _, _ = await self.objects.list(CLUSTER_ROLES, None, lambda o: True)
            wanted = aggregate(items)
            for role in items:
                name = role["metadata"]["name"]
                rules = wanted[name].get("rules") or []
                if role.get("aggregationRule") is None or (role.get("rules") or []) == rules:
                    continue

                async def fill(cur: Stored, rules: list[Any] = rules) -> dict[str, Any]:
                    new = copy.deepcopy(cur.obj)
                    new["rules"] = rules
                    return new

                await self.objects.update(CLUSTER_ROLES, None, name, fill)
        except (StoreUnavailable, errors.ApiError) as exc:
            log.warning("aggregating cluster roles: %s", exc)

    async def _crd_if_gone(self, crd: dict[str, Any]) -> None:
        try:
            await self.objects.get(CRDS, None, crd["metadata"]["name"])
        except errors.ApiError as exc:
            if exc.code == 404:
                self._crd_deleted(crd)

    def _crd_deleted(self, crd: dict[str, Any]) -> None:
        served = resources_of(crd)
        REGISTRY.set_custom(crd["metadata"].get("name", ""), ())
        if served:
            self._spawn(self._delete_all(served[0]))

    async def _delete_all(self, res: Resource) -> None:
        """The custom resources of a deleted CRD go with it."""
        try:
            items, _, _ = await self.objects.list(res, None, lambda o: True)
            for obj in items:
                current = await self.objects.get(res, obj["metadata"].get("namespace"),
                                                 obj["metadata"]["name"])
                await self.objects.delete(res, current)
        except (StoreUnavailable, errors.ApiError) as exc:
            log.warning("deleting the %s of a deleted CRD: %s", res.qualified, exc)

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
