"""The controller process: keys, HTTP, leader election and the reconcile loop, wired up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable

import httpx2
from lightkube import AsyncClient

from kubecrypt.controller.config import Config, address
from kubecrypt.controller.httpapi import Api
from kubecrypt.controller.keymanager import KeyManager, with_retries
from kubecrypt.controller.kube import Kube, connect
from kubecrypt.controller.leader import LeaderElector
from kubecrypt.controller.metrics import Metrics
from kubecrypt.controller.ratelimit import TokenBucket
from kubecrypt.controller.reconciler import Reconciler
from kubecrypt.controller.unsealer import Unsealer

log = logging.getLogger("kubecrypt.controller")


class Controller:
    def __init__(self, config: Config, kube: Kube) -> None:
        self.config = config
        self.kube = kube
        self.metrics = Metrics()
        self.keys = KeyManager(kube, config)
        self.unsealer = Unsealer(config.workers, config.accept_deprecated_v1_data)
        self.reconciler = Reconciler(kube, config, self.unsealer, self.metrics)
        self.api = Api(config, self.keys, self.metrics)
        self.keys.on_change(self.unsealer.set_keys)
        self.keys.on_change(lambda _: self.reconciler.requeue_failed())
        self.elector: LeaderElector | None = None
        self.ports: tuple[int, int] = (0, 0)
        self._background: set[asyncio.Future[object]] = set()

    async def lead(self) -> None:
        """What only the leader does: make and renew keys, reconcile."""
        await with_retries("generating the first key", self.keys.ensure_key)
        await asyncio.gather(self.keys.renew_forever(), self.reconciler.run())

    async def run(self, ready: Callable[[Controller], Awaitable[None]] | None = None) -> None:
        cfg = self.config
        await with_retries("loading the key Secrets", self.keys.load)
        host, port = address("listen-addr", cfg.listen_addr)
        api_port = await self.api.listen(host, port)
        metrics_port = 0
        if cfg.listen_metrics_addr:
            mhost, mport = address("listen-metrics-addr", cfg.listen_metrics_addr)
            metrics_port = await self.api.listen(mhost, mport, self.api.metrics_handler)
        self.ports = (api_port, metrics_port)
        log.info("HTTP API on %s:%d, metrics on :%d", host, api_port, metrics_port)
        if ready is not None:
            await ready(self)
        tasks = [asyncio.ensure_future(self.keys.watch_forever())]
        if cfg.leader_elect:
            identity = cfg.identity or f"{socket.gethostname()}_{os.getpid()}"
            self.elector = LeaderElector(self.kube, cfg.namespace, cfg.lease_name, identity,
                                         cfg.lease_duration, cfg.renew_deadline,
                                         cfg.retry_period)
            tasks.append(asyncio.ensure_future(self.elector.run(self.lead)))
        else:
            tasks.append(asyncio.ensure_future(self.lead()))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.api.close()
            self.unsealer.close()

    def renew_now(self) -> None:
        """SIGUSR1: a new key now (the leader only; a standby has nothing to renew)."""
        if self.elector is None or self.elector.leading:
            task = asyncio.ensure_future(with_retries("generating a key", self.keys.generate, 5))
            self._background.add(task)
            task.add_done_callback(self._background.discard)


def throttle(client: AsyncClient, bucket: TokenBucket) -> None:
    """Every request the client sends waits for the bucket first (client-go's rate limiter)."""
    http = getattr(getattr(client, "_client", None), "_client", None)
    if not isinstance(http, httpx2.AsyncClient):
        raise TypeError("lightkube's AsyncClient no longer wraps an httpx2.AsyncClient")
    hooks = http.event_hooks
    http.event_hooks = {**hooks, "request": [bucket.acquire, *hooks.get("request", [])]}


async def main(config: Config) -> None:
    client = connect(config.kubeconfig, config.context)
    if config.kubeclient_qps >= 0:
        throttle(client, TokenBucket(config.kubeclient_qps, config.kubeclient_burst))
    kube = Kube(client)
    controller = Controller(config, kube)
    loop = asyncio.get_running_loop()
    runner = asyncio.ensure_future(controller.run())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.cancel)
    loop.add_signal_handler(signal.SIGUSR1, controller.renew_now)
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    await kube.close()
    log.info("controller stopped")
