"""kubeseal's sealing semantics (``bitnami-labs/sealed-secrets:pkg/kubeseal/kubeseal.go`` and
``NewSealedSecret`` in ``pkg/apis/sealedsecrets/v1alpha1``): Secrets in, SealedSecrets out."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.crypto.rand import RandomSource, system_random
from kubecrypt.sealed.crypto import (
    HybridDecryptError,
    b64decode_std,
    b64encode_std,
    hybrid_decrypt,
    hybrid_encrypt,
)
from kubecrypt.sealed.errors import SealedInputError, UnsealError
from kubecrypt.sealed.keys import KeyRegistry
from kubecrypt.sealed.objects import (
    LAST_APPLIED_ANNOTATIONS,
    SEALED_API_VERSION,
    SEALED_KIND,
    SERVER_FIELDS,
    check_sealed_secret,
    decode_secret,
    encrypted_data,
)
from kubecrypt.sealed.provenance import strip
from kubecrypt.sealed.scope import (
    Scope,
    apply_scope,
    label,
    label_for_metadata,
    scope_from_annotations,
)
from kubecrypt.sealed.unseal import decrypt_items, unseal

ERR_EMPTY_DATA = (
    "secret.data is empty in input Secret, assuming this is an error and aborting. "
    "To work with empty data, --allow-empty-data can be used"
)
ERR_NO_SECRETS = "no secrets found. Ensure the input is valid and UTF-8 encoded"


@dataclass
class SealOptions:
    scope: Scope = Scope.STRICT  # STRICT means "not given", exactly as kubeseal's default
    name: str = ""  # --name: overrides every input Secret's name
    namespace: str = ""  # -n given explicitly
    default_namespace: str = "default"  # the kubeconfig context's namespace
    allow_empty_data: bool = False
    force_namespace: bool = False  # --merge-into: the file's namespace wins over the input's


def seal_secret(
    doc: Mapping[str, Any], public_key: rsa.RSAPublicKey, options: SealOptions,
    index: int = 1, source: str = "input", rand: RandomSource = system_random,
) -> dict[str, Any]:
    secret = decode_secret(doc, index, source)
    metadata: dict[str, Any] = secret["metadata"]
    if not secret["data"] and not secret["stringData"] and not options.allow_empty_data:
        raise SealedInputError(ERR_EMPTY_DATA)
    if options.name:
        metadata["name"] = options.name
    if not metadata.get("name"):
        raise SealedInputError("missing metadata.name in input Secret")
    annotations = dict(metadata.get("annotations") or {})
    apply_scope(annotations, options.scope)
    if annotations:
        metadata["annotations"] = annotations
    scope = scope_from_annotations(annotations)
    if scope is not Scope.CLUSTER_WIDE:
        current = str(metadata.get("namespace") or "")
        if options.force_namespace and options.namespace:
            metadata["namespace"] = options.namespace
        elif options.namespace and current and current != options.namespace:
            raise SealedInputError(
                f'namespace mismatch: input secret is in namespace "{current}" but '
                f'"{options.namespace}" was specified'
            )
        elif not current:
            metadata["namespace"] = options.namespace or options.default_namespace
        if not metadata.get("namespace"):
            raise SealedInputError("secret must declare a namespace")
    for name in SERVER_FIELDS:
        metadata.pop(name, None)

    template_meta = copy.deepcopy(metadata)
    template_annotations = template_meta.get("annotations") or {}
    for name in LAST_APPLIED_ANNOTATIONS:
        template_annotations.pop(name, None)
    if not template_annotations:
        template_meta.pop("annotations", None)
    template_meta.pop("ownerReferences", None)

    item_label = label(scope, str(metadata.get("namespace") or ""), str(metadata["name"]))
    items: dict[str, bytes] = dict(secret["data"])
    for key, value in secret["stringData"].items():
        items[str(key)] = value.encode("utf-8")  # stringData wins over data, as upstream
    encrypted = {
        key: b64encode_std(hybrid_encrypt(public_key, value, item_label, rand))
        for key, value in sorted(items.items())
    }

    outer: dict[str, Any] = {"name": metadata["name"]}
    if metadata.get("namespace"):
        outer["namespace"] = metadata["namespace"]
    scope_annotations: dict[str, Any] = {}
    apply_scope(scope_annotations, scope)
    if scope_annotations:
        outer["annotations"] = scope_annotations
    template: dict[str, Any] = {"metadata": template_meta}
    if secret.get("type"):
        template["type"] = secret["type"]
    if secret.get("immutable") is not None:
        template["immutable"] = secret["immutable"]
    return {
        "kind": SEALED_KIND,
        "apiVersion": SEALED_API_VERSION,
        "metadata": outer,
        "spec": {"template": template, "encryptedData": encrypted},
    }


def seal_documents(
    docs: list[dict[str, Any]], public_key: rsa.RSAPublicKey, options: SealOptions,
    source: str = "input", rand: RandomSource = system_random,
) -> list[dict[str, Any]]:
    if not docs:
        raise SealedInputError(ERR_NO_SECRETS)
    return [seal_secret(doc, public_key, options, i, source, rand) for i, doc in enumerate(docs, 1)]


def raw_label(scope: Scope, namespace: str, name: str) -> bytes:
    """The label for ``--raw``, from the flags alone (annotations play no part there)."""
    if scope is not Scope.CLUSTER_WIDE and not namespace:
        raise SealedInputError(
            f"must provide the --namespace flag with --raw and --scope {scope.value}"
        )
    if scope is Scope.STRICT and not name:
        raise SealedInputError("must provide the --name flag with --raw and --scope strict")
    return label(scope, namespace, name)


def seal_raw(
    value: bytes, public_key: rsa.RSAPublicKey, scope: Scope, namespace: str, name: str,
    rand: RandomSource = system_random,
) -> str:
    """``kubeseal --raw``: one value, base64, no newline."""
    return b64encode_std(hybrid_encrypt(public_key, value, raw_label(scope, namespace, name), rand))


def unseal_raw(value: str, keys: KeyRegistry, scope: Scope, namespace: str, name: str) -> bytes:
    """The reverse of :func:`seal_raw` (upstream has no raw recovery: issue #1485)."""
    try:
        return hybrid_decrypt(keys.private_keys(), b64decode_std(value.strip()),
                              raw_label(scope, namespace, name))
    except (ValueError, HybridDecryptError) as exc:
        raise UnsealError(str(exc)) from None


def merge_into(
    existing: Mapping[str, Any], docs: list[dict[str, Any]], public_key: rsa.RSAPublicKey,
    options: SealOptions, source: str = "input", rand: RandomSource = system_random,
) -> dict[str, Any]:
    """Seals ``docs`` with the existing SealedSecret's name and namespace and merges items,
    template labels, annotations and data into it.

    Deviation from upstream: missing maps in the file are created (upstream panics on nil maps),
    and the new items must use the file's own scope, the only one its label will open."""
    merged = check_sealed_secret(existing, "the --merge-into file")
    outer = merged["metadata"]
    file_scope, _ = label_for_metadata(outer)
    opts = copy.copy(options)
    opts.name = str(outer.get("name") or "")
    opts.namespace = str(outer.get("namespace") or "")
    opts.force_namespace = True
    if not docs:
        raise SealedInputError(ERR_NO_SECRETS)
    spec = merged["spec"]
    spec["encryptedData"] = encrypted_data(spec)
    template = _mapping(spec.get("template"))
    spec["template"] = template
    template_meta = _mapping(template.get("metadata"))
    template["metadata"] = template_meta
    for index, doc in enumerate(docs, 1):
        doc_opts = opts
        doc_annotations = ((doc.get("metadata") or {}).get("annotations")) or {}
        wanted = options.scope if options.scope is not Scope.STRICT else scope_from_annotations(
            doc_annotations)
        if wanted is not file_scope:
            raise SealedInputError(
                f"the --merge-into file is {file_scope.value} but document {index} of {source} "
                f"asks for {wanted.value}; items must be sealed with the file's scope"
            )
        doc_opts = copy.copy(opts)
        doc_opts.scope = file_scope
        update = seal_secret(doc, public_key, doc_opts, index, source, rand)
        spec["encryptedData"].update(update["spec"]["encryptedData"])
        new_meta = update["spec"]["template"]["metadata"]
        for field in ("annotations", "labels"):
            if new_meta.get(field):
                target = template_meta.get(field)
                if not isinstance(target, dict):
                    target = template_meta[field] = {}
                target.update(new_meta[field])
    return merged


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def reencrypt(
    sealed_secret: Mapping[str, Any], keys: KeyRegistry, public_key: rsa.RSAPublicKey,
    rand: RandomSource = system_random,
) -> dict[str, Any]:
    """Offline re-encryption: every item re-sealed for ``public_key`` with the same label.

    Deviation from upstream's ``/v1/rotate`` (which unseals, then re-seals the Secret): the
    template's metadata and ``template.data`` are kept as they are instead of being flattened."""
    out = check_sealed_secret(sealed_secret)
    metadata = out["metadata"]
    for name in SERVER_FIELDS:
        metadata.pop(name, None)
    metadata.pop("managedFields", None)
    out.pop("status", None)
    spec = out["spec"]
    _, item_label = label_for_metadata(metadata)
    if spec.get("data"):
        # Legacy whole-object form: open it and write ordinary encryptedData items instead.
        secret = unseal(out, keys)
        plain = {k: b64decode_std(v) for k, v in (secret.get("data") or {}).items()}
        del spec["data"]
        template = spec.setdefault("template", {})
        if secret.get("type") and not template.get("type"):
            template["type"] = secret["type"]
    else:
        plain = decrypt_items(out, keys)
    spec["encryptedData"] = {
        k: b64encode_std(hybrid_encrypt(public_key, v, item_label, rand))
        for k, v in sorted(plain.items())
    }
    out["kind"], out["apiVersion"] = SEALED_KIND, SEALED_API_VERSION
    return out


def rotate_like_controller(
    sealed_secret: Mapping[str, Any], keys: KeyRegistry, public_key: rsa.RSAPublicKey,
    rand: RandomSource = system_random,
) -> dict[str, Any]:
    """Upstream's ``/v1/rotate`` (v0.36): if the SealedSecret's own metadata differs from the
    template's, it replaces it ("preserve scope during rotation", #1886); then the object is
    unsealed and the Secret sealed again as kubeseal would. Lossy by design upstream:
    ``template.data`` is rendered into plain items and template-only labels/annotations go."""
    ss = strip(check_sealed_secret(sealed_secret))
    template = _mapping(ss["spec"].get("template"))
    ss["spec"]["template"] = template
    if template.get("metadata") != ss["metadata"]:
        template["metadata"] = copy.deepcopy(ss["metadata"])
    secret = unseal(ss, keys)
    return seal_secret(secret, public_key, SealOptions(allow_empty_data=True), rand=rand)


__all__ = [
    "ERR_EMPTY_DATA",
    "ERR_NO_SECRETS",
    "SealOptions",
    "merge_into",
    "reencrypt",
    "rotate_like_controller",
    "seal_documents",
    "seal_raw",
    "seal_secret",
    "unseal_raw",
]
