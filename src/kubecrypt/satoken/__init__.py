"""ServiceAccount tokens as kube-apiserver issues and checks them: signing keys and ``kid``,
the claims, OIDC discovery and JWKS documents, verification, and TokenReview answers.
A formats-layer package: no I/O; the caller supplies time, keys and a lookup of live objects."""

from kubecrypt.satoken.discovery import (
    JWKS_PATH,
    OPENID_CONFIG_PATH,
    jwks_document,
    openid_configuration,
)
from kubecrypt.satoken.issue import ObjectRef, TokenIssuer, claims
from kubecrypt.satoken.keys import jwk, key_id, load_private_key, load_public_keys
from kubecrypt.satoken.tokenreview import TokenReviewError, review
from kubecrypt.satoken.verify import Authenticated, LiveObject, Rejected, verify

__all__ = [
    "JWKS_PATH",
    "OPENID_CONFIG_PATH",
    "Authenticated",
    "LiveObject",
    "ObjectRef",
    "Rejected",
    "TokenIssuer",
    "TokenReviewError",
    "claims",
    "jwk",
    "jwks_document",
    "key_id",
    "load_private_key",
    "load_public_keys",
    "openid_configuration",
    "review",
    "verify",
]
