"""One resolved connection to an API server (client-go's ``rest.Config``): what ``config``
resolves from a kubeconfig and ``incluster`` from the pod's service account, and what the
transport and credentials use. Its own module so that both resolvers import it, not each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubecrypt.kube.exec import ExecConfig

DEFAULT_TIMEOUT = 30.0


@dataclass
class ClusterConfig:
    """One resolved connection: client-go's ``rest.Config``."""

    server: str
    namespace: str = "default"
    context_name: str = ""
    user_name: str = ""
    source: str = ""
    """Where this came from, for messages: ``kubeconfig /x/config`` or ``in-cluster ...``."""
    ca_pem: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    disable_compression: bool = False
    token: str | None = None
    token_file: Path | None = None
    username: str | None = None
    password: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    exec: ExecConfig | None = None
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    impersonate_uid: str | None = None
    impersonate_extra: dict[str, list[str]] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def who(self) -> str:
        """``user "u" of context "c"`` (or the in-cluster service account), for messages."""
        if self.user_name or self.context_name:
            return f'user "{self.user_name}" of context "{self.context_name}"'
        return self.source or "the configured user"

    @property
    def has_credentials(self) -> bool:
        return bool(self.token or self.token_file or self.exec or self.username is not None
                    or self.client_cert_pem)


# --- kubeconfig files ------------------------------------------------------------------------
