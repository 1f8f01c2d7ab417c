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


# The shapes of the fields we read, checked once where a document is read so that a typo
# (``data: oops``, ``labels: x``, ``spec.template: 7``) is one sentence naming the field, as Go's
# typed decoding in kubeseal refuses it, rather than a crash deep inside sealing.
# A dict is an object (only the listed fields are checked); STR_MAP a map[string]string whose
# null values read as ""; the rest are scalar types.
STR_MAP = "map[string]string"
_META: dict[str, Any] = {
    "name": str, "namespace": str, "generateName": str, "labels": STR_MAP,
    "annotations": STR_MAP,
}
SECRET_SHAPE: dict[str, Any] = {
    "apiVersion": str, "kind": str, "metadata": _META, "data": STR_MAP, "stringData": STR_MAP,
    "type": str, "immutable": bool,
}
SEALED_SHAPE: dict[str, Any] = {
    "apiVersion": str, "kind": str, "metadata": _META,
    "spec": {
        "encryptedData": STR_MAP, "data": str,
        "template": {"metadata": _META, "type": str, "immutable": bool, "data": STR_MAP},
    },
}
_GO_NAMES = {str: "string", bool: "boolean", int: "number", float: "number", list: "list",
             dict: "mapping"}


def _go_name(value: Any) -> str:
    return _GO_NAMES.get(type(value), type(value).__name__)


def check_shape(doc: Any, shape: dict[str, Any], where: str, path: str = "") -> None:
    """Raises SealedInputError naming the first field whose type does not match ``shape``."""
    for field, want in shape.items():
        if not isinstance(doc, Mapping) or doc.get(field) is None:
            continue
        value, name = doc[field], f"{path}{field}"
        if isinstance(want, dict):
            if not isinstance(value, Mapping):
                raise SealedInputError(
                    f"{name} of {where} must be a mapping, not a {_go_name(value)} ({value!r:.40})"
                )
            check_shape(value, want, where, f"{name}.")
        elif want == STR_MAP:
            if not isinstance(value, Mapping):
                raise SealedInputError(
                    f"{name} of {where} must be a mapping of names to strings, not a "
                    f"{_go_name(value)} ({value!r:.40})"
                )
            for key, item in value.items():
                if not isinstance(key, str) or not (item is None or isinstance(item, str)):
                    raise SealedInputError(
                        f"{name}[{key!r}] of {where} must be a string, not a {_go_name(item)}; "
                        "quote it in YAML"
                    )
        elif not isinstance(value, want) or (want is str and isinstance(value, bool)):
            raise SealedInputError(
                f"{name} of {where} must be a {_GO_NAMES[want]}, not a {_go_name(value)} "
                f"({value!r:.40})"
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
    check_shape(doc, SECRET_SHAPE, describe(doc, index, source))
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
    check_shape(doc, SEALED_SHAPE, source)
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
