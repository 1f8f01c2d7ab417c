"""The SealedSecret and Secret objects as plain JSON-shaped dicts: names, constants and the
input-Secret decoding kubeseal does (``v1.Secret`` without defaulting)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubecrypt.sealed.crypto import b64decode_std
from kubecrypt.sealed.errors import SealedInputError

SEALED_API_VERSION = "bitnami.com/v1alpha1"
SEALED_KIND = "SealedSecret"
LAST_APPLIED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)
SKIP_OWNER_REFERENCES_ANNOTATION = "sealedsecrets.bitnami.com/skip-set-owner-references"
# Read-only fields the API server sets; kubeseal clears them before sealing.
SERVER_FIELDS = (
    "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def describe(doc: Mapping[str, Any], index: int, source: str) -> str:
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    where = f"document {index} of {source}"
    return f"{where} ({doc.get('kind') or 'no kind'} {name})" if name else where


def decode_secret(doc: Mapping[str, Any], index: int = 1, source: str = "input") -> dict[str, Any]:
    """Checks a document is a ``v1`` Secret and returns a copy with ``data`` decoded to bytes."""
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if kind != "Secret" or api_version not in (None, "v1"):
        what = f"a {kind}" if kind else "an object without 'kind'"
        raise SealedInputError(
            f"{describe(doc, index, source)} is {what}, not a v1 Secret; only Secrets can be sealed"
        )
    secret = copy.deepcopy(dict(doc))
    metadata = secret.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise SealedInputError(f"metadata of {describe(doc, index, source)} is not a mapping")
    secret["metadata"] = metadata
    decoded: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        if value is None:
            decoded[str(key)] = b""
            continue
        try:
            decoded[str(key)] = b64decode_std(str(value))
        except ValueError as exc:
            raise SealedInputError(
                f"data[{key!r}] of {describe(doc, index, source)} is not base64: {exc}"
            ) from None
    secret["data"] = decoded
    string_data = secret.get("stringData") or {}
    if not isinstance(string_data, dict):
        raise SealedInputError(f"stringData of {describe(doc, index, source)} is not a mapping")
    for key, value in string_data.items():
        if not isinstance(value, str):
            raise SealedInputError(
                f"stringData[{key!r}] of {describe(doc, index, source)} is not a string; "
                "quote it in YAML"
            )
    secret["stringData"] = string_data
    return secret


def check_sealed_secret(doc: Mapping[str, Any], source: str = "input") -> dict[str, Any]:
    if doc.get("kind") != SEALED_KIND:
        kind = doc.get("kind") or "an object without 'kind'"
        raise SealedInputError(f"{source} holds {kind}, not a SealedSecret")
    out = copy.deepcopy(dict(doc))
    if not isinstance(out.get("metadata"), dict):
        out["metadata"] = {}
    if not isinstance(out.get("spec"), dict):
        out["spec"] = {}
    return out


def encrypted_data(spec: Mapping[str, Any]) -> dict[str, str]:
    """``spec.encryptedData`` read tolerantly, as upstream's decoder does: non-strings dropped."""
    raw = spec.get("encryptedData")
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}


__all__ = [
    "LAST_APPLIED_ANNOTATIONS",
    "SEALED_API_VERSION",
    "SEALED_KIND",
    "SERVER_FIELDS",
    "check_sealed_secret",
    "decode_secret",
    "encrypted_data",
]
