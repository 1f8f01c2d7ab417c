"""Google Cloud KMS through the official ``google-cloud-kms`` client (gRPC), with sops' way of
finding credentials: ``GOOGLE_CREDENTIALS`` (a path to, or the text of, a credentials JSON),
else ``GOOGLE_OAUTH_ACCESS_TOKEN`` (a static access token), else Application Default
Credentials. ``SOPS_GCP_KMS_ENDPOINT`` (newer sops) overrides the endpoint, ``host:port``."""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any

from kubecrypt.cloud import CloudError, missing_extra

RESOURCE_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
SCOPES = ["https://www.googleapis.com/auth/cloudkms"]
CREDENTIALS_ENV = "GOOGLE_CREDENTIALS"
TOKEN_ENV = "GOOGLE_OAUTH_ACCESS_TOKEN"
ENDPOINT_ENV = "SOPS_GCP_KMS_ENDPOINT"

_clients: dict[tuple[str, str, str, str], Any] = {}
_lock = threading.Lock()

_INVALID = {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND"}
_DENIED = {"PERMISSION_DENIED", "UNAUTHENTICATED"}
_UNAVAILABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL"}


def check_resource_id(resource_id: str) -> None:
    if not RESOURCE_RE.match(resource_id):
        raise CloudError(
            f"{resource_id!r} is not a GCP KMS key name like "
            "projects/P/locations/L/keyRings/R/cryptoKeys/K.", "config")


def _credentials() -> Any:
    raw = os.environ.get(CREDENTIALS_ENV, "")
    if raw:
        import google.auth

        text = raw
        if os.path.exists(raw):
            try:
                with open(raw, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise CloudError(f"cannot read {CREDENTIALS_ENV} file {raw}: {exc.strerror}",
                                 "config") from None
        try:
            info = json.loads(text)
            creds, _ = google.auth.load_credentials_from_dict(info, scopes=SCOPES)
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise CloudError(f"{CREDENTIALS_ENV} is neither a credentials JSON file nor its "
                             f"text ({type(exc).__name__}); point it at a service-account "
                             "key file.", "config") from None
        return creds
    token = os.environ.get(TOKEN_ENV, "")
    if token:
        from google.oauth2.credentials import Credentials

        return Credentials(token=token)
    return None  # Application Default Credentials, found by the client


def client(endpoint: str | None = None) -> Any:
    """A KeyManagementServiceClient for the current credentials and endpoint, cached."""
    try:
        from google.api_core.client_options import ClientOptions
        from google.cloud import kms_v1
    except ImportError:
        raise missing_extra("google-cloud-kms", "gcp") from None
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or ""
    key = (endpoint, os.environ.get(CREDENTIALS_ENV, ""), os.environ.get(TOKEN_ENV, ""),
           os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", ""))
    with _lock:
        if key in _clients:
            return _clients[key]
    import google.auth.exceptions

    try:
        c = kms_v1.KeyManagementServiceClient(
            credentials=_credentials(),
            client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None)
    except google.auth.exceptions.DefaultCredentialsError:
        raise CloudError("no Google credentials found: set GOOGLE_CREDENTIALS, "
                         "GOOGLE_OAUTH_ACCESS_TOKEN or application default credentials.",
                         "denied") from None
    with _lock:
        _clients[key] = c
    return c


def _error(op: str, name: str, exc: Exception) -> CloudError:
    code = getattr(getattr(exc, "grpc_status_code", None), "name", "") or type(exc).__name__
    msg = getattr(exc, "message", "") or ""
    text = f"GCP KMS {op} with {name} failed: {code}" + (f" ({msg})" if msg else "")
    kind = ("invalid" if code in _INVALID else "denied" if code in _DENIED
            else "unavailable" if code in _UNAVAILABLE else "other")
    return CloudError(text, kind)


def _call(op: str, name: str, fn: Any, request: dict[str, Any], timeout: float) -> Any:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc

    try:
        return fn(request=request, timeout=timeout)
    except gexc.GoogleAPIError as exc:
        raise _error(op, name, exc) from None
    except aexc.GoogleAuthError as exc:
        raise CloudError(f"GCP KMS {op} with {name} failed: cannot get a Google access token "
                         f"({type(exc).__name__}).", "denied") from None


def encrypt(resource_id: str, plaintext: bytes, endpoint: str | None = None,
            timeout: float = 30.0) -> tuple[bytes, str]:
    """Returns (ciphertext, the name of the key version that made it)."""
    check_resource_id(resource_id)
    c = client(endpoint)
    out = _call("Encrypt", resource_id, c.encrypt,
                {"name": resource_id, "plaintext": plaintext}, timeout)
    return bytes(out.ciphertext), str(out.name)


def decrypt(resource_id: str, ciphertext: bytes, endpoint: str | None = None,
            timeout: float = 30.0) -> bytes:
    check_resource_id(resource_id)
    c = client(endpoint)
    out = _call("Decrypt", resource_id, c.decrypt,
                {"name": resource_id, "ciphertext": ciphertext}, timeout)
    return bytes(out.plaintext)
