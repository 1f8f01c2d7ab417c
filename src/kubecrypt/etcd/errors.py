"""Errors of the etcd client: each names the endpoint or key, and what to do about it."""

from __future__ import annotations

from kubecrypt.errors import KubecryptError


class EtcdError(KubecryptError):
    """Base class for etcd failures."""


class EtcdUnavailable(EtcdError):
    """etcd could not be reached (refused, timed out, TLS handshake failed)."""


class EtcdAuthError(EtcdError):
    """etcd rejected the user name or password, or the user lacks permission."""


class EtcdTLSConfigError(EtcdError):
    """A --cacert, --cert or --key file is missing or not PEM."""


class KeyNotFound(EtcdError):
    """The requested key does not exist in etcd."""
