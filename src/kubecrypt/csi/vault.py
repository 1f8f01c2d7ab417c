"""The vault/openbao parameter dialect, compatible with hashicorp/vault-csi-provider and
openbao/openbao-csi-provider (``internal/config/config.go``, ``internal/provider/provider.go``):
an existing SecretProviderClass works by changing only ``spec.provider``.

Login is ``POST /v1/auth/<mount>/login {"jwt", "role"}`` with the pod's token for ``audience``
from the request's attributes, else one made by TokenRequest (15 minutes, bound to the pod).
Each object is one request (``/v1/`` + ``secretPath``, ``method``, ``secretArgs`` as JSON body),
cached per mount by (path, method); ``secretKey`` picks a key from ``data`` (KV v2's ``data.data``
first), non-strings are JSON-encoded, an empty ``secretKey`` gives the whole response as JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hvac
import hvac.adapters
import requests

from kubecrypt.csi.errors import (
    BadParameters,
    NotAuthorized,
    ObjectNotFound,
    StoreUnavailable,
)
from kubecrypt.csi.objects import Fetched, file_mode
from kubecrypt.csi.request import MountContext, PodInfo

# Prefix -> the default token audience when that prefix's keys are used.
PREFIXES = {"vault": "vault", "openbao": "openbao"}
ADDRESS_KEYS = ("vaultAddress", "openbaoAddress", "baoAddress")
OBJECT_KEYS = {"objectName", "secretPath", "secretKey", "method", "secretArgs", "encoding",
               "filePermission"}
TOKEN_SECONDS = 15 * 60
TIMEOUT = 10.0

TokenSource = Callable[[PodInfo, str], str]


@dataclass
class Settings:
    """Provider-wide defaults (flags), as vault-csi-provider's ``-vault-addr``/``-vault-mount``."""

    address: str = "https://127.0.0.1:8200"
    auth_mount: str = "kubernetes"


def is_vault_object(entry: dict[str, Any]) -> bool:
    return "secretPath" in entry or not ({"sops", "sealedSecret"} & set(entry))


def _one_of(params: dict[str, str], keys: tuple[str, ...], spc: str) -> str:
    values = {k: params[k] for k in keys if params.get(k)}
    if len(set(values.values())) > 1:
        raise BadParameters(f"{spc}: {' and '.join(sorted(values))} disagree; set only one")
    return next(iter(values.values()), "")


def _flag(params: dict[str, str], key: str, spc: str) -> bool:
    raw = params.get(key, "")
    if not raw:
        return False
    lowered = raw.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise BadParameters(f"{spc}: parameter {key}={raw!r} is not a boolean; use \"true\" or \"false\"")


@dataclass
class Connection:
    address: str
    namespace: str
    verify: bool | str
    cert: tuple[str, str] | None
    role: str
    auth_mount: str
    audience: str


def connection(ctx: MountContext, settings: Settings) -> Connection:
    p, spc = ctx.attributes, ctx.spc
    prefix = "openbao" if any(k.startswith("openbao") or k == "baoAddress" for k in p) else "vault"
    role = p.get("roleName", "")
    if not role:
        raise BadParameters(f"{spc}: parameter 'roleName' is missing; set it to the "
                            f"{prefix} Kubernetes auth role the pod logs in with")
    address = _one_of(p, ADDRESS_KEYS, spc) or settings.address
    mounts = [k for k in (f"{prefix}KubernetesMountPath", f"{prefix}AuthMountPath") if k in p]
    if len(mounts) > 1:
        raise BadParameters(f"{spc}: set {mounts[0]} or {mounts[1]}, not both")
    auth_mount = (p[mounts[0]] if mounts else "") or settings.auth_mount
    ca = p.get(f"{prefix}CACertPath") or p.get(f"{prefix}CADirectory") or ""
    verify: bool | str = ca or True
    if _flag(p, f"{prefix}SkipTLSVerify", spc):
        verify = False
    cert_path, key_path = p.get(f"{prefix}TLSClientCertPath", ""), p.get(f"{prefix}TLSClientKeyPath", "")
    if bool(cert_path) != bool(key_path):
        raise BadParameters(f"{spc}: {prefix}TLSClientCertPath and {prefix}TLSClientKeyPath go "
                            "together; set both or neither")
    if p.get(f"{prefix}TLSServerName"):
        raise BadParameters(f"{spc}: {prefix}TLSServerName is not supported by kubecrypt's "
                            "provider; use an address whose host name the server's certificate "
                            "holds")
    return Connection(address, p.get(f"{prefix}Namespace", ""), verify,
                      (cert_path, key_path) if cert_path else None,
                      role, auth_mount.strip("/"),
                      p.get("audience", "") or PREFIXES[prefix])


def _check_object(entry: dict[str, Any], spc: str) -> None:
    name = entry["objectName"]
    if not entry.get("secretPath"):
        extra = sorted(set(entry) - OBJECT_KEYS)
        hint = f" ({', '.join(extra)} {'is' if len(extra) == 1 else 'are'} not read)" if extra else ""
        raise BadParameters(f"{spc}: object {name!r} has no secretPath{hint}; add the path to read, "
                            "e.g. secretPath: secret/data/db (KV v2) with secretKey: password")
    method = str(entry.get("method") or "GET").upper()
    if method not in ("GET", "POST", "PUT"):
        raise BadParameters(f"{spc}: object {name!r}: method {method!r} is not GET, POST or PUT")
    if entry.get("secretArgs") is not None and not isinstance(entry["secretArgs"], dict):
        raise BadParameters(f"{spc}: object {name!r}: secretArgs must be a mapping (the JSON body)")
    encoding = str(entry.get("encoding") or "utf-8").lower()
    if encoding not in ("utf-8", "base64", "hex"):
        raise BadParameters(f"{spc}: object {name!r}: encoding {encoding!r} is not utf-8, base64 "
                            "or hex")


def _error_text(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = []
    return "; ".join(str(e) for e in errors)[:300] or f"HTTP {response.status_code}"


class VaultSession:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.client = hvac.Client(url=conn.address, namespace=conn.namespace or None,
                                  verify=conn.verify, cert=conn.cert, timeout=TIMEOUT,
                                  adapter=hvac.adapters.RawAdapter)

    def call(self, method: str, path: str, body: dict[str, Any] | None, what: str
             ) -> requests.Response:
        try:
            response: requests.Response = self.client.adapter.request(
                method, path, json=body, raise_exception=False)
        except requests.exceptions.SSLError:
            raise StoreUnavailable(f"{what}: TLS with {self.conn.address} failed; set "
                                   "vaultCACertPath (or openbaoCACertPath) to its CA") from None
        except requests.exceptions.RequestException as exc:
            raise StoreUnavailable(f"{what}: cannot reach {self.conn.address} "
                                   f"({type(exc).__name__}); check vaultAddress and that the "
                                   "server is up") from None
        return response

    def login(self, jwt: str, ctx: MountContext) -> None:
        pod = ctx.pod
        path = f"/v1/auth/{self.conn.auth_mount}/login"
        response = self.call("POST", path, {"jwt": jwt, "role": self.conn.role},
                             f"login to {self.conn.address}")
        if response.status_code in (400, 401, 403):
            raise NotAuthorized(
                f"{self.conn.address} refused the login of service account "
                f"{pod.namespace}/{pod.service_account} (pod {pod.name}) to role "
                f"{self.conn.role!r} at auth/{self.conn.auth_mount}: {_error_text(response)}; "
                "bind the role to this service account and namespace (and audience "
                f"{self.conn.audience!r})")
        if response.status_code == 404 or not response.ok:
            raise StoreUnavailable(f"login at {self.conn.address}/v1/auth/{self.conn.auth_mount} "
                                   f"failed: {_error_text(response)}; check "
                                   "vaultKubernetesMountPath and that the auth method is enabled")
        token = (response.json().get("auth") or {}).get("client_token")
        if not token:
            raise NotAuthorized(f"login to role {self.conn.role!r} returned no token")
        self.client.token = token
        self.client.adapter.token = token

    def read(self, entry: dict[str, Any], spc: str) -> dict[str, Any]:
        name = entry["objectName"]
        method = str(entry.get("method") or "GET").upper()
        path = "/v1/" + str(entry["secretPath"]).lstrip("/")
        response = self.call(method, path, entry.get("secretArgs"), f"object {name!r}")
        if response.status_code == 403:
            raise NotAuthorized(f"{spc}: object {name!r}: role {self.conn.role!r} may not "
                                f"{method} {entry['secretPath']}; add it to the role's policy")
        if response.status_code == 404:
            raise ObjectNotFound(f"{spc}: object {name!r}: nothing at {entry['secretPath']}; "
                                 "check secretPath (KV v2 paths read <mount>/data/<name>)")
        if not response.ok:
            raise StoreUnavailable(f"{spc}: object {name!r}: {method} {entry['secretPath']} "
                                   f"failed: {_error_text(response)}")
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get("data") is None:
            raise ObjectNotFound(f"{spc}: object {name!r}: empty response from "
                                 f"{entry['secretPath']}; check secretPath")
        return doc


def _whole(doc: dict[str, Any]) -> bytes:
    keys = ("request_id", "lease_id", "lease_duration", "renewable", "data", "warnings")
    return json.dumps({k: doc.get(k) for k in keys}, separators=(",", ":")).encode()


def _content(doc: dict[str, Any], entry: dict[str, Any], spc: str) -> bytes:
    key = entry.get("secretKey")
    if not key:
        return _whole(doc)
    root = doc["data"]
    data = root.get("data") if isinstance(root.get("data"), dict) else root
    name = entry["objectName"]
    if key not in data:
        raise ObjectNotFound(f"{spc}: object {name!r}: key {key!r} does not exist at "
                             f"{entry['secretPath']}; the keys there are "
                             f"{', '.join(sorted(map(str, data))) or 'none'}")
    value = data[key]
    raw = value.encode() if isinstance(value, str) else json.dumps(value, separators=(",", ":")).encode()
    encoding = str(entry.get("encoding") or "utf-8").lower()
    try:
        if encoding == "base64":
            return base64.b64decode(raw, validate=True)
        if encoding == "hex":
            return binascii.unhexlify(raw)
    except (binascii.Error, ValueError):
        raise BadParameters(f"{spc}: object {name!r}: the value of {key!r} is not valid "
                            f"{encoding}; fix the encoding parameter or the stored value") from None
    return raw


def fetch(ctx: MountContext, entries: list[dict[str, Any]], settings: Settings,
          token_source: TokenSource | None) -> list[Fetched]:
    spc = ctx.spc
    for entry in entries:
        _check_object(entry, spc)
    conn = connection(ctx, settings)
    token = ctx.tokens.get(conn.audience)
    if token is not None:
        jwt = token.token
    elif token_source is not None and ctx.pod.service_account:
        jwt = token_source(ctx.pod, conn.audience)
    else:
        got = ", ".join(sorted(ctx.tokens)) or "none"
        raise NotAuthorized(
            f"{spc}: no service-account token for audience {conn.audience!r} in the request "
            f"(audiences present: {got}); add {{audience: {conn.audience}}} to the CSIDriver's "
            "tokenRequests, or set 'audience' to one that is present")
    session = VaultSession(conn)
    session.login(jwt, ctx)
    cache: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[Fetched] = []
    for entry in entries:
        k = (str(entry["secretPath"]), str(entry.get("method") or "GET").upper())
        if k not in cache:
            cache[k] = session.read(entry, spc)
        content = _content(cache[k], entry, spc)
        config = {k2: entry[k2] for k2 in sorted(entry) if k2 in OBJECT_KEYS}
        out.append(Fetched(entry["objectName"], content, file_mode(entry, ctx.permission), config))
    return out

