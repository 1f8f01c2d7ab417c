"""``kubecrypt csi``: the Secrets Store CSI provider, and one mount done as the driver does it."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from kubecrypt.errors import ConfigError, KubecryptError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.group()
def csi() -> None:
    """Secrets Store CSI driver provider (vault/openbao and SOPS/SealedSecret objects)."""


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--metrics-listen {value!r} must be HOST:PORT, e.g. 127.0.0.1:9465")
    return host, int(port)


@csi.command()
@click.option("--socket", "socket_path", required=True, metavar="DIR/NAME.sock",
              help="Socket to serve on; NAME is the provider name SecretProviderClasses use in "
                   "spec.provider (the driver dials <providers dir>/<spec.provider>.sock).")
@click.option("--hmac-key-file", type=click.Path(dir_okay=False),
              help="32-byte key for object versions, created 0600 if missing (default: beside "
                   "the socket, .<NAME>-hmac.key).")
@click.option("--vault-addr", default="https://127.0.0.1:8200", show_default=True,
              help="Vault/OpenBao address when the SecretProviderClass sets none.")
@click.option("--vault-mount", default="kubernetes", show_default=True,
              help="Kubernetes auth mount when the SecretProviderClass sets none.")
@click.option("--age-identity", type=click.Path(dir_okay=False),
              help="age identity file for SOPS objects of ANY namespace.")
@click.option("--age-identity-dir", type=click.Path(file_okay=False),
              help="Directory of per-namespace age identities, <namespace>.txt.")
@click.option("--sealed-keys", type=click.Path(),
              help="Sealed Secrets private keys: a key Secret/backup file or a key directory.")
@click.option("--native-root", type=click.Path(file_okay=False),
              help="Node directory that native objects' path: may read from.")
@click.option("--kubeconfig", help="Kubeconfig for TokenRequest and ConfigMap reads "
                                   "(default: $KUBECONFIG, in-cluster, ~/.kube/config).")
@click.option("--context", help="Kubeconfig context.")
@click.option("--no-kube", is_flag=True, help="Run without Kubernetes API access.")
@click.option("--metrics-listen", metavar="HOST:PORT", help="Serve /metrics and /healthz here.")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(socket_path: str, hmac_key_file: str | None, vault_addr: str, vault_mount: str,
          age_identity: str | None, age_identity_dir: str | None, sealed_keys: str | None,
          native_root: str | None, kubeconfig: str | None, context: str | None, no_kube: bool,
          metrics_listen: str | None, workers: int, log_level: str) -> None:
    """Serve the provider on a unix socket until SIGTERM."""
    import os

    from kubecrypt.csi import native, vault
    from kubecrypt.csi.metrics import ProviderMetrics
    from kubecrypt.csi.objects import Versioner
    from kubecrypt.csi.provider import Provider
    from kubecrypt.csi.server import ProviderServer, provider_name

    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    log = logging.getLogger("kubecrypt.csi")
    name = provider_name(socket_path)
    metrics_addr = _host_port(metrics_listen) if metrics_listen else None
    key_file = hmac_key_file or os.path.join(os.path.dirname(os.path.abspath(socket_path)),
                                             f".{name}-hmac.key")
    keys = native.NativeKeys(age_identity, age_identity_dir, _sealed_keys(sealed_keys),
                             native_root)
    provider = Provider(Versioner(key_file), vault.Settings(vault_addr, vault_mount), keys)
    if not no_kube:
        from kubecrypt.csi.kubeapi import ProviderApi
        from kubecrypt.kube.client import KubeClient
        from kubecrypt.kube.config import Overrides

        try:
            api = ProviderApi(KubeClient.connect(Overrides(kubeconfig=kubeconfig, context=context)))
            provider.token_source = api.request_token
            provider.configmaps = api.configmap
        except KubecryptError as exc:
            if kubeconfig or context:
                raise
            log.warning("no Kubernetes API access (%s): no TokenRequest fallback, no ConfigMap "
                        "objects", exc)
    metrics = ProviderMetrics() if metrics_addr else None
    server = ProviderServer(provider, socket_path, workers=workers, metrics=metrics)
    if metrics is not None and metrics_addr is not None:
        try:
            port = metrics.serve(*metrics_addr, health=lambda: None)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {metrics_listen}: {exc.strerror}") from None
        log.info("metrics and healthz on http://%s:%d/", metrics_addr[0], port)
    server.run_until_signal()


def _sealed_keys(path: str | None) -> list[Any]:
    """The private keys, newest first (as the controller tries them)."""
    if not path:
        return []
    from pathlib import Path

    from kubecrypt.sealed.keys import KeyRegistry, keys_from_file
    from kubecrypt.sealed.keystore import KeyStore

    p = Path(path)
    if p.is_dir():
        found = KeyStore(p).load()
    else:
        try:
            found = keys_from_file(p.read_bytes(), str(p))
        except OSError as exc:
            raise ConfigError(f"cannot read --sealed-keys {path}: {exc.strerror}") from None
    if not found:
        raise ConfigError(f"--sealed-keys {path} holds no Sealed Secrets private key")
    return KeyRegistry(found).private_keys()


@csi.command()
@click.option("--namespace", "-n", required=True, help="The pod's namespace.")
@click.option("--pod", "pod_name", required=True, help="The pod whose volume to mount.")
@click.option("--volume", required=True, help="The pod's secrets-store.csi.k8s.io volume.")
@click.option("--target", required=True, type=click.Path(file_okay=False),
              help="Directory to write the files into (kubelet's atomic layout).")
@click.option("--providers-dir", multiple=True, metavar="DIR",
              help="Where <provider>.sock lives (repeatable; default the driver's "
                   "/var/run/secrets-store-csi-providers, /etc/kubernetes/secrets-store-csi-providers).")
@click.option("--token-audience", multiple=True, metavar="AUD",
              help="Request a pod-bound token for this audience, as the CSIDriver's "
                   "tokenRequests make kubelet do (repeatable).")
@click.option("--rotate", is_flag=True,
              help="Mount again over an existing target and report which objects changed.")
@click.option("--node", default="", help="Node name for the SecretProviderClassPodStatus label.")
@click.option("--kubeconfig", help="Kubeconfig (default: $KUBECONFIG, ~/.kube/config).")
@click.option("--context", help="Kubeconfig context.")
def mount(namespace: str, pod_name: str, volume: str, target: str, providers_dir: tuple[str, ...],
          token_audience: tuple[str, ...], rotate: bool, node: str, kubeconfig: str | None,
          context: str | None) -> None:
    """Do what the Secrets Store CSI driver does for one volume of one pod."""
    from pathlib import Path

    from kubecrypt.csi import mount as m
    from kubecrypt.kube.client import KubeClient
    from kubecrypt.kube.config import Overrides

    data = Path(target) / "..data"
    if data.is_symlink() and not rotate:
        raise ConfigError(f"{target} is already mounted; pass --rotate to mount it again")
    if rotate and not data.is_symlink():
        raise ConfigError(f"--rotate: {target} has no mount yet; mount it first without --rotate")
    with KubeClient.connect(Overrides(kubeconfig=kubeconfig, context=context)) as client:
        p = m.plan(client, namespace, pod_name, volume, str(Path(target).resolve()),
                   list(token_audience))
        sock = m.provider_socket(p.provider, list(providers_dir) or list(m.DEFAULT_PROVIDERS_DIRS))
        result = m.mount(client, p, sock, node)
    click.echo(f"mounted {len(result.files)} file(s) from provider {p.provider!r} into {target}")
    for name, version in sorted(result.versions.items()):
        mark = " (changed)" if rotate and name in result.changed else ""
        click.echo(f"  {name}  version {version[:16]}{mark}")
    for s in result.secrets_synced:
        click.echo(f"  synced Secret {namespace}/{s}")
