"""The controller's view of the API server, as plain JSON-shaped dicts, on lightkube's async
client from ``kubecrypt.kube`` (kubeconfig with exec plugins, client certificates, tokenFile;
else the in-cluster service account). Every Kubernetes call the controller makes goes through
here."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any, cast

from lightkube import ALL_NS, ApiError, AsyncClient, operators
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Event, Secret
from lightkube.types import OnErrorAction, OnErrorResult, PatchType

from kubecrypt.kube import Overrides, async_lightkube_client, load
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.objects import SEALED_KIND

log = logging.getLogger("kubecrypt.controller")

SealedSecretResource = create_namespaced_resource(
    "bitnami.com", "v1alpha1", SEALED_KIND, "sealedsecrets")

__all__ = ["ApiError", "Kube", "SealedSecretResource", "code_of", "connect"]


def code_of(exc: BaseException) -> int:
    """The HTTP status of an API error, 0 for transport errors."""
    if isinstance(exc, ApiError):
        return int(getattr(exc.status, "code", 0) or 0)
    return 0


def message_of(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return str(getattr(exc.status, "message", "") or exc)
    return str(exc) or type(exc).__name__


def parse_selector(text: str) -> dict[str, Any] | None:
    """``k=v``, ``k==v``, ``k!=v``, ``k`` and ``!k`` terms, comma-separated."""
    if not text.strip():
        return None
    out: dict[str, Any] = {}
    for term in (t.strip() for t in text.split(",")):
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            out[k.strip()] = operators.not_equal(v.strip())
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            out[k.strip()] = v.strip()
        elif term.startswith("!"):
            out[term[1:].strip()] = operators.not_exists()
        else:
            out[term] = None
        if " in " in term or "(" in term:
            raise SealedInputError(f"--label-selector: set-based term {term!r} is not supported")
    return out


def connect(kubeconfig: str | None, context: str | None = None) -> AsyncClient:
    """``--kubeconfig`` (else $KUBECONFIG, ~/.kube/config), else the in-cluster service account,
    as kubectl and upstream's controller pick them."""
    config = load(Overrides(kubeconfig=kubeconfig, context=context))
    return async_lightkube_client(config, field_manager="sealed-secrets")


def _secret(d: dict[str, Any]) -> Secret:
    return cast(Secret, Secret.from_dict(d))


def _dict(obj: Any) -> dict[str, Any]:
    out = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return out  # type: ignore[no-any-return]


class Kube:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def close(self) -> None:
        await self.client.close()

    # --- Secrets -----------------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _dict(await self.client.get(Secret, name, namespace=namespace))
        except ApiError as exc:
            if code_of(exc) == 404:
                return None
            raise

    async def create_secret(self, secret: dict[str, Any], result: bool = False
                            ) -> dict[str, Any] | None:
        """The created Secret only when asked: decoding it costs more than sending it."""
        created = await self.client.create(_secret(secret))
        return _dict(created) if result else None

    async def replace_secret(self, secret: dict[str, Any]) -> None:
        await self.client.replace(_secret(secret))

    async def delete_secret(self, namespace: str, name: str) -> None:
        try:
            await self.client.delete(Secret, name, namespace=namespace)
        except ApiError as exc:
            if code_of(exc) != 404:
                raise

    async def list_secrets(self, namespace: str, labels: dict[str, Any]) -> list[dict[str, Any]]:
        return [_dict(s) async for s in self.client.list(Secret, namespace=namespace,
                                                         labels=labels)]

    # --- SealedSecrets -----------------------------------------------------------------------

    async def get_sealed(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _dict(await self.client.get(SealedSecretResource, name, namespace=namespace))
        except ApiError as exc:
            if code_of(exc) == 404:
                return None
            raise

    async def patch_sealed_status(self, namespace: str, name: str,
                                  status: dict[str, Any]) -> None:
        await self.client.patch(SealedSecretResource.Status, name, {"status": status},
                                namespace=namespace, patch_type=PatchType.MERGE)

    # --- Events, Leases ----------------------------------------------------------------------

    async def create_event(self, event: dict[str, Any]) -> None:
        await self.client.create(Event.from_dict(event))  # type: ignore[call-overload]

    async def patch_event(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        await self.client.patch(Event, name, patch, namespace=namespace,
                                patch_type=PatchType.MERGE)

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _dict(await self.client.get(Lease, name, namespace=namespace))
        except ApiError as exc:
            if code_of(exc) == 404:
                return None
            raise

    async def create_lease(self, lease: dict[str, Any]) -> dict[str, Any]:
        return _dict(await self.client.create(Lease.from_dict(lease)))

    async def replace_lease(self, lease: dict[str, Any]) -> dict[str, Any]:
        return _dict(await self.client.replace(Lease.from_dict(lease)))

    # --- watches -----------------------------------------------------------------------------

    async def watch(self, kind: str, namespace: str | None, labels: dict[str, Any] | None,
                    deleted_only: bool = False) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Events forever, as client-go's informer: a paged list (each object as ADDED), then a
        watch from the list's resourceVersion. API errors are logged and retried with back-off;
        an expired resourceVersion (410) lists again, and what vanished meanwhile is reported
        as DELETED. ``deleted_only``: only DELETED events, and objects are decoded only then
        (the Secret watch, with every Secret of the cluster going by)."""
        res: Any = SealedSecretResource if kind == SEALED_KIND else Secret
        ns = namespace if namespace else ALL_NS
        seen: dict[tuple[str, str], dict[str, Any]] = {}

        def on_error(exc: Exception, count: int) -> OnErrorResult:
            if code_of(exc) == 410:
                return OnErrorResult(OnErrorAction.RAISE)
            delay = min(30.0, 0.2 * 2 ** min(count, 8)) * (0.5 + random.random() / 2)
            log.warning("%s watch failed (%s); retrying in %.1fs", kind, message_of(exc), delay)
            return OnErrorResult(OnErrorAction.RETRY, delay)

        attempt = 0
        while True:
            try:
                listing = self.client.list(res, namespace=ns, labels=labels, chunk_size=500)
                now: dict[tuple[str, str], dict[str, Any]] = {}
                async for item in listing:
                    obj = _brief(item) if deleted_only else _dict(item)
                    now[_ident(obj)] = obj
                for ident, old in seen.items():
                    if ident not in now:
                        yield "DELETED", old
                seen = now
                for obj in now.values() if not deleted_only else ():
                    yield "ADDED", obj
                attempt = 0
                async for etype, item in self.client.watch(
                        res, namespace=ns, labels=labels, resource_version=listing.resourceVersion,
                        on_error=on_error):
                    if etype == "DELETED":
                        obj = _dict(item)
                        seen.pop(_ident(obj), None)
                    else:
                        obj = _brief(item) if deleted_only else _dict(item)
                        seen[_ident(obj)] = obj
                        if deleted_only:
                            continue
                    yield etype, obj
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if code_of(exc) == 410:
                    log.info("%s watch expired (410 Gone); listing again", kind)
                    continue
                attempt += 1
                delay = min(30.0, 0.2 * 2 ** min(attempt, 8))
                log.warning("%s list/watch failed (%s); retrying in %.1fs", kind,
                            message_of(exc), delay)
                await asyncio.sleep(delay)


def _brief(item: Any) -> dict[str, Any]:
    meta = item.metadata
    return {"metadata": {"namespace": meta.namespace, "name": meta.name}}


def _ident(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
