"""The one Kubernetes API client, on lightkube: kubeconfig (every credential kind kubectl
accepts), contexts, in-cluster config, kubectl's override flags, and the service-proxy calls to
the Sealed Secrets controller, all on one transport.

Modules, inside out: ``config`` (+ ``incluster``, ``exec``) resolve where and as whom;
``credentials`` and ``transport`` send it; ``client`` (lightkube's clients and raw calls),
``serviceproxy`` and ``dynamic`` are what callers use."""

from kubecrypt.kube.client import (
    KubeClient,
    async_lightkube_client,
    lightkube_client,
    status_message,
)
from kubecrypt.kube.config import ClusterConfig, Overrides, context_namespace, load
from kubecrypt.kube.errors import CredentialError, KubeApiError, KubeConfigError, KubeUnreachable
from kubecrypt.kube.serviceproxy import (
    DEFAULT_CONTROLLER_NAME,
    DEFAULT_CONTROLLER_NAMESPACE,
    ControllerProxy,
    fetch_cert,
)

__all__ = [
    "DEFAULT_CONTROLLER_NAME",
    "DEFAULT_CONTROLLER_NAMESPACE",
    "ClusterConfig",
    "ControllerProxy",
    "CredentialError",
    "KubeApiError",
    "KubeClient",
    "KubeConfigError",
    "KubeUnreachable",
    "Overrides",
    "async_lightkube_client",
    "context_namespace",
    "fetch_cert",
    "lightkube_client",
    "load",
    "status_message",
]
