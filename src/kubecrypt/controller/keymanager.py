"""The controller's keys: loaded from the key Secrets in its namespace, generated when there
is none, renewed every ``--key-renew-period``, and kept in step with the key Secrets while
running (a key restored from a backup decrypts at once). Old keys keep decrypting."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from kubecrypt.controller.config import Config
from kubecrypt.controller.kube import Kube, code_of, message_of
from kubecrypt.sealed.keys import (
    KEY_LABEL,
    KEY_LABEL_ACTIVE,
    KeyRegistry,
    SealingKey,
    generate_key,
    key_from_secret,
    key_secret,
)

log = logging.getLogger("kubecrypt.controller.keys")
Listener = Callable[[KeyRegistry], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KeyManager:
    def __init__(self, kube: Kube, config: Config) -> None:
        self.kube = kube
        self.config = config
        self._by_secret: dict[str, SealingKey] = {}  # key Secret name -> key
        self.registry = KeyRegistry([], config.key_order_priority)
        self._listeners: list[Listener] = []
        self.generated = 0

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _publish(self) -> None:
        self.registry = KeyRegistry(sorted(self._by_secret.values(), key=_creation),
                                    self.config.key_order_priority)
        for listener in self._listeners:
            listener(self.registry)

    def _ingest(self, secret: dict[str, Any]) -> bool:
        """Adds the key of one key Secret; a malformed one is logged and skipped."""
        meta = secret.get("metadata") or {}
        name = str(meta.get("name") or "")
        try:
            key = key_from_secret(secret, f"Secret {meta.get('namespace')}/{name}")
            if key.certificate is None:
                raise ValueError("tls.crt holds no certificate")
        except Exception as exc:  # never crash on one bad key Secret (upstream does)
            log.error("skipping key Secret %s: %s", name, exc)
            return False
        old = self._by_secret.get(name)
        if old is not None and old.fingerprint == key.fingerprint:
            return False
        self._by_secret[name] = key
        log.info("loaded key %s from Secret %s", key.fingerprint, name)
        return True

    def _drop(self, name: str) -> bool:
        key = self._by_secret.pop(name, None)
        if key is not None:
            log.info("key %s (Secret %s) removed or no longer active", key.fingerprint, name)
        return key is not None

    async def load(self) -> None:
        """Every Secret labelled ``...sealed-secrets-key=active``, plus the pre-0.9 single key
        Secret named exactly ``--key-prefix``."""
        ns = self.config.namespace
        for secret in await self.kube.list_secrets(ns, {KEY_LABEL: KEY_LABEL_ACTIVE}):
            self._ingest(secret)
        legacy = await self.kube.get_secret(ns, self.config.key_prefix)
        if legacy is not None:
            self._ingest(legacy)
        self._publish()
        log.info("%d key(s) loaded from namespace %s", len(self._by_secret), ns)

    def newest_age(self) -> dt.timedelta | None:
        newest = self.registry.newest()
        if newest is None:
            return None
        return _now() - newest.order_time(self.config.key_order_priority)

    async def ensure_key(self) -> None:
        """At start (leader only): a key when there is none or the newest is before the
        cutoff time."""
        newest = self.registry.newest()
        cutoff = self.config.key_cutoff_time
        if newest is None:
            log.info("no key found in namespace %s; generating one", self.config.namespace)
            await self.generate()
        elif cutoff is not None and newest.order_time(self.config.key_order_priority) < cutoff:
            log.info("the newest key is older than --key-cutoff-time; generating one")
            await self.generate()

    async def generate(self) -> SealingKey:
        cfg = self.config
        private_key, cert = await asyncio.get_running_loop().run_in_executor(
            None, generate_key, cfg.key_size, cfg.key_ttl, cfg.my_cn)
        key = SealingKey(private_key, cert, namespace=cfg.namespace,
                         labels={**cfg.privatekey_labels, KEY_LABEL: KEY_LABEL_ACTIVE})
        secret = key_secret(key, cfg.key_prefix)
        meta = secret["metadata"]
        del meta["name"]  # generateName: the API server picks the suffix, as upstream
        if cfg.privatekey_annotations:
            meta["annotations"] = dict(cfg.privatekey_annotations)
        # Written to the API first, only then used (upstream's order): a key that was never
        # stored would seal what nobody can open after a restart.
        created = await self.kube.create_secret(secret, result=True)
        assert created is not None
        self._ingest(created)
        self._publish()
        self.generated += 1
        log.info("new key %s written to Secret %s/%s; certificate:\n%s", key.fingerprint,
                 cfg.namespace, created["metadata"]["name"],
                 cert.public_bytes(_pem()).decode("ascii").strip())
        return key

    async def renew_forever(self) -> None:
        period = self.config.key_renew_period.total_seconds()
        if period <= 0:
            return
        while True:
            age = self.newest_age()
            wait = period - age.total_seconds() if age is not None else 0.0
            if wait > 0:
                # Re-checked regularly: a newer key may arrive through the key watch.
                await asyncio.sleep(min(wait, 5.0))
                continue
            try:
                await self.generate()
            except Exception as exc:
                log.error("key renewal failed: %s; retrying in 10s", message_of(exc))
                await asyncio.sleep(min(10.0, period))

    async def watch_forever(self) -> None:
        """Key Secrets added, changed, relabelled or deleted while running (upstream needs a
        restart, or sees additions only with --watch-for-secrets)."""
        async for etype, secret in self.kube.watch("Secret", self.config.namespace,
                                                    {KEY_LABEL: None}):
            name = str((secret.get("metadata") or {}).get("name") or "")
            label = ((secret.get("metadata") or {}).get("labels") or {}).get(KEY_LABEL)
            if etype == "DELETED" or label != KEY_LABEL_ACTIVE:
                changed = self._drop(name)
            else:
                changed = self._ingest(secret)
            if changed:
                self._publish()


def _creation(key: SealingKey) -> dt.datetime:
    return key.creation or dt.datetime.min.replace(tzinfo=dt.UTC)


def _pem() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


async def with_retries(what: str, call: Callable[[], Any], attempts: int = 0) -> Any:
    """Calls ``call()`` until it works (API server not up yet), with back-off."""
    n = 0
    while True:
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            n += 1
            if attempts and n >= attempts:
                raise
            delay = min(10.0, 0.2 * 2 ** min(n, 6))
            log.warning("%s failed (%s%s); retrying in %.1fs", what, message_of(exc),
                        f", HTTP {code_of(exc)}" if code_of(exc) else "", delay)
            await asyncio.sleep(delay)
