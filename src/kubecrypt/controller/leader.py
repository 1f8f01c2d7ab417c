"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: acquire
when free or expired, renew every retry period, and stop acting when a renewal has not
succeeded within the renew deadline (shorter than the lease), so two replicas never act at
once. On shutdown the lease is released for a quick hand-over."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubecrypt.controller.kube import Kube, code_of, message_of

log = logging.getLogger("kubecrypt.controller.leader")


def _micro(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class LeaderElector:
    def __init__(self, kube: Kube, namespace: str, name: str, identity: str,
                 lease_duration: float, renew_deadline: float, retry_period: float) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.leading = False
        self.transitions = 0

    async def _try(self) -> bool:
        now = dt.datetime.now(dt.UTC)
        lease = await self.kube.get_lease(self.namespace, self.name)
        spec_new = {"holderIdentity": self.identity,
                    "leaseDurationSeconds": max(1, round(self.lease_duration)),
                    "renewTime": _micro(now)}
        if lease is None:
            spec_new.update(acquireTime=_micro(now), leaseTransitions=0)
            await self.kube.create_lease({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": spec_new})
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and renewed is not None and \
                now < renewed + dt.timedelta(seconds=duration):
            return False
        if holder == self.identity:
            spec_new["acquireTime"] = spec.get("acquireTime") or _micro(now)
            spec_new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0)
        else:
            spec_new["acquireTime"] = _micro(now)
            spec_new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        lease["spec"] = {**spec, **spec_new}
        await self.kube.replace_lease(lease)  # resourceVersion: a racing replica gets a 409
        return True

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Runs ``lead()`` while leading; cancels it when leadership is lost; forever."""
        task: asyncio.Task[None] | None = None
        last_renew = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    ok = await asyncio.wait_for(self._try(), self.renew_deadline)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if code_of(exc) != 409:
                        log.warning("lease %s/%s: %s", self.namespace, self.name,
                                    message_of(exc))
                    ok = False
                now = loop.time()
                if ok:
                    last_renew = now
                    if not self.leading:
                        self.leading = True
                        self.transitions += 1
                        log.info("%s became the leader (lease %s/%s)", self.identity,
                                 self.namespace, self.name)
                        task = asyncio.ensure_future(lead())
                elif self.leading and now - last_renew > self.renew_deadline:
                    log.warning("%s lost the lease; standing by", self.identity)
                    self.leading = False
                    if task is not None:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                        task = None
                if task is not None and task.done() and not task.cancelled():
                    task.result()  # a crash of the leader's work is a crash of the controller
                await asyncio.sleep(self.retry_period)
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if self.leading:
                await self.release()

    async def release(self) -> None:
        self.leading = False
        try:
            lease = await self.kube.get_lease(self.namespace, self.name)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"] = {**lease["spec"], "holderIdentity": "",
                                 "leaseDurationSeconds": 1}
                await self.kube.replace_lease(lease)
        except Exception as exc:
            log.warning("could not release the lease: %s", message_of(exc))
