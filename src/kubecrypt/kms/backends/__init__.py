"""Finding a backend by name: built-in, from the ``kubecrypt.kms_backends`` entry-point group,
or ``module.path:ClassName``; and reading ``--backend-config``."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml

from kubecrypt.errors import ConfigError
from kubecrypt.kms.backends.base import Backend

ENTRY_POINT_GROUP = "kubecrypt.kms_backends"

BUILTIN: dict[str, str] = {
    "aws": "kubecrypt.kms.backends.aws:AWSBackend",
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


def resolve(name: str) -> type[Backend]:
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
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigError(
            f"backend {name!r} is not a subclass of kubecrypt.kms.backends.base.Backend"
        )
    return cls


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Reads a YAML or JSON mapping (JSON is YAML); ``None`` gives ``{}``."""
    if path is None:
        return {}
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read backend config {p}: {exc.strerror}") from None
    try:
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"backend config {p} is not valid YAML or JSON: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not all(isinstance(k, str) for k in doc):
        raise ConfigError(f"backend config {p} must be a mapping of option names to values")
    return doc


def create(name: str, config: Mapping[str, Any] | None = None) -> Backend:
    """Builds a backend; any constructor failure becomes one :class:`ConfigError` sentence."""
    cls = resolve(name)
    try:
        return cls(**dict(config or {}))
    except ConfigError:
        raise
    except TypeError as exc:
        raise ConfigError(f"backend {name!r} does not accept this configuration: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"backend {name!r} failed to start: {exc}") from None


__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "create", "load_config", "resolve"]
