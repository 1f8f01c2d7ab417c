"""Build one provider chain per resource from an EncryptionConfiguration, as kube-apiserver does
(server/options/encryptionconfig/config.go): a resource gets the providers of every entry that
names it, in file order; otherwise ``*.<group>``, then ``*.*``, else identity only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubecrypt.atrest.chain import PrefixChain
from kubecrypt.atrest.config import (
    EncryptionConfiguration,
    KeyedProviderConfig,
    KMSConfig,
    ProviderConfig,
    split_resource,
)
from kubecrypt.atrest.providers.aescbc import AESCBCProvider
from kubecrypt.atrest.providers.aesgcm import AESGCMProvider
from kubecrypt.atrest.providers.base import Provider
from kubecrypt.atrest.providers.identity import IdentityProvider
from kubecrypt.atrest.providers.secretbox import SecretboxProvider
from kubecrypt.crypto.rand import RandomSource, system_random
from kubecrypt.errors import ConfigError

KMSFactory = Callable[[KMSConfig], Any]

_KEYED: dict[str, type[AESGCMProvider | AESCBCProvider | SecretboxProvider]] = {
    "aesgcm": AESGCMProvider,
    "aescbc": AESCBCProvider,
    "secretbox": SecretboxProvider,
}


def default_kms_factory(cfg: KMSConfig) -> Any:
    try:
        from kubecrypt.kms.client import dial
    except ImportError:
        raise ConfigError(
            f"KMS provider {cfg.name}: this kubecrypt has no KMS gRPC client; upgrade kubecrypt"
        ) from None
    return dial(cfg.endpoint, cfg.api_version, cfg.timeout)


class TransformerSet:
    def __init__(
        self,
        config: EncryptionConfiguration,
        kms_factory: KMSFactory | None = None,
        rand: RandomSource | None = None,
    ) -> None:
        self.config = config
        self.kms_factory = kms_factory or default_kms_factory
        self.rand = rand or system_random
        # One provider instance per configured element, shared by every resource that uses it,
        # so a KMS v2 write state (one seed per provider) is not duplicated.
        self._instances: dict[int, Provider] = {}
        self._chains: dict[str, PrefixChain] = {}

    def _provider(self, cfg: ProviderConfig) -> Provider:
        key = id(cfg)
        if key not in self._instances:
            self._instances[key] = self._build(cfg)
        return self._instances[key]

    def _build(self, cfg: ProviderConfig) -> Provider:
        if isinstance(cfg, KeyedProviderConfig):
            return _KEYED[cfg.type](cfg.keys, rand=self.rand)
        if isinstance(cfg, KMSConfig):
            from kubecrypt.atrest.providers.kms_v1 import KMSv1Provider
            from kubecrypt.atrest.providers.kms_v2 import KMSv2Provider

            service = self.kms_factory(cfg)
            if cfg.api_version == "v2":
                return KMSv2Provider(cfg.name, service, endpoint=cfg.endpoint, rand=self.rand)
            return KMSv1Provider(cfg.name, service, cfg.cachesize or 1000, rand=self.rand)
        return IdentityProvider()

    def provider_configs(self, resource: str) -> list[ProviderConfig]:
        """The provider list in force for ``resource`` (``secrets``, ``deployments.apps``, ...)."""
        res, group = split_resource(resource)
        exact: list[ProviderConfig] = []
        by_group: list[ProviderConfig] = []
        everything: list[ProviderConfig] = []
        for rc in self.config.resources:
            for r in rc.resources:
                rres, rgroup = split_resource(r)
                if rres == res and rgroup == group:
                    exact.extend(rc.providers)
                elif rres == "*" and rgroup == "*":
                    everything.extend(rc.providers)
                elif rres == "*" and rgroup == group:
                    by_group.extend(rc.providers)
        return exact or by_group or everything

    def for_resource(self, resource: str) -> PrefixChain:
        chain = self._chains.get(resource)
        if chain is None:
            cfgs = self.provider_configs(resource)
            providers = [self._provider(c) for c in cfgs] or [IdentityProvider()]
            chain = self._chains[resource] = PrefixChain(providers)
        return chain

    def close(self) -> None:
        for p in self._instances.values():
            p.close()
