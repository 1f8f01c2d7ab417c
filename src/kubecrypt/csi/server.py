"""``kubecrypt csi serve``: the provider's gRPC server on ``<dir>/<provider>.sock``.

Socket handling is the KMS plugin's (:mod:`kubecrypt.grpcsocket`): created 0600 under a tight
umask, a stale socket (nobody answering) replaced, a live one refused, removed on SIGTERM only
if it is still ours. A failed mount answers a gRPC error whose message names the object and the
fix (the driver quotes it in the pod's events) and never takes the server down."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from kubecrypt import __version__
from kubecrypt.csi.errors import MountError
from kubecrypt.csi.metrics import ProviderMetrics
from kubecrypt.csi.proto import v1alpha1_pb2, v1alpha1_pb2_grpc
from kubecrypt.csi.provider import Provider
from kubecrypt.errors import ConfigError
from kubecrypt.grpcsocket import UnixSocket, run_until_signal

log = logging.getLogger("kubecrypt.csi")

API_VERSION = "v1alpha1"
RUNTIME_NAME = "kubecrypt"
PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9_-]{0,30}$")  # the driver's check on spec.provider
CODE_KEY = "kubecrypt-error-code"
MAX_MESSAGE = 4 * 1024 * 1024
DEFAULT_WORKERS = 4


def provider_name(socket_path: str) -> str:
    """The provider name a SecretProviderClass must use to reach this socket."""
    base = os.path.basename(socket_path)
    if not base.endswith(".sock"):
        raise ConfigError(f"--socket {socket_path!r} must end in <provider>.sock: the driver dials "
                          "<providers dir>/<spec.provider>.sock")
    name = base[: -len(".sock")]
    if not name or not PROVIDER_NAME.match(name):
        raise ConfigError(f"--socket {socket_path!r}: provider name {name!r} would be refused by "
                          "the driver (it allows 1-30 letters, digits, '_' and '-'); rename the "
                          "socket, e.g. kubecrypt.sock")
    return name


def semver(version: str) -> str:
    m = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", version)
    return f"{m.group(1)}.{m.group(2)}.{m.group(3) or 0}" if m else "0.0.0"


class Servicer(v1alpha1_pb2_grpc.CSIDriverProviderServicer):
    def __init__(self, provider: Provider, metrics: ProviderMetrics | None = None) -> None:
        self.provider = provider
        self.metrics = metrics

    def _observe(self, method: str, start: float, code: str | None) -> None:
        if self.metrics is None:
            return
        self.metrics.rpcs.labels(method).inc()
        self.metrics.duration.labels(method).observe(time.perf_counter() - start)
        if code:
            self.metrics.failures.labels(method, code).inc()

    def Version(self, request: Any, context: grpc.ServicerContext) -> Any:
        start = time.perf_counter()
        self._observe("Version", start, None)
        return v1alpha1_pb2.VersionResponse(version=API_VERSION, runtime_name=RUNTIME_NAME,
                                            runtime_version=semver(__version__))

    def Mount(self, request: Any, context: grpc.ServicerContext) -> Any:
        start = time.perf_counter()
        code: str | None = None
        try:
            mounted = self.provider.mount(request.attributes, request.secrets,
                                          request.permission, request.target_path)
            log.info("mounted %d object(s) for %s: %s", len(mounted.files),
                     _who(request.attributes), ", ".join(f.name for f in mounted.files))
            return v1alpha1_pb2.MountResponse(
                files=[v1alpha1_pb2.File(path=f.name, mode=f.mode, contents=f.contents)
                       for f in mounted.files],
                object_version=[v1alpha1_pb2.ObjectVersion(id=i, version=v)
                                for i, v in mounted.versions])
        except MountError as exc:
            code = exc.code
            log.warning("mount for %s failed: %s: %s", _who(request.attributes), code, exc)
            context.set_trailing_metadata(((CODE_KEY, code),))
            context.abort(getattr(grpc.StatusCode, exc.grpc_code), f"{code}: {exc}")
        except Exception as exc:  # a bug must answer an error, not kill the server
            code = "Internal"
            log.error("mount for %s: unexpected %s (--log-level debug shows the traceback)",
                      _who(request.attributes), type(exc).__name__)
            log.debug("traceback", exc_info=True)
            context.set_trailing_metadata(((CODE_KEY, code),))
            context.abort(grpc.StatusCode.INTERNAL,
                          f"Internal: the provider failed unexpectedly ({type(exc).__name__}); "
                          "see its log")
        finally:
            self._observe("Mount", start, code)
        raise AssertionError("unreachable")  # pragma: no cover - abort raises


def _who(attributes: str) -> str:
    import json

    try:
        a = json.loads(attributes)
        return f"pod {a.get('csi.storage.k8s.io/pod.namespace')}/{a.get('csi.storage.k8s.io/pod.name')}"
    except Exception:
        return "a request with unreadable attributes"


class ProviderServer:
    def __init__(self, provider: Provider, socket_path: str, workers: int = DEFAULT_WORKERS,
                 metrics: ProviderMetrics | None = None) -> None:
        self.path = os.path.abspath(socket_path)
        self.name = provider_name(self.path)
        self.metrics = metrics
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csi"),
            options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                     ("grpc.max_send_message_length", MAX_MESSAGE)])
        v1alpha1_pb2_grpc.add_CSIDriverProviderServicer_to_server(
            Servicer(provider, metrics), self._server)
        self._socket = UnixSocket(self.path, shown=self.path, flag="--socket", dir_mode=0o755,
                                  log=log)
        self._stopped = threading.Event()

    def start(self) -> None:
        self._socket.serve(self._server)
        log.info("serving the Secrets Store CSI provider %r on %s (SecretProviderClass "
                 "spec.provider: %s)", self.name, self.path, self.name)

    def stop(self, grace: float = 5.0) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._socket.shutdown(self._server, grace)
        if self.metrics is not None:
            self.metrics.close()
        log.info("stopped")

    def run_until_signal(self) -> None:
        run_until_signal(self.start, self.stop, log)
