"""Authenticating a ServiceAccount JWT as kube-apiserver does (pkg/serviceaccount/jwt.go
``AuthenticateToken``, claims.go ``Validate``, k8s.io/apiserver ``ServiceAccountInfo.UserInfo``).

Order and texts follow upstream: a token whose ``iss`` is not one of ours is not ours (None, so
the caller tries its other authenticators); then the signature (keys by ``kid``), the issuer, the
audiences, the times (go-jose's one-minute leeway), and finally whether the ServiceAccount and
the bound Pod/Secret/Node still exist with the UIDs in the token -- the ``lookup`` callback
answers that from the caller's store. A rejection carries upstream's sentence."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.api_jws import PyJWS

from kubecrypt import safeparse
from kubecrypt.errors import InputError
from kubecrypt.satoken.keys import PublicKey, algorithm, key_id
from kubecrypt.userinfo import UserInfo, service_account_user

LEEWAY_SECONDS = 60  # go-jose jwt.DefaultLeeway

POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"


@dataclass(frozen=True)
class LiveObject:
    """What the store says about an object a token names: its UID and, while it is being
    deleted, its deletionTimestamp (seconds since the epoch)."""

    uid: str
    deleted_at: float | None = None


Lookup = Callable[[str, str, str], LiveObject | None]
"""``lookup(kind, namespace, name)`` for kind ServiceAccount, Pod, Secret or Node (namespace
"" for Node); None when it does not exist."""


@dataclass(frozen=True)
class Authenticated:
    user: UserInfo
    audiences: list[str]
    claims: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    reason: str


def _unverified_payload(token: str) -> dict[str, Any] | None:
    """jwt.go ``hasCorrectIssuer``'s parse: three parts, unpadded base64url, a JSON object."""
    if token.strip().startswith("{"):
        return None
    parts = token.split(".")
    if len(parts) != 3 or "=" in parts[1]:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        payload = safeparse.load_json(raw, "the token's payload")  # unauthenticated input
    except (binascii.Error, ValueError, InputError):
        return None
    return payload if isinstance(payload, dict) else None


def _audiences(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("aud")


def _go_quote_list(items: Sequence[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


def verify(
    token: str,
    *,
    keys: Sequence[PublicKey],
    issuers: Sequence[str],
    api_audiences: Sequence[str],
    now: float,
    lookup: Lookup,
    audiences: Sequence[str] | None = None,
) -> Authenticated | Rejected | None:
    """``audiences`` are the ones the request is for (a TokenReview's spec.audiences); None
    means the API server's own (``api_audiences``, the implicit audiences)."""
    unverified = _unverified_payload(token)
    if unverified is None or unverified.get("iss") not in issuers:
        return None
    try:
        header = PyJWS().get_unverified_header(token)
    except jwt.exceptions.DecodeError:
        return None
    kid = header.get("kid") or ""
    candidates = [k for k in keys if not kid or key_id(k) == kid]
    if not candidates:
        return Rejected("invalid signature, no keys found")
    payload: bytes | None = None
    errors: list[str] = []
    for key in candidates:
        try:
            payload = PyJWS().decode_complete(token, key, algorithms=[algorithm(key)])["payload"]
            break
        except jwt.exceptions.InvalidTokenError:
            errors.append("go-jose/go-jose: error in cryptographic primitive")
    if payload is None:
        return Rejected(_aggregate(errors))
    try:
        claim_set = safeparse.load_json(payload, "the token's claims")
        token_auds = _audiences(claim_set.get("aud"))
    except (ValueError, AttributeError, InputError):
        return Rejected("go-jose/go-jose/jwt: expected claims to be valid JSON object")
    if claim_set.get("iss") not in issuers:
        return Rejected(f"token issuer {json.dumps(claim_set.get('iss'))} is invalid")

    implicit = list(api_audiences)
    if not token_auds:
        token_auds = implicit  # legacy tokens carry no aud: only the API server's own
    requested = list(audiences) if audiences else implicit
    granted = [a for a in token_auds if a in requested]
    if not granted and implicit:
        return Rejected(
            f"token audiences {_go_quote_list(token_auds)} is invalid for the target audiences "
            f"{_go_quote_list(requested)}"
        )
    rejected = _check_times(claim_set, now)
    if rejected is not None:
        return rejected
    return _validate_objects(claim_set, granted, now, lookup)


def _check_times(c: Mapping[str, Any], now: float) -> Rejected | None:
    """go-jose ``Claims.ValidateWithLeeway`` with ``Expected{Time: now}``, mapped to
    claims.go's sentences."""
    try:
        nbf, exp, iat = (None if c.get(k) is None else float(c[k]) for k in ("nbf", "exp", "iat"))
    except (TypeError, ValueError):
        return Rejected("service account token claims could not be validated due to unexpected "
                        "validation error")
    if nbf is not None and now + LEEWAY_SECONDS < nbf:
        return Rejected("service account token is not valid yet")
    if exp is not None and now - LEEWAY_SECONDS > exp:
        return Rejected("service account token has expired")
    if iat is not None and now + LEEWAY_SECONDS < iat:
        return Rejected("service account token is issued in the future")
    return None


def _gone(obj: LiveObject, now: float) -> bool:
    # "consider things deleted prior to now()-leeway to be invalid"
    return obj.deleted_at is not None and obj.deleted_at < now - LEEWAY_SECONDS


def _validate_objects(
    c: Mapping[str, Any], audiences: list[str], now: float, lookup: Lookup
) -> Authenticated | Rejected:
    k8s = c.get("kubernetes.io") or {}
    namespace = str(k8s.get("namespace") or "")
    saref = k8s.get("serviceaccount") or {}
    sa_name, sa_uid = str(saref.get("name") or ""), str(saref.get("uid") or "")
    sa = lookup("ServiceAccount", namespace, sa_name)
    if sa is None:
        return Rejected(f'serviceaccounts "{sa_name}" not found')
    if sa.uid != sa_uid:
        return Rejected(f"service account UID ({sa.uid}) does not match claim ({sa_uid})")
    if _gone(sa, now):
        return Rejected(f"service account {namespace}/{sa_name} has been deleted")

    secref = k8s.get("secret")
    if secref is not None and (bad := _bound_problem("Secret", namespace, secref, now, lookup)):
        return bad
    extra: dict[str, list[str]] = {}
    podref = k8s.get("pod")
    if podref is not None:
        if bad := _bound_problem("Pod", namespace, podref, now, lookup):
            return bad
        if podref.get("name") and podref.get("uid"):
            extra[POD_NAME_KEY] = [str(podref["name"])]
            extra[POD_UID_KEY] = [str(podref["uid"])]
    noderef = k8s.get("node")
    if noderef is not None and podref is None and (
            bad := _bound_problem("Node", "", noderef, now, lookup)):
        return bad
    if c.get("jti"):
        extra[CREDENTIAL_ID_KEY] = [f"JTI={c['jti']}"]
    if noderef is not None and noderef.get("name"):
        extra[NODE_NAME_KEY] = [str(noderef["name"])]
        if noderef.get("uid"):
            extra[NODE_UID_KEY] = [str(noderef["uid"])]
    base = service_account_user(namespace, sa_name, sa_uid)
    user = UserInfo(base.name, base.uid, base.groups, extra)
    return Authenticated(user, audiences, dict(c))


def _bound_problem(kind: str, namespace: str, ref: Mapping[str, Any], now: float,
                   lookup: Lookup) -> Rejected | None:
    """Upstream's one check for each object a token is bound to (Secret, Pod, Node): it must
    exist, have the claimed UID and not be deleted (kubernetes/pkg/serviceaccount/claims.go)."""
    obj = lookup(kind, namespace, str(ref.get("name") or ""))
    if obj is None:
        return Rejected("service account token has been invalidated")
    if obj.uid != ref.get("uid", ""):
        what = kind.lower()
        return Rejected(f"{what} UID ({obj.uid}) does not match service account {what} ref "
                        f"claim ({ref.get('uid', '')})")
    if _gone(obj, now):
        return Rejected("service account token has been invalidated")
    return None


def _aggregate(errors: list[str]) -> str:
    seen: list[str] = []
    for e in errors:
        if e not in seen:
            seen.append(e)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
