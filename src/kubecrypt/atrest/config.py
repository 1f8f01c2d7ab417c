"""Load and validate an ``EncryptionConfiguration`` the way kube-apiserver does.

Upstream: kubernetes/apiserver pkg/apis/apiserver/v1/types_encryption.go (schema),
v1/defaults.go (KMS defaults) and validation/validation_encryption.go (rules). Every problem is
collected with its field path, so one run of ``kubecrypt atrest validate`` shows them all.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from kubecrypt import safeparse
from kubecrypt.errors import ConfigError
from kubecrypt.goduration import format_duration, parse_duration
from kubecrypt.kms.endpoint import endpoint_problem

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
LEGACY_API_VERSION = "v1"
LEGACY_KIND = "EncryptionConfig"

PROVIDER_KINDS = ("kms", "aesgcm", "aescbc", "secretbox", "identity")
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZE = 32
KMS_DEFAULT_TIMEOUT = 3.0
KMS_DEFAULT_CACHESIZE = 1000
KMS_MAX_NAME = 1024

_NON_REST = {"apiserveripinfo", "serviceipallocations", "servicenodeportallocations"}


@dataclass(frozen=True)
class Key:
    name: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class IdentityConfig:
    type: str = "identity"


@dataclass(frozen=True)
class KeyedProviderConfig:
    """aesgcm, aescbc or secretbox: an ordered list of keys, the first one writes."""

    type: str
    keys: tuple[Key, ...]


@dataclass(frozen=True)
class KMSConfig:
    name: str
    endpoint: str
    api_version: str = "v1"
    cachesize: int | None = None
    timeout: float = KMS_DEFAULT_TIMEOUT
    type: str = "kms"


ProviderConfig = IdentityConfig | KeyedProviderConfig | KMSConfig


@dataclass(frozen=True)
class ResourceConfig:
    resources: tuple[str, ...]
    providers: tuple[ProviderConfig, ...]


@dataclass(frozen=True)
class EncryptionConfiguration:
    resources: tuple[ResourceConfig, ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "resources": [
                {
                    "resources": list(rc.resources),
                    "providers": [provider_to_dict(p) for p in rc.providers],
                }
                for rc in self.resources
            ],
        }


def provider_to_dict(p: ProviderConfig) -> dict[str, Any]:
    if isinstance(p, IdentityConfig):
        return {"identity": {}}
    if isinstance(p, KeyedProviderConfig):
        keys = [{"name": k.name, "secret": base64.b64encode(k.secret).decode()} for k in p.keys]
        return {p.type: {"keys": keys}}
    out: dict[str, Any] = {"apiVersion": p.api_version, "name": p.name, "endpoint": p.endpoint}
    if p.cachesize is not None:
        out["cachesize"] = p.cachesize
    out["timeout"] = format_duration(p.timeout)
    return {"kms": out}


# --------------------------------------------------------------------------- loading


def load_file(path: str | Path) -> EncryptionConfiguration:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{p}: no such file; pass the path of an EncryptionConfiguration"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the EncryptionConfiguration: {exc}") from None
    return loads(text, source=str(p))


def loads(text: str, source: str = "<config>") -> EncryptionConfiguration:
    """Parse YAML or JSON text and validate it; raises ConfigError listing every problem."""
    if not text.strip():
        raise ConfigError(f"{source}: the EncryptionConfiguration is empty")
    doc = safeparse.load_yaml(text, source, error=ConfigError)
    return from_dict(doc, source)


def from_dict(doc: Any, source: str = "<config>") -> EncryptionConfiguration:
    problems: list[str] = []
    warnings: list[str] = []
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping with apiVersion, kind and resources")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if (api_version, kind) not in ((API_VERSION, KIND), (LEGACY_API_VERSION, LEGACY_KIND)):
        raise ConfigError(
            f"{source}: apiVersion/kind must be {API_VERSION}/{KIND} "
            f"(or the legacy v1/{LEGACY_KIND}), got {api_version}/{kind}"
        )
    _unknown(doc, {"apiVersion", "kind", "resources"}, "", problems)
    resources = _parse_resources(doc.get("resources"), problems, warnings)
    if not problems:
        _check_masking(resources, problems)
    if problems:
        raise ConfigError(_summary(source, problems), problems)
    return EncryptionConfiguration(tuple(resources), tuple(warnings))


def _summary(source: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{source}: invalid EncryptionConfiguration: {problems[0]}"
    return f"{source}: invalid EncryptionConfiguration ({len(problems)} problems): " + "; ".join(
        problems
    )


def _unknown(obj: dict[str, Any], allowed: set[str], path: str, problems: list[str]) -> None:
    for k in obj:
        if k not in allowed:
            full = f"{path}.{k}" if path else str(k)
            problems.append(f'strict decoding error: unknown field "{full}"')


def _parse_resources(raw: Any, problems: list[str], warnings: list[str]) -> list[ResourceConfig]:
    if not isinstance(raw, list) or not raw:
        problems.append("resources: Required value: at least one resources is required")
        return []
    out: list[ResourceConfig] = []
    kms_names: dict[str, str] = {}
    for i, entry in enumerate(raw):
        path = f"resources[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{path}: must be a mapping with resources and providers")
            continue
        _unknown(entry, {"resources", "providers"}, path, problems)
        res = _parse_resource_names(entry.get("resources"), f"{path}.resources", problems)
        provs = _parse_providers(entry.get("providers"), f"{path}.providers", problems, kms_names)
        out.append(ResourceConfig(tuple(res), tuple(provs)))
    if any(isinstance(p, KMSConfig) and p.api_version == "v1" for rc in out for p in rc.providers):
        warnings.append(
            "KMSv1 is deprecated: kube-apiserver 1.29+ only loads it with --feature-gates=KMSv1=true; "
            "use kms apiVersion v2"
        )
    return out


def _parse_resource_names(raw: Any, path: str, problems: list[str]) -> list[str]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path}: Required value: at least one resource is required")
        return []
    names: list[str] = []
    seen: set[str] = set()
    for j, r in enumerate(raw):
        p = f"{path}[{j}]"
        if not isinstance(r, str):
            problems.append(f"{p}: Invalid value: resource must be a string")
            continue
        err = _resource_problem(r)
        if err:
            problems.append(f"{p}: Invalid value: {r!r}: {err}")
        if r in seen:
            problems.append(
                f"{p}: Duplicate value: {r!r}: the same resource cannot be specified multiple times"
            )
        seen.add(r)
        names.append(r)
    has_all = "*.*" in seen
    has_core = "*." in seen
    for j, r in enumerate(names):
        resource, group = split_resource(r)
        masked_by = None
        if has_all and r != "*.*":
            masked_by = "*.*"
        elif has_core and group == "" and r != "*.":
            masked_by = "*."
        elif resource != "*" and f"*.{group}" in seen and group:
            masked_by = f"*.{group}"
        if masked_by:
            problems.append(
                f"{path}[{j}]: Invalid value: {r!r}: using overlapping resources such as {masked_by!r} "
                "in the same resource list is not allowed as they will be masked"
            )
    return names


def _resource_problem(r: str) -> str | None:
    if r != r.lower():
        return "resource name should not contain capital letters"
    if r == "*":
        return "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources"
    resource, group = split_resource(r)
    if resource in _NON_REST and group == "":
        return "resources which do not have REST API/s cannot be encrypted"
    if group == "events.k8s.io":
        return "objects are stored using the 'events' API group, use 'events' instead"
    if group == "extensions":
        return "'extensions' group has been removed and cannot be used for encryption"
    if group == "*" and resource != "*":
        return "encrypting the same resource across groups is not supported"
    if not resource:
        return "resource name must not be empty"
    return None


def split_resource(r: str) -> tuple[str, str]:
    """``deployments.apps`` -> (``deployments``, ``apps``); ``secrets`` -> (``secrets``, ``""``)."""
    resource, _, group = r.partition(".")
    return resource, group


def _parse_providers(
    raw: Any, path: str, problems: list[str], kms_names: dict[str, str]
) -> list[ProviderConfig]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path}: Required value: at least one provider is required")
        return []
    out: list[ProviderConfig] = []
    for j, elem in enumerate(raw):
        p = f"{path}[{j}]"
        if not isinstance(elem, dict):
            problems.append(f"{p}: must be a mapping naming one provider")
            continue
        _unknown(elem, set(PROVIDER_KINDS), p, problems)
        kinds = [k for k in PROVIDER_KINDS if k in elem]
        if not kinds:
            problems.append(
                f"{p}: Invalid value: provider does not contain any of the expected providers: "
                "KMS, AESGCM, AESCBC, Secretbox, Identity"
            )
            continue
        if len(kinds) > 1:
            problems.append(
                f"{p}: Invalid value: more than one provider specified in a single element, "
                "should split into different list elements"
            )
            continue
        kind = kinds[0]
        body = elem[kind]
        if kind == "identity":
            if body not in (None, {}):
                if isinstance(body, dict):
                    _unknown(body, set(), f"{p}.identity", problems)
                else:
                    problems.append(f"{p}.identity: must be an empty mapping")
            out.append(IdentityConfig())
        elif kind == "kms":
            kms = _parse_kms(body, f"{p}.kms", problems, kms_names)
            if kms:
                out.append(kms)
        else:
            keyed = _parse_keyed(kind, body, f"{p}.{kind}", problems)
            if keyed:
                out.append(keyed)
    return out


def _parse_keyed(
    kind: str, body: Any, path: str, problems: list[str]
) -> KeyedProviderConfig | None:
    if not isinstance(body, dict):
        problems.append(f"{path}.keys: Required value: at least one keys is required")
        return None
    _unknown(body, {"keys"}, path, problems)
    raw_keys = body.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        problems.append(f"{path}.keys: Required value: at least one keys is required")
        return None
    sizes = (SECRETBOX_KEY_SIZE,) if kind == "secretbox" else AES_KEY_SIZES
    keys: list[Key] = []
    start = len(problems)
    for k, raw in enumerate(raw_keys):
        kp = f"{path}.keys[{k}]"
        if not isinstance(raw, dict):
            problems.append(f"{kp}: must be a mapping with name and secret")
            continue
        _unknown(raw, {"name", "secret"}, kp, problems)
        name, secret = raw.get("name"), raw.get("secret")
        if not name or not isinstance(name, str):
            problems.append(f"{kp}.name: Required value: name is a mandatory field for a key")
        if not secret or not isinstance(secret, str):
            problems.append(f"{kp}.secret: Required value: secret is a mandatory field for a key")
            continue
        try:
            decoded = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{kp}.secret: Invalid value: REDACTED: secrets must be base64 encoded")
            continue
        if len(decoded) not in sizes:
            expected = f"[{' '.join(str(s) for s in sizes)}]"
            problems.append(
                f"{kp}.secret: Invalid value: REDACTED: secret is not of the expected length, "
                f"got {len(decoded)}, expected one of {expected}"
            )
            continue
        keys.append(Key(str(name), decoded))
    if len(problems) > start:
        return None
    return KeyedProviderConfig(kind, tuple(keys))


_DURATION_HINT = "a duration such as 3s"


def _parse_kms(
    body: Any, path: str, problems: list[str], names: dict[str, str]
) -> KMSConfig | None:
    if not isinstance(body, dict):
        problems.append(f"{path}.name: Required value: name is a mandatory field for a provider")
        return None
    _unknown(body, {"apiVersion", "name", "endpoint", "cachesize", "timeout"}, path, problems)
    start = len(problems)
    api = body.get("apiVersion") or "v1"
    if api not in ("v1", "v2"):
        problems.append(
            f"{path}.apiVersion: Invalid value: {api!r}: unsupported apiVersion {api} for KMS "
            "provider, only v1 and v2 are supported"
        )
    name = body.get("name")
    if not name or not isinstance(name, str):
        problems.append(f"{path}.name: Required value: name is a mandatory field for a provider")
        name = ""
    elif api == "v2" and ":" in name:
        problems.append(
            f"{path}.name: Invalid value: {name!r}: invalid KMS provider name {name}, "
            "must not contain ':'"
        )
    if name:
        # Upstream always rejects a duplicate that involves a v2 provider; two v1 providers of
        # one name only clash with automatic reload, which we treat as on (names must be unique).
        if name in names:
            problems.append(
                f"{path}.name: Invalid value: {name!r}: duplicate KMS provider name {name}, "
                "names must be unique"
            )
        names[name] = api
    endpoint = body.get("endpoint")
    if not endpoint or not isinstance(endpoint, str):
        problems.append(f"{path}.endpoint: Required value: endpoint is a mandatory field for a kms")
        endpoint = ""
    else:
        try:
            scheme = urlparse(endpoint).scheme
        except ValueError:
            scheme = None
            problems.append(f"{path}.endpoint: Invalid value: {endpoint!r}: invalid endpoint")
        if scheme is not None and scheme != "unix":
            problems.append(
                f"{path}.endpoint: Invalid value: {endpoint!r}: unsupported scheme {scheme!r} "
                "for KMS provider, only unix is supported"
            )
        elif scheme is not None and (why := endpoint_problem(endpoint)) is not None:
            problems.append(f"{path}.endpoint: Invalid value: {endpoint!r}: endpoint {why}")
    cachesize = body.get("cachesize")
    if cachesize is not None:
        if api == "v2":
            problems.append(
                f"{path}.cachesize: Invalid value: {cachesize}: cachesize is not supported in v2"
            )
        elif not isinstance(cachesize, int) or isinstance(cachesize, bool):
            problems.append(f"{path}.cachesize: Invalid value: {cachesize!r}: must be an integer")
        elif cachesize == 0:
            problems.append(
                f"{path}.cachesize: Invalid value: 0: cachesize should be a positive value, "
                "or negative to disable"
            )
    elif api == "v1":
        cachesize = KMS_DEFAULT_CACHESIZE
    timeout = KMS_DEFAULT_TIMEOUT
    raw_timeout = body.get("timeout")
    if raw_timeout is not None:
        try:
            timeout = parse_duration(str(raw_timeout))
        except ValueError:
            problems.append(
                f"{path}.timeout: Invalid value: {raw_timeout!r}: expected {_DURATION_HINT}"
            )
        else:
            if timeout <= 0:
                problems.append(
                    f"{path}.timeout: Invalid value: {raw_timeout!r}: timeout should be a positive value"
                )
    if len(problems) > start:
        return None
    return KMSConfig(
        name=name, endpoint=endpoint, api_version=api, cachesize=cachesize, timeout=timeout
    )


def _check_masking(resources: list[ResourceConfig], problems: list[str]) -> None:
    """A resource listed after a wildcard that already covers it can never take effect."""
    earlier: list[str] = []
    for i, rc in enumerate(resources):
        for j, r in enumerate(rc.resources):
            _resource, group = split_resource(r)
            for w in earlier:
                wres, wgroup = split_resource(w)
                if w == "*.*" or (wres == "*" and wgroup == group and w != r):
                    problems.append(
                        f"resources[{i}].resources[{j}]: Invalid value: {r!r}: resource {r!r} "
                        f"is masked by earlier rule {w!r}"
                    )
                    break
        earlier.extend(x for x in rc.resources if split_resource(x)[0] == "*")


def dumps(config: EncryptionConfiguration, fmt: str = "yaml") -> str:
    data = config.to_dict()
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
