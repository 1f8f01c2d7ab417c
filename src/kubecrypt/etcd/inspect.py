"""What one stored value is: plaintext, identity, encrypted (by which provider and key), or
unreadable; and, against an EncryptionConfiguration, whether it is stale.

Without a config the answer comes from the bytes alone (``atrest.classify``). With one, every
value is read through the resource's provider chain exactly as kube-apiserver reads it, so
"encrypted" means *decrypts with this config*, and "stale" is upstream's flag (not written by the
first provider and key, or by the KMS key id the plugin reports now). Plaintext is dropped at
once; nothing here keeps or prints it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubecrypt.atrest.classify import classify
from kubecrypt.atrest.config import IdentityConfig
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.errors import DecryptError
from kubecrypt.storage.keys import parse_etcd_key

PLAINTEXT, IDENTITY, ENCRYPTED, UNREADABLE = "plaintext", "identity", "encrypted", "unreadable"
STATES = (PLAINTEXT, IDENTITY, ENCRYPTED, UNREADABLE)
NOT_ENCRYPTED = (PLAINTEXT, IDENTITY)


@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    resource: str | None
    state: str
    provider: str | None = None
    key_name: str | None = None
    key_id: str | None = None
    stale: bool | None = None
    """None when no config was given (staleness is relative to a config)."""
    error: str | None = None
    """Why an unreadable value could not be read (never any of its bytes)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "resource": self.resource,
            "state": self.state,
            "provider": self.provider,
            "key_name": self.key_name,
            "key_id": self.key_id,
            "stale": self.stale,
        }


def resource_of(key: str, prefix: str) -> str | None:
    try:
        return parse_etcd_key(key, prefix)[0]
    except ValueError:
        return None


class Inspector:
    def __init__(self, transformers: TransformerSet | None = None) -> None:
        self.transformers = transformers
        self._configured: dict[str, bool] = {}

    def configured(self, resource: str) -> bool:
        """True when the config names this resource (exactly or by wildcard)."""
        if self.transformers is None:
            return False
        known = self._configured.get(resource)
        if known is None:
            known = self._configured[resource] = bool(self.transformers.provider_configs(resource))
        return known

    def writes_encrypted(self, resource: str) -> bool:
        """True when the config's first provider for this resource encrypts (is not identity)."""
        if self.transformers is None:
            return False
        cfgs = self.transformers.provider_configs(resource)
        return bool(cfgs) and not isinstance(cfgs[0], IdentityConfig)

    def inspect(self, key: bytes, value: bytes, resource: str | None) -> Finding:
        key_text = key.decode("utf-8", "backslashreplace")
        c = classify(value)
        if self.transformers is None or resource is None:
            state = {"plaintext": PLAINTEXT, "encrypted": ENCRYPTED}.get(c.state, UNREADABLE)
            error = "not a Kubernetes storage value nor a known k8s:enc: prefix" if state == UNREADABLE else None
            return Finding(key_text, resource, state, c.provider, c.key, c.key_id, None, error)
        chain = self.transformers.for_resource(resource)
        try:
            r = chain.decrypt(value, key)
        except DecryptError as exc:
            if c.state == "plaintext":
                # Plaintext that this config cannot read (no identity provider): still, and above
                # all, not encrypted. Stale: a rewrite with this config would be needed.
                return Finding(key_text, resource, PLAINTEXT, None, None, None, True, str(exc))
            return Finding(key_text, resource, UNREADABLE, c.provider, c.key, c.key_id, None, str(exc))
        if r.provider == "identity":
            state = IDENTITY if self.configured(resource) else PLAINTEXT
            return Finding(key_text, resource, state, None, None, None, r.stale)
        return Finding(key_text, resource, ENCRYPTED, r.provider, r.key or None, r.key_id, r.stale)
