"""The three sealing scopes, their RSA-OAEP labels, and how annotations select one
(``bitnami-labs/sealed-secrets:pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

CLUSTER_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/cluster-wide"
NAMESPACE_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/namespace-wide"


class Scope(enum.Enum):
    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"

    @classmethod
    def parse(cls, text: str) -> Scope:
        if text == "":
            return cls.STRICT
        for scope in cls:
            if scope.value == text:
                return scope
        raise ValueError("must be one of: strict, namespace-wide, cluster-wide")


def label(scope: Scope, namespace: str, name: str) -> bytes:
    """Strict binds ``<namespace>/<name>`` (with a literal slash, whatever the crypto doc says)."""
    if scope is Scope.CLUSTER_WIDE:
        return b""
    if scope is Scope.NAMESPACE_WIDE:
        return namespace.encode("utf-8")
    return f"{namespace}/{name}".encode()


def scope_from_annotations(annotations: Mapping[str, Any] | None) -> Scope:
    """Only the exact string ``"true"`` counts; cluster-wide wins when both are set."""
    annotations = annotations or {}
    if annotations.get(CLUSTER_WIDE_ANNOTATION) == "true":
        return Scope.CLUSTER_WIDE
    if annotations.get(NAMESPACE_WIDE_ANNOTATION) == "true":
        return Scope.NAMESPACE_WIDE
    return Scope.STRICT


def apply_scope(annotations: dict[str, Any], scope: Scope) -> None:
    """kubeseal's ``--scope`` with a non-default value: drop both annotations, set the chosen one.
    ``strict`` is "not given" upstream, so it cannot override an annotation already present."""
    if scope is Scope.STRICT:
        return
    annotations.pop(CLUSTER_WIDE_ANNOTATION, None)
    annotations.pop(NAMESPACE_WIDE_ANNOTATION, None)
    key = CLUSTER_WIDE_ANNOTATION if scope is Scope.CLUSTER_WIDE else NAMESPACE_WIDE_ANNOTATION
    annotations[key] = "true"


def label_for_metadata(metadata: Mapping[str, Any] | None) -> tuple[Scope, bytes]:
    """The label a decryptor derives from a SealedSecret's *own* metadata (never the template)."""
    metadata = metadata or {}
    scope = scope_from_annotations(metadata.get("annotations"))
    namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
    return scope, label(scope, namespace, name)


__all__ = [
    "CLUSTER_WIDE_ANNOTATION",
    "NAMESPACE_WIDE_ANNOTATION",
    "Scope",
    "apply_scope",
    "label",
    "label_for_metadata",
    "scope_from_annotations",
]
