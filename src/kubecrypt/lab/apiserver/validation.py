"""Object validation with kube-apiserver's field paths and wording
(upstream: apimachinery/pkg/util/validation, pkg/apis/core/validation ValidateSecret)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import InputError
from kubecrypt.lab.apiserver.errors import Cause, bad_request

MAX_SECRET_SIZE = 1024 * 1024
MAX_ANNOTATIONS = 256 * 1024

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QNAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
QNAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
             "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
             "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                   "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                  "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                  "is '[-._a-zA-Z0-9]+')")
IMMUTABLE_MSG = "field is immutable when `immutable` is set"
BUILTIN_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def _q(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", field, f"Invalid value: {_q(value)}: {detail}")


def required(field: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def forbidden(field: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def too_long(field: str, limit: int, unit: str = "bytes") -> Cause:
    return Cause("FieldValueTooLong", field, f"Too long: must have at most {limit} {unit}")


def subdomain_problems(value: str) -> list[str]:
    out = []
    if len(value) > 253:
        out.append("must be no more than 253 characters")
    if not _SUBDOMAIN.match(value):
        out.append(SUBDOMAIN_MSG)
    return out


def label_problems(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not _LABEL.match(value):
        out.append(LABEL_MSG)
    return out


def qualified_name_problems(value: str) -> list[str]:
    prefix, slash, name = value.rpartition("/")
    out = []
    if slash and not prefix:
        out.append("prefix part must be non-empty")
    elif slash:
        out += ["prefix part " + p for p in subdomain_problems(prefix)]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if name and not _QNAME.match(name):
        out.append(QNAME_MSG)
    return out


_META_TYPES: dict[str, tuple[type, type, str]] = {
    "labels": (dict, str, "map[string]string"), "annotations": (dict, str, "map[string]string"),
    "finalizers": (list, str, "[]string"), "ownerReferences": (list, dict, "[]v1.OwnerReference"),
}


def check_metadata_types(kind: str, version: str, meta: Any) -> None:
    """What Go's JSON decoding refuses before validation runs: a 400, not a 422."""
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot unmarshal'
    if not isinstance(meta, dict):
        raise bad_request(f"{prefix} {type(meta).__name__} into Go struct field "
                          f"{kind}.metadata of type v1.ObjectMeta")
    for field, (outer, inner, go_type) in _META_TYPES.items():
        value = meta.get(field)
        if value is None:
            continue
        items = value.values() if isinstance(value, dict) else value
        if not isinstance(value, outer) or not all(isinstance(v, inner) for v in items):
            raise bad_request(f"{prefix} into Go struct field ObjectMeta.metadata.{field} of "
                              f"type {go_type}")


def validate_metadata(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    name = meta.get("name") or ""
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    else:
        is_namespace = obj.get("kind") == "Namespace"
        check = label_problems if is_namespace else subdomain_problems
        causes += [invalid("metadata.name", name, p) for p in check(name)]
    for key, value in (meta.get("labels") or {}).items():
        causes += [invalid("metadata.labels", key, p) for p in qualified_name_problems(key)]
        if len(value) > 63:
            causes.append(invalid("metadata.labels", value, "must be no more than 63 characters"))
        if not _LABEL_VALUE.match(value):
            causes.append(invalid("metadata.labels", value, LABEL_VALUE_MSG))
    total = 0
    for key, value in (meta.get("annotations") or {}).items():
        # Upstream validates annotation keys lowercased (ValidateAnnotations).
        causes += [invalid("metadata.annotations", key, p)
                   for p in qualified_name_problems(key.lower())]
        total += len(key) + len(str(value))
    if total > MAX_ANNOTATIONS:
        causes.append(too_long("metadata.annotations", MAX_ANNOTATIONS))
    finalizers = meta.get("finalizers") or []
    for i, f in enumerate(finalizers):
        problems = qualified_name_problems(f)
        if problems:
            causes += [invalid(f"metadata.finalizers[{i}]", f, p) for p in problems]
        elif "/" not in f and f not in BUILTIN_FINALIZERS:
            causes.append(Cause("FieldValueNotSupported", f"metadata.finalizers[{i}]",
                                f'Unsupported value: "{f}": supported values: '
                                '"foregroundDeletion", "kubernetes", "orphan"'))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        causes.append(invalid("metadata.finalizers", finalizers,
                              "finalizer orphan and foregroundDeletion cannot be both set"))
    controllers = 0
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for f in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(f):
                causes.append(invalid(f"metadata.ownerReferences[{i}].{f}", ref.get(f, ""),
                                      f"{f} must not be empty"))
        controllers += 1 if ref.get("controller") else 0
    if controllers > 1:
        causes.append(invalid("metadata.ownerReferences", meta["ownerReferences"],
                              "Only one reference can have Controller set to true"))
    return causes


def decoded_data(obj: dict[str, Any]) -> dict[str, bytes]:
    """``data`` with base64 decoded; a bad value is a decode error, as upstream (400)."""
    out = {}
    for field, want, go_type in (("data", dict, "map[string][]uint8"),
                                 ("stringData", dict, "map[string]string"),
                                 ("type", str, "v1.SecretType"), ("immutable", bool, "bool")):
        if obj.get(field) is not None and not isinstance(obj[field], want):
            raise bad_request(f'Secret in version "v1" cannot be handled as a Secret: json: '
                              f"cannot unmarshal {type(obj[field]).__name__} into Go struct "
                              f"field Secret.{field} of type {go_type}")
    for key, value in (obj.get("stringData") or {}).items():
        if value is not None and not isinstance(value, str):
            raise bad_request(f'Secret in version "v1" cannot be handled as a Secret: json: '
                              f"cannot unmarshal {type(value).__name__} into Go struct field "
                              f"Secret.stringData of type string (in stringData[{key}])")
    for key, value in (obj.get("data") or {}).items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise bad_request(f'Secret in version "v1" cannot be handled as a Secret: '
                              f'json: cannot unmarshal {type(value).__name__} into Go struct '
                              f'field Secret.data of type []uint8')
        try:
            out[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f'Secret in version "v1" cannot be handled as a Secret: illegal '
                              f'base64 data at input byte 0 (in data[{key}])') from None
    return out


def _key_problems(key: str) -> list[str]:
    out = []
    if len(key) > 253:
        out.append("must be no more than 253 characters")
    if not _CONFIG_KEY.match(key):
        out.append(CONFIG_KEY_MSG)
    if key == ".":
        out.append("must not be '.'")
    elif key == "..":
        out.append("must not be '..'")
    elif key.startswith(".."):
        out.append("must not start with '..'")
    return out


def validate_secret(obj: dict[str, Any], data: dict[str, bytes]) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    for key, value in data.items():
        causes += [invalid(f"data[{key}]", key, p) for p in _key_problems(key)]
        total += len(value)
    if total > MAX_SECRET_SIZE:
        causes.append(too_long("data", MAX_SECRET_SIZE))
    kind = obj.get("type") or "Opaque"
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if kind == "kubernetes.io/service-account-token":
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind.endswith("dockercfg") else ".dockerconfigjson"
        if key not in data:
            causes.append(required(f"data[{key}]"))
        else:
            try:
                parsed = safeparse.load_json(data[key], f"data[{key}]")
                ok = isinstance(parsed, dict)
            except InputError:
                ok = False
            if not ok:
                causes.append(invalid(f"data[{key}]", "<secret contents redacted>",
                                      "must be a valid JSON object"))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes += [required("data[username]"), required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            causes.append(required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        causes += [required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data]
    return causes


def validate_secret_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if (new.get("type") or "Opaque") != (old.get("type") or "Opaque"):
        causes.append(invalid("type", new.get("type") or "Opaque", "field is immutable"))
    if old.get("immutable"):
        if not new.get("immutable"):
            causes.append(forbidden("immutable", IMMUTABLE_MSG))
        if (new.get("data") or {}) != (old.get("data") or {}):
            causes.append(forbidden("data", IMMUTABLE_MSG))
    return causes
