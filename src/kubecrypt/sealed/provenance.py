"""Which certificate sealed a SealedSecret: the ``kubecrypt.io/sealed-with`` annotation.

The ciphertext carries no key id (upstream #638, #226), so kubecrypt writes the sealing
certificate's SHA-256 fingerprint (over its DER bytes, ``openssl x509 -fingerprint -sha256``
without the colons) on the SealedSecret's *own* metadata. It is public data. Upstream's
controller builds the Secret from ``spec.template.metadata`` only
(``pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go``, ``Unseal``), so the annotation
never reaches the Secret. Its ``/v1/rotate`` however copies the outer metadata over the
template's whenever the two differ (``pkg/controller/controller.go``, ``Rotate``): kubecrypt
therefore removes the annotation from anything it sends there, and its own unseal drops it
from the Secret in case an older rotation already copied it into a template."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubecrypt.sealed.keys import parse_certificates

ANNOTATION = "kubecrypt.io/sealed-with"
ESCROW_ANNOTATION = "kubecrypt.io/escrow"
PREFIX = "sha256:"


def cert_fingerprint(cert: x509.Certificate) -> str:
    """``sha256:<hex>`` over the certificate's DER encoding."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return PREFIX + hashlib.sha256(der).hexdigest()


def pem_fingerprint(cert_pem: bytes) -> str | None:
    """The fingerprint of the first certificate in ``cert_pem`` (the one kubeseal seals with)."""
    certs = parse_certificates(cert_pem)
    return cert_fingerprint(certs[0]) if certs else None


def sealed_with(obj: Mapping[str, Any]) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION) if isinstance(annotations, Mapping) else None
    return value if isinstance(value, str) and value.startswith(PREFIX) else None


def stamp(obj: dict[str, Any], fingerprint: str | None) -> dict[str, Any]:
    """Sets (or, with ``None``: removes) the annotation on the object's own metadata."""
    metadata = obj.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(ANNOTATION, None)
    if fingerprint:
        annotations[ANNOTATION] = fingerprint
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    return obj


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without the annotation, outside and in the template: what is sent to a
    controller's ``/v1/rotate``, which would otherwise copy it into the template."""
    stamp(obj, None)
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict) and isinstance(template.get("metadata"), dict):
        stamp(template, None)
    return obj


def drop_from_secret(secret: dict[str, Any]) -> dict[str, Any]:
    """A produced Secret never carries the annotation (see the module docstring)."""
    metadata = secret.get("metadata")
    if isinstance(metadata, dict) and ANNOTATION in (metadata.get("annotations") or {}):
        stamp(secret, None)
    return secret


__all__ = [
    "ANNOTATION",
    "ESCROW_ANNOTATION",
    "cert_fingerprint",
    "drop_from_secret",
    "pem_fingerprint",
    "sealed_with",
    "stamp",
    "strip",
]
