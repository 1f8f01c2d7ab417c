"""File formats, one module each, all behind :class:`base.Store`. :func:`store_for` picks one by
``--input-type``/``--output-type`` or by extension, as sops does."""

from __future__ import annotations

import sys

from kubecrypt.sops.stores.base import Store

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")


def format_for_path(path: str) -> str:
    # sops' formats.FormatForPath: case-sensitive suffixes, anything else is binary (a file
    # named x.YAML is a binary file there, and must be here for sops to open ours).
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    if path.endswith(".json"):
        return "json"
    if path.endswith(".env"):
        return "dotenv"
    if path.endswith(".ini"):
        return "ini"
    return "binary"


def store_for(fmt: str, indent: int | None = None) -> Store:
    """A store by format name (yaml, json, dotenv, ini, binary)."""
    name = f"kubecrypt.sops.stores.{fmt}"
    __import__(name)  # not importlib.import_module: importing importlib costs start-up time
    module = sys.modules[name]
    store: Store = module.STORE_CLASS(indent=indent)
    return store
