"""TokenReview (authentication.k8s.io/v1) the way kube-apiserver answers it
(pkg/registry/authentication/tokenreview/storage.go): the spec comes back as sent, the status is
always there (``"user":{}`` even when unauthenticated; OpenBao relies on a ``status`` object),
``authenticated`` only when true, ``audiences`` the ones the token was accepted for.

Request bodies without ``apiVersion``/``kind`` are accepted (OpenBao marshals a bare Go struct);
the status a client sends is ignored.

kube-apiserver runs the review through its whole request-authenticator chain; what comes out of
that chain for a ServiceAccount token it rejects is ``[invalid bearer token, <reason>]`` (seen
in real clusters' TokenReview answers and apiserver logs), and for a token no authenticator
recognises ``invalid bearer token``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kubecrypt.errors import InputError
from kubecrypt.satoken.verify import Authenticated, Rejected

API_VERSION = "authentication.k8s.io/v1"
INVALID_BEARER_TOKEN = "invalid bearer token"

Authenticate = Callable[[str, list[str] | None], Authenticated | Rejected | None]


class TokenReviewError(InputError):
    """A TokenReview the API server answers with an error Status instead (``code`` 400/500)."""

    def __init__(self, message: str, code: int, reason: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def review(
    body: Any, authenticate: Authenticate, api_audiences: Sequence[str] = ()
) -> dict[str, Any]:
    """The TokenReview to answer ``body`` with. ``authenticate(token, audiences)`` runs the
    caller's authenticators (``satoken.verify`` among them); ``audiences`` is None when the
    review names none and the API server has none either."""
    if not isinstance(body, dict):
        raise TokenReviewError("not a TokenReview", 400, "BadRequest")
    if body.get("kind") not in (None, "", "TokenReview") or body.get("apiVersion") not in (
        None, "", API_VERSION, "authentication.k8s.io/v1beta1"
    ):
        raise TokenReviewError(
            f"not a TokenReview: {body.get('apiVersion')}, Kind={body.get('kind')}",
            400, "BadRequest",
        )
    spec = body.get("spec") or {}
    token = spec.get("token") or ""
    if not token:
        raise TokenReviewError("token is required for TokenReview in authentication", 400,
                               "BadRequest")
    auds = list(spec.get("audiences") or []) or list(api_audiences)
    result = authenticate(token, auds or None)

    status: dict[str, Any] = {}
    if isinstance(result, Authenticated):
        if auds and not set(auds) & set(result.audiences):
            raise TokenReviewError("Internal error occurred: error validating audiences", 500,
                                   "InternalError")
        status["authenticated"] = True
        status["user"] = _user(result)
        if result.audiences:
            status["audiences"] = list(result.audiences)
    else:
        status["user"] = {}
        status["error"] = (
            f"[{INVALID_BEARER_TOKEN}, {result.reason}]" if isinstance(result, Rejected)
            else INVALID_BEARER_TOKEN
        )
    out_spec: dict[str, Any] = {"token": token}
    if spec.get("audiences"):
        out_spec["audiences"] = list(spec["audiences"])
    return {
        "kind": "TokenReview",
        "apiVersion": API_VERSION,
        "metadata": {"creationTimestamp": None},
        "spec": out_spec,
        "status": status,
    }


def _user(result: Authenticated) -> dict[str, Any]:
    user = result.user.to_api()
    extra = result.user.extra
    if extra:
        user["extra"] = {k: list(extra[k]) for k in sorted(extra)}  # a Go map: sorted keys
    return user
