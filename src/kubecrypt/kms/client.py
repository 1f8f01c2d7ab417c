"""The gRPC client the at-rest ``kms`` providers use: :func:`connect` gives an object satisfying
:class:`~kubecrypt.kms.service.KMSv2Service` or :class:`~kubecrypt.kms.service.KMSv1Service`.

It behaves as kube-apiserver's client does (kubernetes/apiserver:pkg/storage/value/encrypt/
envelope/kmsv2/grpc_service.go): plaintext gRPC over the unix socket with ``:authority``
``localhost``, wait-for-ready, a per-call deadline equal to the provider's ``timeout``, and a fresh
UUID ``uid`` per call. Failures become one sentence naming the socket."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

import grpc

from kubecrypt.errors import DecryptError, EncryptError, KMSUnavailable
from kubecrypt.grpcsocket import grpc_target
from kubecrypt.kms.endpoint import socket_path
from kubecrypt.kms.proto import v1beta1_pb2, v1beta1_pb2_grpc, v2_pb2, v2_pb2_grpc
from kubecrypt.kms.service import EncryptResponse, KMSv1Service, KMSv2Service, StatusResponse

DEFAULT_TIMEOUT = 3.0
ERROR_SOURCE_KEY = "kubecrypt-error-source"  # trailing metadata set by our server

# Codes meaning "could not talk to the plugin", as opposed to "the plugin said no".
_UNREACHABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNIMPLEMENTED,
}


class _Channel:
    def __init__(self, endpoint: str, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.path = socket_path(endpoint)
        # v2 sets the authority to "localhost" (grpc_service.go); harmless for v1. Reconnect
        # backoff is capped at 1 s: the plugin is local, and after it restarts the next call
        # should find it instead of waiting out gRPC's default backoff of up to 120 s.
        self.channel = grpc.insecure_channel(
            grpc_target(self.path),
            options=[
                ("grpc.default_authority", "localhost"),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
        )

    def unreachable(self, exc: grpc.RpcError, method: str) -> KMSUnavailable:
        code = exc.code()  # type: ignore[attr-defined]
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            why = f"{method} got no answer within {self.timeout:g}s"
            if not self.path.startswith("@") and not os.path.exists(self.path):
                why += " (the socket does not exist)"
        elif code == grpc.StatusCode.UNIMPLEMENTED:
            why = f"it does not implement {method} (wrong KMS apiVersion for this plugin?)"
        else:
            why = f"{method} failed with {code.name}: {exc.details()}"  # type: ignore[attr-defined]
        return KMSUnavailable(
            f"KMS plugin at {self.endpoint} is not reachable: {why}; check that "
            "`kubecrypt kms serve` (or your plugin) is running"
        )

    def fail(self, exc: grpc.RpcError, method: str, kind: type[Exception]) -> Exception:
        code = exc.code()  # type: ignore[attr-defined]
        trailers = dict(exc.trailing_metadata() or ())  # type: ignore[attr-defined]
        if trailers.get(ERROR_SOURCE_KEY) == "plugin" and code in (
                grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return KMSUnavailable(
                f"KMS plugin at {self.endpoint} cannot reach its key store: {exc.details()}; "  # type: ignore[attr-defined]
                "check the backend (HSM, Vault, ...) the plugin uses"
            )
        if code in _UNREACHABLE and trailers.get(ERROR_SOURCE_KEY) != "plugin":
            return self.unreachable(exc, method)
        return kind(f"KMS plugin at {self.endpoint} refused {method}: "
                    f"{code.name}: {exc.details()}")  # type: ignore[attr-defined]

    def call(self, rpc: Any, request: Any, method: str, kind: type[Exception]) -> Any:
        """One RPC as kube-apiserver makes it (the per-call deadline, wait-for-ready); a failure
        becomes one sentence of ``kind``."""
        try:
            return rpc(request, timeout=self.timeout, wait_for_ready=True)
        except grpc.RpcError as exc:
            raise self.fail(exc, method, kind) from None

    def close(self) -> None:
        self.channel.close()


class _Client:
    """What the v2 and v1 clients share: the endpoint they dial and closing the channel."""

    _ch: _Channel

    @property
    def endpoint(self) -> str:
        return self._ch.endpoint

    def close(self) -> None:
        self._ch.close()


class GrpcKMSv2(_Client, KMSv2Service):
    """KMS v2 over gRPC. Thread-safe; one channel (HTTP/2 connection) per instance."""

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._ch = _Channel(endpoint, timeout)
        stub = v2_pb2_grpc.KeyManagementServiceStub(self._ch.channel)
        self._status: Any = stub.Status
        self._encrypt: Any = stub.Encrypt
        self._decrypt: Any = stub.Decrypt

    def status(self) -> StatusResponse:
        r = self._ch.call(self._status, v2_pb2.StatusRequest(), "Status", KMSUnavailable)
        return StatusResponse(version=r.version, healthz=r.healthz, key_id=r.key_id)

    def encrypt(self, plaintext: bytes, uid: str | None = None) -> EncryptResponse:
        req = v2_pb2.EncryptRequest(plaintext=plaintext, uid=uid or str(uuid.uuid4()))
        r = self._ch.call(self._encrypt, req, "Encrypt", EncryptError)
        return EncryptResponse(ciphertext=r.ciphertext, key_id=r.key_id,
                               annotations=dict(r.annotations))

    def decrypt(self, ciphertext: bytes, uid: str | None = None, key_id: str = "",
                annotations: Mapping[str, bytes] | None = None) -> bytes:
        req = v2_pb2.DecryptRequest(ciphertext=ciphertext, uid=uid or str(uuid.uuid4()),
                                    key_id=key_id, annotations=dict(annotations or {}))
        r = self._ch.call(self._decrypt, req, "Decrypt", DecryptError)
        return bytes(r.plaintext)


class GrpcKMSv1(_Client, KMSv1Service):
    """KMS v1beta1 over gRPC."""

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._ch = _Channel(endpoint, timeout)
        stub = v1beta1_pb2_grpc.KeyManagementServiceStub(self._ch.channel)
        self._version: Any = stub.Version
        self._encrypt: Any = stub.Encrypt
        self._decrypt: Any = stub.Decrypt

    def version(self) -> str:
        r = self._ch.call(self._version, v1beta1_pb2.VersionRequest(version="v1beta1"),
                          "Version", KMSUnavailable)
        return str(r.version)

    def encrypt(self, plain: bytes) -> bytes:
        req = v1beta1_pb2.EncryptRequest(version="v1beta1", plain=plain)
        r = self._ch.call(self._encrypt, req, "Encrypt", EncryptError)
        return bytes(r.cipher)

    def decrypt(self, cipher: bytes) -> bytes:
        req = v1beta1_pb2.DecryptRequest(version="v1beta1", cipher=cipher)
        r = self._ch.call(self._decrypt, req, "Decrypt", DecryptError)
        return bytes(r.plain)


def dial(endpoint: str, api_version: str = "v2",
         timeout: float = DEFAULT_TIMEOUT) -> GrpcKMSv2 | GrpcKMSv1:
    """A lazily dialled client for a plugin at ``endpoint``; nothing fails here if the plugin is not
    running yet. The default ``kms_factory`` of :class:`kubecrypt.atrest.transformers.TransformerSet`
    calls it with a provider's ``endpoint``, ``apiVersion`` and ``timeout``."""
    if api_version == "v2":
        return GrpcKMSv2(endpoint, timeout)
    return GrpcKMSv1(endpoint, timeout)
