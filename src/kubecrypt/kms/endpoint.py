"""The one parser of KMS ``unix://`` endpoints, used by the plugin server (``--listen``), the
client, ``kms status`` and EncryptionConfiguration validation.

kube-apiserver takes the URL's path (``unix:///var/run/kms.sock`` -> ``/var/run/kms.sock``;
``unix:///@name`` is the Linux abstract socket ``@name``) and silently ignores a host part, so
``unix://lab/kms.sock`` dials ``/kms.sock``. That is never what was meant (the writer thought of a
relative path), so every kubecrypt reader refuses it instead of binding or dialing ``/kms.sock``.

It lives in ``kms/`` because the plugin server, the gRPC client and the EncryptionConfiguration
loader all parse the same URLs; ``atrest`` imports it from here, never the other way round."""

from __future__ import annotations

from urllib.parse import urlsplit

from kubecrypt.errors import ConfigError

SCHEME = "unix"


def endpoint_problem(endpoint: str) -> str | None:
    """Why ``endpoint`` is not a usable KMS endpoint (a phrase to follow the value), or ``None``."""
    if not endpoint:
        return "is empty; use unix:///absolute/path.sock"
    try:
        u = urlsplit(endpoint)
    except ValueError:
        return "is not a URL; use unix:///absolute/path.sock"
    if u.scheme != SCHEME:
        return (f"has unsupported scheme {u.scheme!r}, only unix is supported; "
                "use unix:///absolute/path.sock")
    if u.netloc:
        return (f"has a host part {u.netloc!r}, which kube-apiserver ignores (it would use "
                f"{u.path or '/'!r}); write the absolute path after three slashes, "
                f"e.g. unix:///abs/{u.netloc}{u.path}")
    if not u.path.startswith("/") or u.path in ("/", "/@"):
        return "names no socket path; use unix:///absolute/path.sock (or unix:///@name)"
    if u.query or u.fragment:
        return "has a query or fragment; use unix:///absolute/path.sock"
    return None


def socket_path(endpoint: str, what: str = "endpoint") -> str:
    """The socket path of ``endpoint``; ``@name`` for an abstract socket. ``what`` names the
    setting in the error (``--listen``, ``endpoint``...)."""
    problem = endpoint_problem(endpoint)
    if problem is not None:
        raise ConfigError(f"KMS {what} {_short(endpoint)!r} {problem}")
    path = urlsplit(endpoint).path
    return path[1:] if path.startswith("/@") else path


def _short(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
