"""Errors of the Kubernetes client: each one sentence a user can act on."""

from __future__ import annotations

from kubecrypt.errors import ConfigError, KubecryptError


class KubeConfigError(ConfigError):
    """The kubeconfig, the in-cluster service account or a connection flag is unusable."""


class KubeApiError(KubecryptError):
    """The API server answered with an error status; ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class KubeUnreachable(KubecryptError):
    """No HTTP answer at all: connection refused, DNS, TLS verification, timeout, proxy.
    Not a KubeApiError: callers that tolerate an error status must not swallow this."""


class CredentialError(KubeConfigError):
    """A credential could not be obtained (exec plugin failed, token file unreadable)."""
