"""The KMS plugin server: kube-apiserver's ``v2`` and ``v1beta1`` KeyManagementService over a
unix socket, in front of one :class:`~kubecrypt.kms.backends.base.Backend`.

grpcio's sync server with a small thread pool is used on purpose: on a 2-core machine it handles
about twice the RPC rate of ``grpc.aio`` or grpclib (../shared/specs/kms-plugins-deps-perf.md,
B.2). Nothing here logs plaintext, ciphertext or key material: only method, uid, key_id (public
by design), sizes and timings."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

from kubecrypt import __version__
from kubecrypt.errors import ConfigError
from kubecrypt.grpcsocket import UnixSocket, run_until_signal
from kubecrypt.kms.annotations import annotations_problem
from kubecrypt.kms.backends.base import Backend, BackendError, shown
from kubecrypt.kms.bounded import BoundedCalls, budget
from kubecrypt.kms.endpoint import socket_path
from kubecrypt.kms.metrics import Metrics
from kubecrypt.kms.proto import v1beta1_pb2, v1beta1_pb2_grpc, v2_pb2, v2_pb2_grpc

log = logging.getLogger("kubecrypt.kms")

API_VERSIONS = ("v2", "v1")
V2_VERSION = "v2"
V1_VERSION = "v1beta1"
RUNTIME_NAME = "kubecrypt"
MAX_CIPHERTEXT = 1024  # kube-apiserver rejects longer encryptedDEKSource / key_id values
DEFAULT_WORKERS = 4
ERROR_SOURCE_KEY = "kubecrypt-error-source"

R = TypeVar("R")

# Request limits, checked before the backend runs. kube-apiserver sends a 32-byte seed or DEK to
# Encrypt, and stores at most 1024 bytes of plugin ciphertext and of key_id (v2) and 32 KiB of
# annotations; a v1 value stores the plugin ciphertext behind a 2-byte length.
MAX_PLAINTEXT = 1024
MAX_V1_CIPHERTEXT = 0xFFFF
STATUS_PROBE_SIZE = 32
STARTUP_STATUS_SECONDS = 10.0
HEALTH_SECONDS = 3.0


class _Calls:
    """Runs one RPC: metrics, logging, and turning failures into gRPC status codes so a bad
    request or a backend error never takes the server down."""

    def __init__(self, backend: Backend, metrics: Metrics | None, api: str) -> None:
        self.backend = backend
        self.api = api
        self.metrics = metrics
        self._children: dict[str, tuple[Any, Any]] = {}
        if metrics is not None:
            first = "Status" if api == "v2" else "Version"
            methods = (first, "Encrypt", "Decrypt")
            for m in methods:
                self._children[m] = (
                    metrics.calls.labels(api, m), metrics.latency.labels(api, m)
                )

    def run(
        self, method: str, uid: str, context: grpc.ServicerContext, empty: R, fn: Callable[[], R]
    ) -> R:
        start = time.perf_counter()
        code: str | None = None
        uid_shown = shown(uid, 40)  # kube-apiserver sends a 36-char UUID; never echo a huge one
        try:
            return fn()
        except BackendError as exc:
            code = exc.code
            context.set_code(getattr(grpc.StatusCode, exc.code, grpc.StatusCode.INTERNAL))
            context.set_details(str(exc))
            # Lets our client tell "the plugin answered: its key store is down" from "the
            # plugin cannot be reached", which share the UNAVAILABLE code.
            context.set_trailing_metadata(((ERROR_SOURCE_KEY, "plugin"),))
            log.warning("%s %s uid=%s failed: %s: %s", self.api, method, uid_shown, exc.code, exc)
            return empty
        except Exception as exc:  # a backend bug must not kill the socket
            code = "INTERNAL"
            context.set_code(grpc.StatusCode.INTERNAL)
            context.set_details(
                f"backend {self.backend.name!r} failed unexpectedly ({type(exc).__name__}); "
                "see the plugin log"
            )
            # Only the type by default: a foreign exception's text might quote its input.
            log.error("%s %s uid=%s: backend raised %s (--log-level debug shows the traceback)",
                      self.api, method, uid_shown, type(exc).__name__)
            log.debug("traceback of the backend failure", exc_info=True)
            return empty
        finally:
            elapsed = time.perf_counter() - start
            if self.metrics is not None:
                calls, latency = self._children[method]
                calls.inc()
                latency.observe(elapsed)
                if code is not None:
                    self.metrics.errors.labels(self.api, method, code).inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s uid=%s %s in %.3f ms", self.api, method, uid_shown,
                          code or "OK", elapsed * 1000)


class BadRequest(BackendError):
    """The request itself is malformed (empty or oversized fields kube-apiserver never sends)."""

    code = "INVALID_ARGUMENT"


class BadBackendAnswer(BackendError):
    """The backend answered Encrypt with something kube-apiserver would reject."""

    code = "INTERNAL"


def _deadline(context: grpc.ServicerContext) -> float:
    """The monotonic time by which a backend call must be done to answer this RPC in time."""
    return time.monotonic() + budget(context.time_remaining())


def _check_size(field: str, value: bytes | str, limit: int, why: str) -> None:
    if len(value) > limit:
        raise BadRequest(f"{field} is {len(value)} bytes; at most {limit} are accepted ({why})")


def encrypt_answer_problem(ciphertext: bytes, key_id: str,
                           annotations: Mapping[str, bytes]) -> str | None:
    """Why kube-apiserver would reject this Encrypt answer, or None."""
    if not 0 < len(ciphertext) <= MAX_CIPHERTEXT:
        return (f"its ciphertext is {len(ciphertext)} bytes; kube-apiserver accepts "
                f"1..{MAX_CIPHERTEXT}")
    if not 0 < len(key_id.encode()) <= MAX_CIPHERTEXT:
        return f"its key_id is {len(key_id.encode())} bytes; kube-apiserver accepts 1..{MAX_CIPHERTEXT}"
    return annotations_problem(annotations)


class V2Servicer(v2_pb2_grpc.KeyManagementServiceServicer):
    def __init__(self, backend: Backend, metrics: Metrics | None = None,
                 bounded: BoundedCalls | None = None) -> None:
        self.backend = backend
        self.calls = _Calls(backend, metrics, "v2")
        self.bounded = bounded or BoundedCalls(backend.name, DEFAULT_WORKERS)
        self._last_key_id = ""
        # key_id -> why Encrypt's answers under it would be rejected ("" = they are fine).
        # Filled by Encrypt calls, and by one probe Encrypt when Status meets a new key_id.
        self._verdict: dict[str, str] = {}
        self._verdict_lock = threading.Lock()

    def _judge(self, key_id: str, ciphertext: bytes, annotations: Mapping[str, bytes]) -> str:
        problem = encrypt_answer_problem(ciphertext, key_id, annotations)
        verdict = (f"backend {self.backend.name!r} answered Encrypt with something kube-apiserver "
                   f"rejects: {problem}") if problem else ""
        with self._verdict_lock:
            if key_id not in self._verdict and len(self._verdict) > 16:
                self._verdict.clear()  # only recent key_ids matter
            self._verdict[key_id] = verdict
        return verdict

    def _encrypt_verdict(self, key_id: str, deadline: float) -> str:
        with self._verdict_lock:
            known = self._verdict.get(key_id)
        if known is not None:
            return known
        ciphertext, probe_key_id, annotations = self.bounded.call(
            lambda: self.backend.encrypt(os.urandom(STATUS_PROBE_SIZE)), deadline,
            "the Encrypt that Status uses to check a new key_id")
        return self._judge(probe_key_id, ciphertext, annotations)

    def Status(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            deadline = _deadline(context)
            try:
                key_id = self.bounded.call(self.backend.status, deadline, "Status")
                verdict = self._encrypt_verdict(key_id, deadline)
            except BackendError as exc:
                # Unhealthy is an answer, not an RPC failure: kube-apiserver shows healthz.
                log.warning("v2 Status: unhealthy: %s", exc)
                return v2_pb2.StatusResponse(version=V2_VERSION, healthz=str(exc),
                                             key_id=self._last_key_id)
            if key_id != self._last_key_id:
                if self._last_key_id:
                    log.info("key_id changed: %s -> %s", self._last_key_id, key_id)
                self._last_key_id = key_id
            if verdict:
                log.warning("v2 Status: unhealthy: %s", verdict)
            return v2_pb2.StatusResponse(version=V2_VERSION, healthz=verdict or "ok",
                                         key_id=key_id)

        return self.calls.run("Status", "", context, v2_pb2.StatusResponse(), call)

    def Encrypt(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            if not request.plaintext:
                raise BadRequest("EncryptRequest.plaintext is empty")
            _check_size("EncryptRequest.plaintext", request.plaintext, MAX_PLAINTEXT,
                        "kube-apiserver sends a 32-byte seed or DEK")
            ciphertext, key_id, annotations = self.bounded.call(
                lambda: self.backend.encrypt(request.plaintext), _deadline(context), "Encrypt")
            verdict = self._judge(key_id, ciphertext, annotations)
            if verdict:
                raise BadBackendAnswer(verdict)
            return v2_pb2.EncryptResponse(ciphertext=ciphertext, key_id=key_id,
                                          annotations=dict(annotations))

        return self.calls.run("Encrypt", request.uid, context, v2_pb2.EncryptResponse(), call)

    def Decrypt(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            if not request.ciphertext:
                raise BadRequest("DecryptRequest.ciphertext is empty")
            if not request.key_id:
                raise BadRequest("DecryptRequest.key_id is empty")
            _check_size("DecryptRequest.ciphertext", request.ciphertext, MAX_CIPHERTEXT,
                        "kube-apiserver stores no longer plugin ciphertext")
            _check_size("DecryptRequest.key_id", request.key_id.encode(), MAX_CIPHERTEXT,
                        "kube-apiserver stores no longer key_id")
            annotations = dict(request.annotations)
            problem = annotations_problem(annotations)
            if problem:
                raise BadRequest(f"DecryptRequest.annotations: {problem}")
            plaintext = self.bounded.call(
                lambda: self.backend.decrypt(request.ciphertext, request.key_id, annotations),
                _deadline(context), "Decrypt")
            return v2_pb2.DecryptResponse(plaintext=plaintext)

        return self.calls.run("Decrypt", request.uid, context, v2_pb2.DecryptResponse(), call)


class V1Servicer(v1beta1_pb2_grpc.KeyManagementServiceServicer):
    def __init__(self, backend: Backend, metrics: Metrics | None = None,
                 bounded: BoundedCalls | None = None) -> None:
        self.backend = backend
        self.calls = _Calls(backend, metrics, "v1")
        self.bounded = bounded or BoundedCalls(backend.name, DEFAULT_WORKERS)

    def Version(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            return v1beta1_pb2.VersionResponse(version=V1_VERSION, runtime_name=RUNTIME_NAME,
                                               runtime_version=__version__)

        return self.calls.run("Version", "", context, v1beta1_pb2.VersionResponse(), call)

    def Encrypt(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            if not request.plain:
                raise BadRequest("EncryptRequest.plain is empty")
            _check_size("EncryptRequest.plain", request.plain, MAX_PLAINTEXT,
                        "kube-apiserver sends a 32-byte DEK")
            cipher = self.bounded.call(lambda: self.backend.encrypt_v1(request.plain),
                                       _deadline(context), "Encrypt")
            return v1beta1_pb2.EncryptResponse(cipher=cipher)

        return self.calls.run("Encrypt", "", context, v1beta1_pb2.EncryptResponse(), call)

    def Decrypt(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            if not request.cipher:
                raise BadRequest("DecryptRequest.cipher is empty")
            _check_size("DecryptRequest.cipher", request.cipher, MAX_V1_CIPHERTEXT,
                        "a KMS v1 value stores its length in 2 bytes")
            plain = self.bounded.call(lambda: self.backend.decrypt(request.cipher, "", {}),
                                      _deadline(context), "Decrypt")
            return v1beta1_pb2.DecryptResponse(plain=plain)

        return self.calls.run("Decrypt", "", context, v1beta1_pb2.DecryptResponse(), call)


# ----------------------------------------------------------------------------- the socket


def parse_listen(listen: str) -> str:
    """The socket path of a ``unix://`` URL (``unix:///@name`` is the abstract socket ``@name``),
    read the way kube-apiserver reads a KMS ``endpoint`` (see :mod:`kubecrypt.kms.endpoint`)."""
    return socket_path(listen, "--listen")


class PluginServer:
    """One gRPC server on one unix socket, serving the selected APIs."""

    def __init__(
        self,
        backend: Backend,
        listen: str,
        apis: Iterable[str] = API_VERSIONS,
        workers: int = DEFAULT_WORKERS,
        metrics: Metrics | None = None,
    ) -> None:
        self.backend = backend
        self.listen = listen
        self.path = parse_listen(listen)
        self.apis = tuple(apis)
        unknown = [a for a in self.apis if a not in API_VERSIONS]
        if unknown or not self.apis:
            raise ConfigError(
                f"--api {','.join(self.apis)!r}: choose from v2 and v1, comma-separated"
            )
        self.metrics = metrics
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kms")
        self._server = grpc.server(pool)
        # Backend calls run on threads of their own, so hung ones never hold the gRPC workers.
        self.bounded = BoundedCalls(backend.name, workers)
        self._v2 = V2Servicer(backend, metrics, self.bounded)
        if "v2" in self.apis:
            v2_pb2_grpc.add_KeyManagementServiceServicer_to_server(self._v2, self._server)
        if "v1" in self.apis:
            v1beta1_pb2_grpc.add_KeyManagementServiceServicer_to_server(
                V1Servicer(backend, metrics, self.bounded), self._server)
        self._socket = UnixSocket(self.path, shown=listen, flag="--listen path", dir_mode=0o700,
                                  log=log)
        self._stopped = threading.Event()

    def start(self) -> None:
        self._socket.serve(self._server)
        try:
            key_id = self.bounded.call(self.backend.status,
                                       time.monotonic() + STARTUP_STATUS_SECONDS, "Status")
            self._v2._last_key_id = key_id
        except BackendError as exc:
            key_id = f"unknown ({exc})"
        log.info("serving KMS %s on %s with backend %s, current key_id %s",
                 "+".join(self.apis), self.listen, self.backend.name, key_id)

    def stop(self, grace: float = 5.0) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._socket.shutdown(self._server, grace)
        self.bounded.shutdown()
        with contextlib.suppress(Exception):
            self.backend.close()
        if self.metrics is not None:
            self.metrics.close()
        log.info("stopped")

    def health(self) -> str | None:
        """``None`` when the backend reports a key_id, else the reason (for ``/healthz``)."""
        try:
            self.bounded.call(self.backend.status, time.monotonic() + HEALTH_SECONDS, "Status")
        except BackendError as exc:
            return str(exc)
        except Exception as exc:
            return f"backend {self.backend.name!r} failed unexpectedly ({type(exc).__name__})"
        return None

    def wait(self) -> None:
        self._stopped.wait()

    def run_until_signal(self) -> None:
        """Starts, then serves until SIGTERM or SIGINT; in-flight calls get a grace period."""
        run_until_signal(self.start, self.stop, log)
