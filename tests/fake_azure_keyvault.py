"""A FAKE of Azure Key Vault (keys only) and of the App Service managed-identity token endpoint,
on one HTTPS server at 127.0.0.1 with a test CA. It is not Microsoft's service; it speaks just
enough of the Key Vault REST API (7.x) for the official ``azure-keyvault-keys`` client:
``GET /keys/NAME[/VERSION]`` (RSA public key as JWK), ``POST .../encrypt`` and ``.../decrypt``
with ``RSA-OAEP-256`` (done with ``cryptography``), and the bearer challenge.

Like the service it answers an unauthenticated request with a 401 ``WWW-Authenticate: Bearer``
challenge; the SDK then asks the credential for a token for the challenge's resource and checks
that the vault host ends with ``.`` + that resource's host. For a vault at ``127.0.0.1:PORT``
the fake names the resource ``https://0.0.1:PORT`` so that check passes without DNS tricks.
Tokens come from ``/msi/token`` (``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``, which
DefaultAzureCredential's managed identity reads)."""

from __future__ import annotations

import base64
import json
import os
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fake_tls import TestPKI, make_pki

TOKEN = "fake-azure-token"
IDENTITY_HEADER = "fake-identity-header"
OAEP256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


@dataclass
class FakeKeyVault:
    port: int
    pki: TestPKI
    # name -> list of (version, private key); the last is the latest
    keys: dict[str, list[tuple[str, rsa.RSAPrivateKey]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def create_key(self, name: str = "") -> tuple[str, str]:
        """A new RSA-2048 key (or a new version of ``name``); returns (name, version)."""
        name = name or f"k{os.urandom(4).hex()}"
        version = uuid.uuid4().hex
        with self.lock:
            self.keys.setdefault(name, []).append(
                (version, rsa.generate_private_key(public_exponent=65537, key_size=2048)))
        return name, version

    def key_url(self, name: str, version: str = "") -> str:
        return f"{self.url}/keys/{name}" + (f"/{version}" if version else "")

    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": f"{self.url}/msi/token", "IDENTITY_HEADER": IDENTITY_HEADER,
                "REQUESTS_CA_BUNDLE": str(self.pki.ca), "AZURE_CLIENT_ID": "",
                "AZURE_TENANT_ID": "", "AZURE_CLIENT_SECRET": "", "MSI_ENDPOINT": "",
                "AZURE_FEDERATED_TOKEN_FILE": ""}

    def find(self, name: str, version: str) -> tuple[str, rsa.RSAPrivateKey] | None:
        with self.lock:
            versions = self.keys.get(name) or []
        if not versions:
            return None
        if not version:
            return versions[-1]
        return next((v for v in versions if v[0] == version), None)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKeyVault

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _err(self, status: int, code: str, message: str) -> None:
        self._send(status, {"error": {"code": code, "message": message}})

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        challenge = ('Bearer authorization="https://login.microsoftonline.com/'
                     f'00000000-0000-0000-0000-000000000000", resource="https://0.0.1:{self.fake.port}"')
        self._send(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is "
                                   "missing a Bearer or PoP token."}},
                   {"WWW-Authenticate": challenge})
        return False

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw else {}

    def _bundle(self, name: str, version: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
        pub = key.public_key().public_numbers()
        now = int(time.time())
        return {"key": {"kid": f"{self.fake.url}/keys/{name}/{version}", "kty": "RSA",
                        "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
                        "n": b64url(_int_bytes(pub.n)), "e": b64url(_int_bytes(pub.e))},
                "attributes": {"enabled": True, "created": now, "updated": now,
                               "recoveryLevel": "Recoverable+Purgeable"}}

    def do_GET(self) -> None:
        u = urlparse(self.path)
        if u.path == "/msi/token":
            if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
                self._err(400, "BadRequest", "missing identity header")
                return
            resource = (parse_qs(u.query).get("resource") or [""])[0]
            self.fake.calls.append(("token", resource))
            self._send(200, {"access_token": TOKEN, "expires_on": str(int(time.time()) + 3600),
                             "resource": resource, "token_type": "Bearer"})
            return
        if not self._authorized():
            return
        parts = u.path.strip("/").split("/")
        if len(parts) in (2, 3) and parts[0] == "keys":
            name, version = parts[1], parts[2] if len(parts) == 3 else ""
            self.fake.calls.append(("get", f"{name}/{version}"))
            found = self.fake.find(name, version)
            if found is None:
                self._err(404, "KeyNotFound", f"A key with (name/id) {name} was not found in "
                          "this key vault.")
                return
            self._send(200, self._bundle(name, found[0], found[1]))
            return
        self._err(404, "NotFound", "no such path")

    def do_POST(self) -> None:
        u = urlparse(self.path)
        body = self._body()
        if not self._authorized():
            return
        parts = u.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "keys" or parts[3] not in ("encrypt", "decrypt"):
            self._err(404, "NotFound", "no such path")
            return
        name, version, op = parts[1], parts[2], parts[3]
        self.fake.calls.append((op, f"{name}/{version}"))
        found = self.fake.find(name, version)
        if found is None:
            self._err(404, "KeyNotFound", f"A key with (name/id) {name}/{version} was not found.")
            return
        if body.get("alg") != "RSA-OAEP-256":
            self._err(400, "BadParameter", "this fake only does RSA-OAEP-256")
            return
        ver, key = found
        try:
            value = unb64url(str(body.get("value", "")))
            out = (key.public_key().encrypt(value, OAEP256) if op == "encrypt"
                   else key.decrypt(value, OAEP256))
        except ValueError:
            self._err(400, "BadParameter", "The parameter is incorrect.")
            return
        self._send(200, {"kid": f"{self.fake.url}/keys/{name}/{ver}", "value": b64url(out)})


def start(d: Path, pki: TestPKI | None = None) -> tuple[ThreadingHTTPServer, FakeKeyVault]:
    pki = pki or make_pki(d)
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.cert, pki.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    fake = FakeKeyVault(server.server_address[1], pki)
    handler.fake = fake  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, fake


@pytest.fixture(scope="session")
def fake_azure_keyvault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKeyVault]:
    server, fake = start(tmp_path_factory.mktemp("fake-azure"))
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
