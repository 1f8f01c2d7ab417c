"""Finding a backend by name: built-in, from the ``kubecrypt.kms_backends`` entry-point group,
or ``module.path:ClassName``; and reading ``--backend-config``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import ConfigError
from kubecrypt.kms.backends.base import Backend, as_backend, missing_methods

ENTRY_POINT_GROUP = "kubecrypt.kms_backends"

BUILTIN: dict[str, str] = {
    "aws": "kubecrypt.kms.backends.aws:AWSBackend",
    "azure": "kubecrypt.kms.backends.azure:AzureBackend",
    "gcp": "kubecrypt.kms.backends.gcp:GCPBackend",
    "local": "kubecrypt.kms.backends.local:LocalBackend",
    "pkcs11": "kubecrypt.kms.backends.pkcs11:PKCS11Backend",
    "vault": "kubecrypt.kms.backends.vault:VaultBackend",
}


def _import(target: str, name: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"backend {name!r}: cannot import module {module_name!r} ({exc}); "
            "check the name and PYTHONPATH"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"backend {name!r}: module {module_name!r} has no {attr!r}") from None


def resolve(name: str) -> type:
    """The backend class for a ``--backend`` value."""
    if name in BUILTIN:
        cls = _import(BUILTIN[name], name)
    elif ":" in name:
        cls = _import(name, name)
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            plugins = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
            known = ", ".join(sorted({*BUILTIN, *plugins}))
            raise ConfigError(
                f"unknown KMS backend {name!r}; use one of {known}, an entry point in group "
                f"{ENTRY_POINT_GROUP}, or module.path:ClassName"
            )
        try:
            cls = found[0].load()
        except Exception as exc:
            raise ConfigError(f"backend {name!r}: its entry point failed to load: {exc}") from None
    if not isinstance(cls, type):
        raise ConfigError(
            f"backend {name!r} is a {type(cls).__name__}, not a class; name a class with "
            "status(), encrypt() and decrypt() methods"
        )
    missing = missing_methods(cls)
    if missing:
        raise ConfigError(
            f"backend {name!r} ({cls.__module__}.{cls.__qualname__}) has no "
            f"{', '.join(m + '()' for m in missing)} method{'s' if len(missing) > 1 else ''}; a backend needs status(), encrypt() "
            "and decrypt() (see docs/kms.md)"
        )
    return cls


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Reads a YAML or JSON mapping (JSON is YAML); ``None`` gives ``{}``."""
    if path is None:
        return {}
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read backend config {p}: {exc.strerror}") from None
    source = f"backend config {p}"
    doc = (
        safeparse.load_json(text, source, error=ConfigError)
        if p.suffix == ".json"
        else safeparse.load_yaml(text, source, error=ConfigError)
    )
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not all(isinstance(k, str) for k in doc):
        raise ConfigError(f"backend config {p} must be a mapping of option names to values")
    return doc


def create(name: str, config: Mapping[str, Any] | None = None) -> Backend:
    """Builds a backend; any constructor failure becomes one :class:`ConfigError` sentence."""
    cls = resolve(name)
    try:
        return as_backend(cls(**dict(config or {})))
    except ConfigError:
        raise
    except TypeError as exc:
        raise ConfigError(f"backend {name!r} does not accept this configuration: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"backend {name!r} failed to start: {exc}") from None


__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "create", "load_config", "resolve"]
