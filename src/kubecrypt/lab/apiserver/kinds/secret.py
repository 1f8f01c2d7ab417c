"""core/v1 Secret (upstream: pkg/registry/core/secret/strategy.go)."""

from __future__ import annotations

import base64
from typing import Any

from kubecrypt.lab.apiserver import validation
from kubecrypt.lab.apiserver.columns import AGE, NAME, col, text
from kubecrypt.lab.apiserver.errors import Cause
from kubecrypt.lab.apiserver.kindbase import Strategy, fields, selectors
from kubecrypt.lab.apiserver.resources import RW, Resource


def normalise(obj: dict[str, Any]) -> None:
    """stringData is write-only: merged into data (winning on the same key), never stored."""
    data = validation.decoded_data(obj)
    string_data = obj.pop("stringData", None) or {}
    for key, value in string_data.items():
        data[key] = str(value if value is not None else "").encode()
    if data or "data" in obj:
        obj["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    if not obj.get("data"):
        obj.pop("data", None)
    if not obj.get("type"):
        obj["type"] = "Opaque"


class SecretStrategy(Strategy):
    columns = (NAME, col("Type", lambda o: text(o.get("type")),
                         description="Used to facilitate programmatic handling of secret data."),
               col("Data", lambda o: len(o.get("data") or {}),
                   description="Contains the secret data."), AGE)
    field_selectors = selectors({"type": lambda o: str(o.get("type", ""))})
    top_fields = fields("data", "stringData", "type", "immutable")

    def on_create(self, obj: dict[str, Any]) -> None:
        normalise(obj)

    def on_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        normalise(new)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        causes = validation.validate_secret(obj, validation.decoded_data(obj))
        if old is not None:
            causes += validation.validate_secret_update(obj, old)
        return causes


STRATEGY = SecretStrategy()

SECRETS = Resource("", "v1", "secrets", "secret", "Secret", True, True, RW, strategy=STRATEGY)
RESOURCES = (SECRETS,)
