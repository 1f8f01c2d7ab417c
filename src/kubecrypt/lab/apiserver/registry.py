"""The resources the lab serves (kube-apiserver's registry): every module of ``kinds`` that
defines ``RESOURCES``, plus the custom resources of the CustomResourceDefinitions in etcd, added
and removed as CRDs are written (``kinds.crd``)."""

from __future__ import annotations

import importlib
import pkgutil

from kubecrypt.lab.apiserver import kinds
from kubecrypt.lab.apiserver.resources import Resource


def _builtins() -> tuple[Resource, ...]:
    out: list[Resource] = []
    for info in sorted(pkgutil.iter_modules(kinds.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{kinds.__name__}.{info.name}")
        out += getattr(module, "RESOURCES", ())
    return tuple(out)


class Registry:
    def __init__(self, builtins: tuple[Resource, ...]) -> None:
        self.builtins = builtins
        self._custom: dict[str, tuple[Resource, ...]] = {}  # CRD name -> its served versions

    def all(self) -> tuple[Resource, ...]:
        return self.builtins + tuple(r for rs in self._custom.values() for r in rs)

    def stored(self) -> tuple[Resource, ...]:
        return tuple(r for r in self.all() if not r.virtual)

    def namespaced(self) -> tuple[Resource, ...]:
        return tuple(r for r in self.stored() if r.namespaced)

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        for r in self.all():
            if (r.group, r.version, r.plural) == (group, version, plural):
                return r
        return None

    def by_kind(self, api_version: str, kind: str) -> Resource | None:
        for r in self.all():
            if (r.group_version, r.kind) == (api_version, kind):
                return r
        return None

    def group_versions(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {}
        for r in self.all():
            out.setdefault(r.group_version, []).append(r)
        return out

    def set_custom(self, crd_name: str, resources: tuple[Resource, ...]) -> None:
        if resources:
            self._custom[crd_name] = resources
        else:
            self._custom.pop(crd_name, None)

    def custom_names(self) -> list[str]:
        return list(self._custom)


REGISTRY = Registry(_builtins())
