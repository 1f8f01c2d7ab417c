"""The service-account issuer discovery documents kube-apiserver serves
(pkg/serviceaccount/openidmetadata.go): ``/.well-known/openid-configuration`` and
``/openid/v1/jwks``, byte for byte as Go marshals them."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from kubecrypt.errors import ConfigError
from kubecrypt.satoken.gojson import go_json
from kubecrypt.satoken.keys import PrivateKey, PublicKey, algorithm, jwk

OPENID_CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
CONFIG_CONTENT_TYPE = "application/json"
JWKS_CONTENT_TYPE = "application/jwk-set+json"
# staticPublicKeysGetter.GetCacheAgeMaxSeconds; served as Cache-Control: public, max-age=3600
MAX_AGE_SECONDS = 3600


def default_jwks_uri(external_address: str) -> str:
    """``https://<external address>/openid/v1/jwks`` (NewOpenIDMetadataProvider's default)."""
    return f"https://{external_address}{JWKS_PATH}"


def check_issuer(issuer: str) -> None:
    """The checks NewOpenIDMetadataProvider makes before it serves discovery at all."""
    parts = urlsplit(issuer)
    if parts.scheme != "https":
        raise ConfigError(f"issuer URL must use https scheme, got: {issuer}")
    if parts.query:
        raise ConfigError(f"issuer URL may not include a query, got: {issuer}")
    if parts.fragment:
        raise ConfigError(f"issuer URL may not include a fragment, got: {issuer}")


def jwks_document(keys: Sequence[PrivateKey | PublicKey]) -> bytes:
    if not keys:
        raise ConfigError("no keys provided for validating keyset")
    return go_json({"keys": [jwk(k) for k in keys]})


def openid_configuration(
    issuer: str, jwks_uri: str, keys: Sequence[PrivateKey | PublicKey]
) -> bytes:
    check_issuer(issuer)
    if urlsplit(jwks_uri).scheme != "https":
        raise ConfigError(f"jwksURI requires https scheme, parsed as: {jwks_uri}")
    if not keys:
        raise ConfigError("no keys provided for validating keyset")
    return go_json({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": sorted({algorithm(k) for k in keys}),
    })
