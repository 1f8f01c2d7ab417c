"""The REST verbs on one resource: create, get, list, update, patch, delete
(upstream: apiserver/pkg/registry/generic/registry/store.go)."""

from __future__ import annotations

import copy
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import EncodingError, InputError
from kubecrypt.lab.apiserver import errors, patch, protobody, selectors, strategy
from kubecrypt.lab.apiserver.controllers import Controllers
from kubecrypt.lab.apiserver.kinds.namespace import NAMESPACES
from kubecrypt.lab.apiserver.objects import Objects, Stored
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.storage import codec

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _media(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def decode_body(res: Resource, body: bytes, content_type: str) -> Any:
    media = _media(content_type)
    if media == PROTOBUF:
        kind = codec.decode_envelope_kind(body)
        if kind is not None and not protobody.decodable(*kind):
            raise errors.unsupported_media_type(media, ["application/json", "application/yaml"])
        try:
            return protobody.decode(body)
        except protobody.UnknownField as exc:
            # Dropping the field would store another object than the one sent; JSON carries it.
            raise errors.ApiError(415, "UnsupportedMediaType", (
                f"the {kind[1] if kind else res.kind} protobuf body sets {exc}, which the lab "
                "does not decode; send the object as JSON instead (kubectl apply -f FILE.yaml, "
                "or pipe kubectl create ... --dry-run=client -o yaml into kubectl apply -f -)")
            ) from exc
        except EncodingError as exc:
            raise errors.bad_request(f"the body of the request could not be decoded as a "
                                     f"{res.kind} protobuf: {exc}") from exc
    if media in ("application/yaml", patch.APPLY):
        try:
            return safeparse.load_yaml(body, "the request body")
        except InputError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: {exc}") from exc
    if media not in ("", "application/json", "*/*", *patch.TYPES):
        raise errors.unsupported_media_type(media, ["application/json", "application/yaml",
                                                    PROTOBUF])
    try:
        return safeparse.load_json(body, "the request body")
    except InputError as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc


class Rest:
    def __init__(self, objects: Objects, controllers: Controllers) -> None:
        self.objects = objects
        self.controllers = controllers

    async def _check_namespace(self, res: Resource, namespace: str | None, name: str) -> None:
        if not res.namespaced or namespace is None:
            return
        kv = await self.objects.store.get(NAMESPACES.key(None, namespace))
        if kv is None:
            raise errors.not_found("namespaces", namespace)
        ns = self.objects.open_kv(NAMESPACES, kv).obj
        if (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.forbidden(
                f'{res.qualified} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated", res.qualified, name)

    async def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        return (await self.objects.get(res, namespace, name)).obj

    async def list(self, res: Resource, namespace: str | None, query: dict[str, str]
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        match = selectors.matcher(query, res.strategy.field_selectors)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise errors.bad_request(f"invalid limit {query.get('limit')!r}") from None
        items, rv, cont = await self.objects.list(res, namespace, match, limit,
                                                  query.get("continue", ""))
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
        return items, meta

    async def create(self, res: Resource, namespace: str | None, body: Any,
                     query: dict[str, str]) -> dict[str, Any]:
        obj = strategy.prepare_create(res, body, namespace)
        name = obj["metadata"]["name"]
        await self._check_namespace(res, namespace, name)
        if query.get("dryRun"):
            obj["metadata"]["resourceVersion"] = ""
            return obj
        out = await self.objects.create(res, namespace, obj)
        self.controllers.object_written(res, out, True)
        return out

    async def update(self, res: Resource, namespace: str | None, name: str, body: Any,
                     query: dict[str, str], subresource: str = "") -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body must be a JSON object")
        strategy.check_name(res, body, name)
        wanted = (body.get("metadata") or {}).get("resourceVersion") or ""
        if not wanted and res.custom:
            raise errors.invalid(res.kind, name, [errors.Cause(
                "FieldValueInvalid", "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update")], res.group)

        async def mutate(current: Stored) -> dict[str, Any] | None:
            if wanted and wanted != current.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(res.qualified, name)
            return self._finish(res, strategy.prepare_update(res, body, current.obj, subresource))

        return await self._update(res, namespace, name, mutate, query)

    def _finish(self, res: Resource, new: dict[str, Any]) -> dict[str, Any] | None:
        """An object being deleted goes away once its last finalizer is removed."""
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not res.strategy.holds_deletion(new):
            return None
        return new

    async def _update(self, res: Resource, namespace: str | None, name: str, mutate: Any,
                      query: dict[str, str]) -> dict[str, Any]:
        if query.get("dryRun"):
            current = await self.objects.get(res, namespace, name)
            return await mutate(current) or current.obj
        out = await self.objects.update(res, namespace, name, mutate)
        self.controllers.object_written(res, out, False)
        if (out.get("metadata") or {}).get("deletionTimestamp"):
            self.controllers.object_changed(res, out)  # maybe the last finalizer went
        return out

    async def patch(self, res: Resource, namespace: str | None, name: str, body: Any,
                    content_type: str, query: dict[str, str], subresource: str = ""
                    ) -> tuple[dict[str, Any], bool]:
        """Applies a patch; returns (object, created) - server-side apply may create."""
        media = _media(content_type)
        if media not in patch.TYPES:
            raise errors.unsupported_media_type(media, list(patch.TYPES))
        if media == patch.STRATEGIC and res.custom:
            raise errors.unsupported_media_type(media, [patch.JSON_PATCH, patch.MERGE,
                                                        patch.APPLY])
        if media == patch.APPLY:
            if not isinstance(body, dict):
                raise errors.bad_request("apply patches must be objects")
            strategy.check_name(res, body, name)
            try:
                await self.objects.get(res, namespace, name)
            except errors.ApiError as exc:
                if exc.code != 404 or subresource:
                    raise
                body = copy.deepcopy(body)
                body.setdefault("metadata", {})["name"] = name
                return await self.create(res, namespace, body, query), True

        async def mutate(current: Stored) -> dict[str, Any] | None:
            patched = patch.apply(media, current.obj, body)
            strategy.check_shape(res, patched)
            wanted = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(res.qualified, name)
            strategy.check_name(res, patched, name)
            return self._finish(res, strategy.prepare_update(res, patched, current.obj,
                                                             subresource))

        return await self._update(res, namespace, name, mutate, query), False

    async def delete(self, res: Resource, namespace: str | None, name: str, body: Any,
                     query: dict[str, str]) -> dict[str, Any]:
        options = body if isinstance(body, dict) else {}
        policy = options.get("propagationPolicy") or query.get("propagationPolicy") or "Background"
        pre = options.get("preconditions") or {}
        dry_run = bool(options.get("dryRun") or query.get("dryRun"))
        for _ in range(16):
            current = await self.objects.get(res, namespace, name)
            meta = current.obj["metadata"]
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.ApiError(409, "Conflict", f"Precondition failed: UID in "
                                      f"precondition: {pre['uid']}, UID in object meta: "
                                      f"{meta.get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise errors.ApiError(409, "Conflict", f"Precondition failed: ResourceVersion in "
                                      f"precondition: {pre['resourceVersion']}, ResourceVersion "
                                      f"in object meta: {meta['resourceVersion']}")
            graceful = res.strategy.holds_deletion(current.obj)
            if dry_run:
                return current.obj
            if graceful:
                if meta.get("deletionTimestamp"):
                    return current.obj

                async def mark(cur: Stored) -> dict[str, Any] | None:
                    new = copy.deepcopy(cur.obj)
                    new["metadata"]["deletionTimestamp"] = strategy.now()
                    new["metadata"]["deletionGracePeriodSeconds"] = 0
                    res.strategy.on_delete(new)
                    return new

                out = await self.objects.update(res, namespace, name, mark)
                self.controllers.object_changed(res, out, policy)
                return out
            rev = await self.objects.delete(res, current)
            if rev is None:
                continue
            self.controllers.object_deleted(res, current.obj, policy)
            details: dict[str, Any] = {"name": name}
            if res.group:
                details["group"] = res.group
            details["kind"] = res.plural
            details["uid"] = meta.get("uid", "")
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": details}
        raise errors.conflict(res.qualified, name)

    async def delete_collection(self, res: Resource, namespace: str | None,
                                query: dict[str, str]) -> dict[str, Any]:
        items, meta = await self.list(res, namespace, query)
        for obj in items:
            try:
                await self.delete(res, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                  None, query)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return {"kind": res.list_kind, "apiVersion": res.group_version, "metadata": meta,
                "items": items}
