"""Issuing ServiceAccount tokens as kube-apiserver's TokenRequest does (pkg/serviceaccount
claims.go ``Claims`` and jwt.go ``GenerateToken``).

The payload is the merged claim set go-jose marshals as a Go map, so its keys come out sorted:
``aud`` (always a list), ``exp``, ``iat``, ``iss``, ``jti``, ``kubernetes.io`` {namespace, node?,
pod? | secret?, serviceaccount {name, uid}, warnafter?}, ``nbf``, ``sub``. The header is
``{"alg":...,"kid":...}`` with no ``typ``. Signing is PyJWT's JWS over our payload bytes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jwt.api_jws import PyJWS

from kubecrypt.errors import InputError
from kubecrypt.satoken.gojson import go_json
from kubecrypt.satoken.keys import PrivateKey, algorithm, key_id
from kubecrypt.userinfo import service_account_username

BOUND_KINDS = ("Pod", "Secret", "Node")


@dataclass(frozen=True)
class ObjectRef:
    """A name and UID, as the ``kubernetes.io`` claim carries them."""

    name: str
    uid: str

    def claim(self) -> dict[str, str]:
        # ref{Name, UID} with omitempty
        out = {}
        if self.name:
            out["name"] = self.name
        if self.uid:
            out["uid"] = self.uid
        return out


def claims(
    *,
    namespace: str,
    service_account: ObjectRef,
    audiences: Sequence[str],
    expiration_seconds: int,
    now: int,
    issuer: str,
    pod: ObjectRef | None = None,
    secret: ObjectRef | None = None,
    node: ObjectRef | None = None,
    warnafter_seconds: int = 0,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claim set. ``node`` with ``pod`` is the pod's node (ServiceAccountTokenPodNodeInfo);
    ``node`` alone a node-bound token. ``jti`` defaults to a fresh UUID
    (ServiceAccountTokenJTI, on by default since 1.30); pass "" to leave it out."""
    if secret is not None and (pod is not None or node is not None):
        raise InputError("internal error, token can only be bound to one object type")
    k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": service_account.claim()}
    if pod is not None:
        k8s["pod"] = pod.claim()
    if secret is not None:
        k8s["secret"] = secret.claim()
    if node is not None:
        k8s["node"] = node.claim()
    if warnafter_seconds:
        k8s["warnafter"] = now + warnafter_seconds
    out: dict[str, Any] = {
        "aud": list(audiences),
        "exp": now + expiration_seconds,
        "iat": now,
        "iss": issuer,
        "kubernetes.io": k8s,
        "nbf": now,
        "sub": service_account_username(namespace, service_account.name),
    }
    jti = str(uuid.uuid4()) if jti is None else jti
    if jti:
        out["jti"] = jti
    return out


class TokenIssuer:
    """Signs claim sets with one key, as ``--service-account-signing-key-file`` does."""

    def __init__(self, key: PrivateKey, issuer: str) -> None:
        self.key = key
        self.issuer = issuer
        self.algorithm = algorithm(key)
        self.key_id = key_id(key)

    def sign(self, claim_set: dict[str, Any]) -> str:
        payload = go_json(claim_set, sort_keys=True)
        return PyJWS().encode(
            payload, self.key, self.algorithm, headers={"kid": self.key_id, "typ": None}
        )

    def issue(
        self,
        *,
        namespace: str,
        service_account: ObjectRef,
        audiences: Sequence[str],
        expiration_seconds: int,
        now: int,
        pod: ObjectRef | None = None,
        secret: ObjectRef | None = None,
        node: ObjectRef | None = None,
        warnafter_seconds: int = 0,
        jti: str | None = None,
    ) -> str:
        return self.sign(claims(
            namespace=namespace, service_account=service_account, audiences=audiences,
            expiration_seconds=expiration_seconds, now=now, issuer=self.issuer, pod=pod,
            secret=secret, node=node, warnafter_seconds=warnafter_seconds, jti=jti,
        ))
