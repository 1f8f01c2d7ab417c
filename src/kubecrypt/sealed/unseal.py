"""Opening a SealedSecret into the Secret the controller would create
(``bitnami-labs/sealed-secrets:pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go``).

Shared by ``kubecrypt seal --recovery-unseal``, offline re-encryption and the controller."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt import safeparse
from kubecrypt.sealed.crypto import (
    HybridDecryptError,
    b64decode_std,
    b64encode_std,
    hybrid_decrypt,
    hybrid_decrypt_index,
)
from kubecrypt.sealed.errors import TemplateFailed, UnsealError
from kubecrypt.sealed.gotemplate import LIMITS, Limits, TemplateError, TemplateLimitError, render
from kubecrypt.sealed.keys import KeyRegistry
from kubecrypt.sealed.objects import (
    SEALED_API_VERSION,
    SEALED_KIND,
    SKIP_OWNER_REFERENCES_ANNOTATION,
    encrypted_data,
)
from kubecrypt.sealed.provenance import drop_from_secret
from kubecrypt.sealed.scope import label_for_metadata

ERR_BOTH_DATA = (
    "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
)
ERR_DEPRECATED_DATA = "using deprecated 'data' field, use 'encryptedData' or flip the feature flag"

Keys = KeyRegistry | Iterable[rsa.RSAPrivateKey]


def _private_keys(keys: Keys) -> list[rsa.RSAPrivateKey]:
    return keys.private_keys() if isinstance(keys, KeyRegistry) else list(keys)


def merge_errors(errors: list[tuple[str, str]]) -> str:
    """upstream multierror.Uniq: identical messages merged, item names appended (sorted here;
    upstream's order is Go map order, i.e. random); distinct messages on separate lines."""
    by_message: dict[str, list[str]] = {}
    for item, message in sorted(errors):
        by_message.setdefault(message, []).append(item)
    return "\n".join(f"{message} ({', '.join(items)})" for message, items in by_message.items())


def decrypt_items(sealed_secret: Mapping[str, Any], keys: Keys) -> dict[str, bytes]:
    """Every ``encryptedData`` item, decrypted with the label from the object's own metadata."""
    _, label = label_for_metadata(sealed_secret.get("metadata"))
    private_keys = _private_keys(keys)
    out: dict[str, bytes] = {}
    errors: list[tuple[str, str]] = []
    for item, value in sorted(encrypted_data(sealed_secret.get("spec") or {}).items()):
        try:
            out[item], index = hybrid_decrypt_index(private_keys, b64decode_std(value), label)
        except (ValueError, HybridDecryptError) as exc:
            errors.append((item, str(exc)))
            continue
        # The items of one SealedSecret are almost always sealed with one certificate: try the
        # key that just worked first, so an old key costs one miss per object, not per item.
        if index:
            private_keys.insert(0, private_keys.pop(index))
    if errors:
        raise UnsealError(merge_errors(errors))
    return out


def render_template_data(
    templates: Mapping[str, Any], data: Mapping[str, bytes]
) -> dict[str, bytes]:
    """``spec.template.data``: Go templates over the decrypted values (as strings)."""
    values = {k: v.decode("utf-8", "surrogateescape") for k, v in data.items()}
    out: dict[str, bytes] = {}
    errors: list[tuple[str, str]] = []
    # One budget for the whole object: many keys must not multiply the bounds.
    deadline = time.monotonic() + LIMITS.max_seconds
    room = LIMITS.max_output
    for key, source in sorted(templates.items()):
        limits = Limits(max_output=max(room, 0), max_steps=LIMITS.max_steps,
                        max_seconds=max(deadline - time.monotonic(), 0.0))
        try:
            text = render(str(key), str(source or ""), values, limits=limits)
            out[str(key)] = text.encode("utf-8", "surrogateescape")
            room -= len(text)
        except TemplateLimitError as exc:
            raise TemplateFailed(merge_errors([(str(key), str(exc))])) from None
        except TemplateError as exc:
            errors.append((str(key), str(exc)))
    if errors:
        raise TemplateFailed(merge_errors(errors))
    return out


def unseal(
    sealed_secret: Mapping[str, Any], keys: Keys, *, accept_deprecated_v1_data: bool = True
) -> dict[str, Any]:
    """Returns the ``v1`` Secret (JSON form: ``data`` base64) or raises :class:`UnsealError`.

    Nothing partial: any failing item aborts the whole unseal."""
    metadata = sealed_secret.get("metadata") or {}
    spec = sealed_secret.get("spec") or {}
    legacy = spec.get("data")
    secret: dict[str, Any]
    if legacy:
        if encrypted_data(spec):
            raise UnsealError(ERR_BOTH_DATA)
        if not accept_deprecated_v1_data:
            raise UnsealError(ERR_DEPRECATED_DATA)
        secret = _unseal_legacy(sealed_secret, keys)
    else:
        template = spec.get("template") or {}
        data = decrypt_items(sealed_secret, keys)
        if isinstance(template.get("data"), dict):
            data.update(render_template_data(template["data"], data))
        secret = {"kind": "Secret", "apiVersion": "v1",
                  "metadata": copy.deepcopy(template.get("metadata") or {})}
        if "immutable" in template:
            secret["immutable"] = template["immutable"]
        secret["data"] = {k: b64encode_std(v) for k, v in sorted(data.items())}
        if template.get("type"):
            secret["type"] = template["type"]
    drop_from_secret(secret)  # provenance is about the SealedSecret, never the Secret
    out_meta = secret["metadata"]
    out_meta["name"] = metadata.get("name", "")
    out_meta["namespace"] = metadata.get("namespace", "")
    annotations = out_meta.get("annotations") or {}
    if annotations.get(SKIP_OWNER_REFERENCES_ANNOTATION) != "true":
        out_meta["ownerReferences"] = [{
            "apiVersion": SEALED_API_VERSION, "kind": SEALED_KIND,
            "name": metadata.get("name", ""), "uid": metadata.get("uid", ""), "controller": True,
        }]
    return secret


def _unseal_legacy(sealed_secret: Mapping[str, Any], keys: Keys) -> dict[str, Any]:
    """Pre-0.7 ``spec.data``: one item whose plaintext is the whole JSON-encoded Secret."""
    _, label = label_for_metadata(sealed_secret.get("metadata"))
    try:
        blob = b64decode_std(str(sealed_secret["spec"]["data"]))
        plaintext = hybrid_decrypt(_private_keys(keys), blob, label)
    except (ValueError, HybridDecryptError) as exc:
        raise UnsealError(str(exc)) from None
    try:
        secret = safeparse.load_json(plaintext, "the deprecated 'data' field", error=UnsealError)
    except UnsealError:
        raise UnsealError("the deprecated 'data' field does not hold a JSON Secret") from None
    if not isinstance(secret, dict):
        raise UnsealError("the deprecated 'data' field does not hold a JSON Secret")
    secret.setdefault("kind", "Secret")
    secret.setdefault("apiVersion", "v1")
    if not isinstance(secret.get("metadata"), dict):
        secret["metadata"] = {}
    return secret


__all__ = ["ERR_BOTH_DATA", "ERR_DEPRECATED_DATA", "decrypt_items", "merge_errors", "unseal"]
