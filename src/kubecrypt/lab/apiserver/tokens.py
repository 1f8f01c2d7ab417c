"""ServiceAccount tokens in the lab, wired from ``kubecrypt.satoken``: TokenRequest
(``serviceaccounts/<name>/token``), bearer-token authentication, TokenReview, and the OIDC
discovery documents (kube-apiserver's pkg/registry/core/serviceaccount/storage/token.go and
pkg/serviceaccount). The objects a token names are looked up in etcd before ``verify`` runs, so
a deleted-and-recreated ServiceAccount (a new UID) or a deleted Pod invalidates its tokens."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import jwt

from kubecrypt.lab.apiserver import errors
from kubecrypt.lab.apiserver.kinds.pod import PODS
from kubecrypt.lab.apiserver.kinds.secret import SECRETS
from kubecrypt.lab.apiserver.kinds.serviceaccount import SERVICE_ACCOUNTS
from kubecrypt.lab.apiserver.objects import Objects
from kubecrypt.lab.apiserver.resources import Resource
from kubecrypt.satoken import (
    JWKS_PATH,
    Authenticated,
    LiveObject,
    ObjectRef,
    Rejected,
    TokenIssuer,
    jwks_document,
    openid_configuration,
    review,
    verify,
)
from kubecrypt.satoken.keys import PrivateKey, public_key_of

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2**32
_BOUND: dict[str, Resource] = {"Pod": PODS, "Secret": SECRETS}


def _timestamp(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deleted_at(obj: dict[str, Any]) -> float | None:
    ts = (obj.get("metadata") or {}).get("deletionTimestamp")
    if not ts:
        return None
    return dt.datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()


class Tokens:
    def __init__(self, objects: Objects, key: PrivateKey, issuer: str = DEFAULT_ISSUER,
                 api_audiences: Sequence[str] = (), external_address: str = "") -> None:
        self.objects = objects
        self.issuer = TokenIssuer(key, issuer)
        self.public_keys = [public_key_of(key)]
        self.api_audiences = list(api_audiences) or [issuer]
        self.external_address = external_address

    # ------------------------------------------------------------------ discovery

    def openid_configuration(self) -> bytes:
        return openid_configuration(self.issuer.issuer,
                                    f"https://{self.external_address}{JWKS_PATH}",
                                    self.public_keys)

    def jwks(self) -> bytes:
        return jwks_document(self.public_keys)

    # ------------------------------------------------------------------ TokenRequest

    async def request(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("kind") not in (None, "", "TokenRequest"):
            raise errors.bad_request("the body must be an authentication.k8s.io/v1 TokenRequest")
        sa = (await self.objects.get(SERVICE_ACCOUNTS, namespace, name)).obj
        spec = dict(body.get("spec") or {})
        audiences = [str(a) for a in spec.get("audiences") or []] or self.api_audiences
        seconds = spec.get("expirationSeconds")
        seconds = DEFAULT_EXPIRATION if seconds in (None, 0) else seconds
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise errors.bad_request("spec.expirationSeconds must be an integer")
        if seconds < MIN_EXPIRATION or seconds > MAX_EXPIRATION:
            detail = ("may not specify a duration less than 10 minutes" if seconds < MIN_EXPIRATION
                      else "may not specify a duration larger than 2^32 seconds")
            raise errors.invalid("TokenRequest", name, [errors.Cause(
                "FieldValueInvalid", "spec.expirationSeconds",
                f"Invalid value: {seconds}: {detail}")], "authentication.k8s.io")
        pod = secret = None
        ref = spec.get("boundObjectRef")
        if ref:
            pod, secret = await self._bound(namespace, sa, ref)
        now = int(time.time())
        token = self.issuer.issue(
            namespace=namespace, service_account=ObjectRef(name, sa["metadata"]["uid"]),
            audiences=audiences, expiration_seconds=seconds, now=now, pod=pod, secret=secret)
        spec.update({"audiences": audiences, "expirationSeconds": seconds})
        if ref:
            spec["boundObjectRef"] = {**ref, "uid": (pod or secret).uid}  # type: ignore[union-attr]
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace,
                             "creationTimestamp": _timestamp(now)},
                "spec": spec,
                "status": {"token": token, "expirationTimestamp": _timestamp(now + seconds)}}

    async def _bound(self, namespace: str, sa: dict[str, Any], ref: Any
                     ) -> tuple[ObjectRef | None, ObjectRef | None]:
        if not isinstance(ref, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        kind, name = ref.get("kind"), str(ref.get("name") or "")
        res = _BOUND.get(str(kind))
        if res is None:
            raise errors.bad_request(f'cannot bind token to object of type {kind}: supported '
                                     'kinds are "Pod" and "Secret"')
        try:
            obj = (await self.objects.get(res, namespace, name)).obj
        except errors.ApiError as exc:
            raise errors.bad_request(f"cannot bind token: {exc.message}") from exc
        uid = obj["metadata"]["uid"]
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.ApiError(409, "Conflict", f'the UID in the bound object reference '
                                  f'({ref["uid"]}) does not match the UID in record. The object '
                                  f"might have been deleted and then recreated")
        sa_name = sa["metadata"]["name"]
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName") != sa_name:
            raise errors.bad_request(f'cannot bind token for serviceaccount "{sa_name}" to pod '
                                     "running with different serviceaccount name.")
        if kind == "Pod":
            return ObjectRef(name, uid), None
        return None, ObjectRef(name, uid)

    # ------------------------------------------------------------------ authentication

    async def _lookups(self, token: str) -> dict[tuple[str, str, str], LiveObject]:
        """The objects a token names, read from etcd (verify's lookup is synchronous)."""
        try:
            payload = jwt.decode(token, options={"verify_signature": False})
        except jwt.exceptions.InvalidTokenError:
            return {}
        k8s = payload.get("kubernetes.io")
        found: dict[tuple[str, str, str], LiveObject] = {}
        if not isinstance(k8s, dict):
            return found
        namespace = str(k8s.get("namespace") or "")
        wanted = [("ServiceAccount", SERVICE_ACCOUNTS, k8s.get("serviceaccount")),
                  ("Pod", PODS, k8s.get("pod")), ("Secret", SECRETS, k8s.get("secret"))]
        for kind, res, ref in wanted:
            if not isinstance(ref, dict) or not ref.get("name") or not namespace:
                continue
            try:
                obj = (await self.objects.get(res, namespace, str(ref["name"]))).obj
            except errors.ApiError:
                continue
            found[(kind, namespace, str(ref["name"]))] = LiveObject(obj["metadata"]["uid"],
                                                                    _deleted_at(obj))
        return found

    async def authenticate(self, token: str, audiences: list[str] | None = None
                           ) -> Authenticated | Rejected | None:
        live = await self._lookups(token)
        return verify(token, keys=self.public_keys, issuers=[self.issuer.issuer],
                      api_audiences=self.api_audiences, now=time.time(),
                      lookup=lambda kind, ns, name: live.get((kind, ns, name)),
                      audiences=audiences)

    async def review(self, body: Any) -> dict[str, Any]:
        token = str(((body or {}).get("spec") or {}).get("token") or "") \
            if isinstance(body, dict) else ""
        live = await self._lookups(token) if token else {}

        def authenticate(tok: str, auds: list[str] | None) -> Authenticated | Rejected | None:
            return verify(tok, keys=self.public_keys, issuers=[self.issuer.issuer],
                          api_audiences=self.api_audiences, now=time.time(),
                          lookup=lambda kind, ns, name: live.get((kind, ns, name)),
                          audiences=auds)

        return review(body, authenticate, self.api_audiences)
