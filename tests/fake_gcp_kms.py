"""A FAKE of Google Cloud KMS: the real ``google.cloud.kms.v1.KeyManagementService`` gRPC
service (messages from the official ``google-cloud-kms`` package), only ``Encrypt`` and
``Decrypt``, served over TLS on 127.0.0.1 with a test CA. It is not Google's service: keys are
random AES-256-GCM keys held in memory and the ciphertext layout is the fake's own.

What it checks like the real service: the bearer token (``UNAUTHENTICATED`` otherwise), the key
name (``NOT_FOUND`` for an unknown key), and that a ciphertext is decrypted with the key that
made it (``INVALID_ARGUMENT`` otherwise, as Cloud KMS answers). Encrypt answers with the
primary version's name, as Cloud KMS does."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fake_tls import TestPKI, make_pki
from google.cloud import kms_v1

SERVICE = "google.cloud.kms.v1.KeyManagementService"
TOKEN = "fake-gcp-token"


@dataclass
class FakeGCPKMS:
    port: int
    pki: TestPKI
    keys: dict[str, bytes] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def create_key(self, name: str = "") -> str:
        name = name or f"projects/test/locations/global/keyRings/ring/cryptoKeys/k{os.urandom(4).hex()}"
        with self.lock:
            self.keys[name] = AESGCM.generate_key(256)
        return name

    def env(self) -> dict[str, str]:
        """What a client needs to reach the fake: endpoint, trust in the test CA, a token."""
        return {"SOPS_GCP_KMS_ENDPOINT": self.endpoint, "GOOGLE_OAUTH_ACCESS_TOKEN": TOKEN,
                "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(self.pki.ca)}

    # -- the service ----------------------------------------------------------------------------

    def _auth(self, ctx: grpc.ServicerContext) -> None:
        md = dict(ctx.invocation_metadata())
        if md.get("authorization") != f"Bearer {TOKEN}":
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "Request had invalid authentication "
                      "credentials.")

    def _key(self, name: str, ctx: grpc.ServicerContext) -> bytes:
        with self.lock:
            k = self.keys.get(name)
        if k is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, f"CryptoKey {name} not found.")
        return k  # type: ignore[return-value]

    def encrypt(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        self._auth(ctx)
        self.calls.append(("Encrypt", req.name))
        key = self._key(req.name, ctx)
        nonce = os.urandom(12)
        ct = b"\x01" + nonce + AESGCM(key).encrypt(nonce, bytes(req.plaintext), req.name.encode())
        return kms_v1.EncryptResponse(name=req.name + "/cryptoKeyVersions/1", ciphertext=ct)

    def decrypt(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        self._auth(ctx)
        self.calls.append(("Decrypt", req.name))
        key = self._key(req.name, ctx)
        ct = bytes(req.ciphertext)
        try:
            if ct[:1] != b"\x01" or len(ct) < 29:
                raise InvalidTag
            pt = AESGCM(key).decrypt(ct[1:13], ct[13:], req.name.encode())
        except InvalidTag:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "Decryption failed: the ciphertext is "
                      "invalid.")
        return kms_v1.DecryptResponse(plaintext=pt)


def _handler(fake: FakeGCPKMS) -> grpc.GenericRpcHandler:
    def method(fn: Any, req: Any, resp: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=req.deserialize, response_serializer=resp.serialize)

    return grpc.method_handlers_generic_handler(SERVICE, {
        "Encrypt": method(fake.encrypt, kms_v1.EncryptRequest, kms_v1.EncryptResponse),
        "Decrypt": method(fake.decrypt, kms_v1.DecryptRequest, kms_v1.DecryptResponse),
    })


def start(d: Path, pki: TestPKI | None = None) -> tuple[grpc.Server, FakeGCPKMS]:
    pki = pki or make_pki(d)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    creds = grpc.ssl_server_credentials([(pki.key.read_bytes(), pki.cert.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", creds)
    fake = FakeGCPKMS(port, pki)
    server.add_generic_rpc_handlers((_handler(fake),))
    server.start()
    return server, fake


@pytest.fixture(scope="session")
def fake_gcp_kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCPKMS]:
    server, fake = start(tmp_path_factory.mktemp("fake-gcp"))
    try:
        yield fake
    finally:
        server.stop(grace=None)
