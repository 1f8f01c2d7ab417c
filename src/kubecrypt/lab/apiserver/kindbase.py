"""The per-kind part of kube-apiserver's registry (upstream: each kind's ``strategy.go`` plus
its printer and field-label conversion), the base of every module in ``kinds``: defaults and server-set fields on create and update,
validation, whether ``metadata.generation`` tracks the spec, the Table columns and the field
selectors. The generic store (``rest``, ``objects``) calls these hooks and nothing else that
depends on the kind, so adding a kind is one module in ``kinds``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from kubecrypt.lab.apiserver.columns import AGE, NAME, Column
from kubecrypt.lab.apiserver.errors import Cause

Getter = Callable[[dict[str, Any]], str]


class Strategy:
    columns: tuple[Column, ...] = (NAME, AGE)
    field_selectors: Mapping[str, Getter] = MappingProxyType({})
    # Top-level fields the kind has: others are dropped with a warning (400 under
    # fieldValidation=Strict). None: not checked.
    top_fields: frozenset[str] | None = None
    # metadata.generation starts at 1 and goes up when anything outside metadata/status changes.
    tracks_generation: bool = False
    # The rule for metadata.name: problems, or None for the default (a DNS subdomain).
    name_check: Callable[[str], list[str]] | None = None

    def check_shape(self, obj: dict[str, Any]) -> None:
        """Type errors Go's decoder would refuse: raise a 400."""

    def on_create(self, obj: dict[str, Any]) -> None:
        """Defaults and server-set fields (``PrepareForCreate``)."""

    def on_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """What an update may not change (``PrepareForUpdate``)."""

    def on_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """After a ``/status`` write replaced status (and kept everything else)."""

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        return []

    def holds_deletion(self, obj: dict[str, Any]) -> bool:
        """Whether a delete only marks the object (finalizers still to run)."""
        return bool((obj.get("metadata") or {}).get("finalizers"))

    def on_delete(self, obj: dict[str, Any]) -> None:
        """Changes besides deletionTimestamp when a delete marks the object."""


def selectors(getters: Mapping[str, Getter]) -> Mapping[str, Getter]:
    """A kind's field labels, read-only (shared by every request)."""
    return MappingProxyType(dict(getters))


def fields(*names: str) -> frozenset[str]:
    return frozenset(("apiVersion", "kind", "metadata", *names))
