"""A MountRequest's string fields, read the way the driver writes them (nodeserver.go, v1.6.0):
``attributes`` is a JSON map of strings (SPC parameters overlaid by the volume context),
``secrets`` a JSON map of strings or the literal ``null``, ``permission`` the JSON of a Go
``os.FileMode`` (``"420"``). The pod's service-account tokens arrive inside ``attributes`` under
``csi.storage.k8s.io/serviceAccount.tokens`` as a JSON string ``{aud: {token, expirationTimestamp}}``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kubecrypt.csi.errors import BadParameters

POD_NAME = "csi.storage.k8s.io/pod.name"
POD_NAMESPACE = "csi.storage.k8s.io/pod.namespace"
POD_UID = "csi.storage.k8s.io/pod.uid"
SERVICE_ACCOUNT = "csi.storage.k8s.io/serviceAccount.name"
TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"
EPHEMERAL = "csi.storage.k8s.io/ephemeral"
SPC_NAME = "secretProviderClass"
DEFAULT_PERMISSION = 0o644
MAX_FIELD = 4 * 1024 * 1024


@dataclass
class Token:
    token: str
    expiration: str = ""


@dataclass
class PodInfo:
    name: str
    namespace: str
    uid: str
    service_account: str


@dataclass
class MountContext:
    attributes: dict[str, str]
    secrets: dict[str, str]
    permission: int
    target_path: str
    tokens: dict[str, Token] = field(default_factory=dict)

    @property
    def pod(self) -> PodInfo:
        a = self.attributes
        return PodInfo(a.get(POD_NAME, ""), a.get(POD_NAMESPACE, ""), a.get(POD_UID, ""),
                       a.get(SERVICE_ACCOUNT, ""))

    @property
    def spc(self) -> str:
        return self.attributes.get(SPC_NAME, "") or "the SecretProviderClass"


def _string_map(text: str, what: str, allow_null: bool) -> dict[str, str]:
    if len(text) > MAX_FIELD:
        raise BadParameters(f"MountRequest.{what} is {len(text)} bytes; at most {MAX_FIELD} "
                            "are accepted")
    if allow_null and text.strip() in ("", "null"):
        return {}
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):
        raise BadParameters(f"MountRequest.{what} is not JSON; the driver sends a JSON object of "
                            "strings") from None
    if value is None and allow_null:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadParameters(f"MountRequest.{what} must be a JSON object of strings (the SPC's "
                            "parameters are a map of strings: quote numbers and booleans, and "
                            "put lists and maps in a YAML string)")
    return value


def _permission(text: str) -> int:
    if not text.strip():
        return DEFAULT_PERMISSION
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o777:
        raise BadParameters(f"MountRequest.permission {text[:40]!r} is not a file mode: the driver "
                            "sends a decimal number 0..511, e.g. \"420\" for 0644")
    return value


def _tokens(attributes: dict[str, str]) -> dict[str, Token]:
    raw = attributes.get(TOKENS, "")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise BadParameters(f"attribute {TOKENS} is not a JSON object of audience -> "
                            "{token, expirationTimestamp}; check the CSIDriver's tokenRequests")
    out: dict[str, Token] = {}
    for audience, entry in value.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            raise BadParameters(f"attribute {TOKENS}: the entry for audience {audience!r} has no "
                                "token string")
        out[str(audience)] = Token(entry["token"], str(entry.get("expirationTimestamp", "")))
    return out


def parse(attributes: str, secrets: str, permission: str, target_path: str) -> MountContext:
    attrs = _string_map(attributes, "attributes", allow_null=False)
    return MountContext(attrs, _string_map(secrets, "secrets", allow_null=True),
                        _permission(permission), target_path, _tokens(attrs))
