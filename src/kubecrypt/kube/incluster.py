"""The in-cluster config, as client-go's ``rest.InClusterConfig``: the API server from
``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``, the service account's token (re-read
from its file, the kubelet rotates it) and CA from the service account directory.

lightkube's ``KubeConfig.from_service_account`` reads the token once and needs a namespace
file; kubectl needs neither, so this is written out here. ``KUBECRYPT_SERVICEACCOUNT_DIR``
moves the directory (tests, and sidecars that mount the token elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

from kubecrypt.kube.cluster import ClusterConfig
from kubecrypt.kube.errors import KubeConfigError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DIR_ENV = "KUBECRYPT_SERVICEACCOUNT_DIR"


def service_account_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or SERVICE_ACCOUNT_DIR)


def in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST") and
                os.environ.get("KUBERNETES_SERVICE_PORT"))


def service_account_namespace(default: str = "default") -> str:
    try:
        return (service_account_dir() / "namespace").read_text().strip() or default
    except OSError:
        return default


def in_cluster_config() -> ClusterConfig:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeConfigError("not running in a cluster (KUBERNETES_SERVICE_HOST and "
                              "KUBERNETES_SERVICE_PORT are not set); give --kubeconfig")
    sa = service_account_dir()
    token, ca = sa / "token", sa / "ca.crt"
    if not token.is_file():
        raise KubeConfigError(f"in-cluster config: the service account token {token} is "
                              "missing; mount the service account (automountServiceAccountToken)")
    try:
        ca_pem = ca.read_bytes()
    except OSError as exc:
        raise KubeConfigError(f"in-cluster config: cannot read the service account CA {ca}: "
                              f"{exc.strerror}") from None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return ClusterConfig(
        server=f"https://{host}:{port}", namespace=service_account_namespace(),
        source=f"the in-cluster service account ({sa})", ca_pem=ca_pem, token_file=token)
