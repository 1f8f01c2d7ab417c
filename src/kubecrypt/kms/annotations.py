"""KMS v2 annotation rules as kube-apiserver applies them (kmsv2 ``validateAnnotations``): every
key a lowercase RFC 1123 fully-qualified domain name with at least two labels, keys plus values at
most 32 KiB. Used by the plugin server on Encrypt answers and by ``atrest`` on stored objects."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubecrypt.kms.backends.base import shown

MAX_ANNOTATIONS = 32 * 1024

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_fqdn(name: str) -> bool:
    """A lowercase RFC 1123 subdomain with at least two labels (one trailing dot tolerated)."""
    n = name[:-1] if name.endswith(".") else name
    if not n or len(n) > 253:
        return False
    labels = n.split(".")
    return len(labels) >= 2 and all(len(lb) <= 63 and _LABEL.match(lb) for lb in labels)


def annotations_problem(annotations: Mapping[str, bytes]) -> str | None:
    """Why kube-apiserver would reject these annotations (kmsv2 validateAnnotations), or None."""
    total = 0
    for key, value in annotations.items():
        if not is_fqdn(key):
            return (f"annotation key {shown(key)} is not a lowercase fully-qualified domain name "
                    "with at least two labels (e.g. version.kms.example.com)")
        total += len(key) + len(value)
    if total > MAX_ANNOTATIONS:
        return f"annotations total {total} bytes, more than the {MAX_ANNOTATIONS} allowed"
    return None
