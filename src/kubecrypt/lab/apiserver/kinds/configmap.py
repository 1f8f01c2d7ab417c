"""core/v1 ConfigMap (upstream: pkg/registry/core/configmap/strategy.go, ValidateConfigMap):
stored as protobuf, through the at-rest chain for ``configmaps``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from kubecrypt.lab.apiserver import errors, validation
from kubecrypt.lab.apiserver.columns import AGE, NAME, col
from kubecrypt.lab.apiserver.errors import Cause
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.resources import RW, Resource

MAX_SIZE = 1024 * 1024


def _bad(field: str, value: Any, go_type: str) -> errors.ApiError:
    return errors.bad_request(f'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: '
                              f"cannot unmarshal {type(value).__name__} into Go struct field "
                              f"ConfigMap.{field} of type {go_type}")


class ConfigMapStrategy(Strategy):
    columns = (NAME, col("Data", lambda o: len(o.get("data") or {}) +
                         len(o.get("binaryData") or {})), AGE)
    top_fields = fields("data", "binaryData", "immutable")

    def check_shape(self, obj: dict[str, Any]) -> None:
        for field, go_type in (("data", "string"), ("binaryData", "[]uint8")):
            value = obj.get(field)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise _bad(field, value, f"map[string]{go_type}")
            for key, v in value.items():
                if not isinstance(v, str):
                    raise _bad(field, v, go_type)
                if field == "binaryData":
                    try:
                        base64.b64decode(v, validate=True)
                    except (binascii.Error, ValueError):
                        raise errors.bad_request(
                            'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal '
                            f"base64 data at input byte 0 (in binaryData[{key}])") from None
        if obj.get("immutable") is not None and not isinstance(obj["immutable"], bool):
            raise _bad("immutable", obj["immutable"], "bool")

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        causes: list[Cause] = []
        data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
        size = 0
        for key, value in data.items():
            causes += [validation.invalid(f"data[{key}]", key, p)
                       for p in validation.config_key_problems(key)]
            size += len(value.encode())
        for key, value in binary.items():
            causes += [validation.invalid(f"binaryData[{key}]", key, p)
                       for p in validation.config_key_problems(key)]
            if key in data:
                causes.append(validation.invalid(f"binaryData[{key}]", key,
                                                 "duplicate of key present in data"))
            size += len(base64.b64decode(value))
        if size > MAX_SIZE:
            causes.append(validation.too_long("", MAX_SIZE))
        if old is not None and old.get("immutable"):
            if not obj.get("immutable"):
                causes.append(validation.forbidden("immutable", "field is immutable when "
                                                   "`immutable` is set"))
            if data != (old.get("data") or {}) or binary != (old.get("binaryData") or {}):
                causes.append(validation.forbidden("data", validation.IMMUTABLE_MSG))
        return causes


STRATEGY = ConfigMapStrategy()
RESOURCES = (Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, True, RW, ("cm",),
                      strategy=STRATEGY),)
