"""A fresh, valid EncryptionConfiguration for one new key."""

from __future__ import annotations

from kubecrypt.atrest.config import (
    EncryptionConfiguration,
    IdentityConfig,
    Key,
    KeyedProviderConfig,
    ResourceConfig,
    dumps,
    from_dict,
)


def new_configuration(provider: str, name: str, key: bytes, resources: list[str]) -> str:
    cfg = EncryptionConfiguration(
        (
            ResourceConfig(
                tuple(resources),
                (KeyedProviderConfig(provider, (Key(name, key),)), IdentityConfig()),
            ),
        )
    )
    text = dumps(cfg)
    from_dict(
        cfg.to_dict(), "generated configuration"
    )  # never print something kube-apiserver rejects
    return text
