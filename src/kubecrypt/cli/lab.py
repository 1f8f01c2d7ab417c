"""``kubecrypt lab up|down|status|serve``: the local Kubernetes-API lab on etcd."""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from pathlib import Path

import click

from kubecrypt.lab import up as lab_up
from kubecrypt.lab.up import ENCRYPTIONS, LabError

_DIR = click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
                    default=None, help="Where the lab keeps its data, logs, PKI and kubeconfig "
                    "[default: $XDG_STATE_HOME/kubecrypt/lab].")


@click.group()
def lab() -> None:
    """A local Kubernetes API server on etcd, for the guides' kubectl and etcdctl commands."""


@lab.command()
@_DIR
@click.option("--encryption", type=click.Choice(ENCRYPTIONS), default=None,
              help="Encrypt Secrets at rest with a freshly generated key of this provider "
                   "(earlier providers stay readable) [first start: none].")
@click.option("--encryption-provider-config", type=click.Path(path_type=Path, dir_okay=False,
              exists=True), default=None, help="Use this EncryptionConfiguration file instead.")
@click.option("--etcd-endpoints", default=None,
              help="Use an existing etcd (comma-separated http://host:port) instead of "
                   "starting one.")
@click.option("--sealed-secrets/--no-sealed-secrets", default=True, show_default=True,
              help="Also run the Sealed Secrets controller (kubecrypt sealed controller).")
@click.option("--kms-backend", default=None,
              help="With --encryption kms: the plugin's backend (aws, vault, pkcs11, ...) "
                   "instead of a local keyring; needs --kms-backend-config.")
@click.option("--kms-backend-config", type=click.Path(path_type=Path, dir_okay=False,
              exists=True), default=None, help="YAML/JSON options of --kms-backend.")
def up(directory: Path | None, encryption: str | None, encryption_provider_config: Path | None,
       etcd_endpoints: str | None, sealed_secrets: bool, kms_backend: str | None,
       kms_backend_config: Path | None) -> None:
    """Start etcd and the lab API server (or restart the API server with new encryption)."""
    if encryption and encryption_provider_config:
        raise click.UsageError("give --encryption or --encryption-provider-config, not both")
    if (kms_backend is None) != (kms_backend_config is None):
        raise click.UsageError("give --kms-backend and --kms-backend-config together")
    if kms_backend and encryption != "kms":
        raise click.UsageError("--kms-backend needs --encryption kms")
    directory = directory or lab_up.default_dir()
    endpoints = [e.strip() for e in etcd_endpoints.split(",")] if etcd_endpoints else None
    info = lab_up.up(directory, encryption, encryption_provider_config, endpoints,
                     sealed_secrets, (kms_backend, kms_backend_config)
                     if kms_backend and kms_backend_config else None)
    click.echo(f"etcd       {','.join(info.etcd_endpoints)}"
               + (f" (pid {info.etcd.pid})" if info.etcd else " (external)"))
    assert info.apiserver is not None
    click.echo(f"apiserver  {info.server} (pid {info.apiserver.pid}), encryption: "
               f"{info.encryption}" + (f" ({info.encryption_config})"
                                       if info.encryption_config else ""))
    if "sealed-secrets" in info.extra:
        click.echo(f"sealed-secrets controller (pid {info.extra['sealed-secrets'].pid}): "
                   "kubecrypt seal --fetch-cert")
    click.echo("")
    # Absolute, so the line works from any directory it is pasted into.
    click.echo(f"export KUBECONFIG={Path(info.kubeconfig).resolve()}")
    click.echo("kubectl create secret generic demo --from-literal=password=s3cr3t")
    click.echo(f"ETCDCTL_API=3 etcdctl --endpoints={info.etcd_endpoints[0]} "
               "get /registry/secrets/default/demo | hexdump -C")


@lab.command()
@_DIR
@click.option("--purge", is_flag=True, help="Also delete etcd's data, the PKI and the keys.")
def down(directory: Path | None, purge: bool) -> None:
    """Stop exactly the processes `lab up` started; keep the data unless --purge."""
    directory = directory or lab_up.default_dir()
    stopped = lab_up.down(directory, purge)
    click.echo("stopped " + ", ".join(stopped) if stopped else "nothing was running")
    if purge:
        click.echo(f"purged {directory}")


@lab.command()
@_DIR
@click.option("-o", "--output", type=click.Choice(["text", "json", "env"]), default="text",
              help="env: `export KUBECONFIG=... ETCDCTL_ENDPOINTS=...` for "
                   "`eval \"$(kubecrypt lab status -o env)\"` (kubectl, etcdctl and "
                   "`kubecrypt etcd` then reach the lab).")
def status(directory: Path | None, output: str) -> None:
    """Show whether the lab is up, where, and with which encryption."""
    info = lab_up.status(directory or lab_up.default_dir())
    if output == "env":
        if info["state"] != "up":
            click.echo(f"error: the lab in {info['dir']} is not up; start it with "
                       f"`kubecrypt lab up --dir {info['dir']}`", err=True)
            raise SystemExit(3)
        kubeconfig = Path(info["kubeconfig"]).resolve()
        click.echo(f"export KUBECONFIG={shlex.quote(str(kubeconfig))}")
        click.echo("export ETCDCTL_ENDPOINTS="
                   + shlex.quote(",".join(info["etcd"]["endpoints"])))
        return
    if output == "json":
        click.echo(json.dumps(info, indent=2))
        if info["state"] != "up":
            raise SystemExit(3)
        return
    click.echo(f"lab: {info['state']} ({info['dir']})")
    if info["state"] == "absent":
        raise SystemExit(3)
    etcd = info["etcd"]
    click.echo(f"etcd:       {'running' if etcd['running'] else 'stopped'} "
               f"{','.join(etcd['endpoints'])}" + (f" pid {etcd['pid']}" if etcd.get("pid") else ""))
    api = info["apiserver"]
    click.echo(f"apiserver:  {'running' if api['running'] else 'stopped'} {api['server'] or ''}"
               + (f" pid {api['pid']}" if api["pid"] else ""))
    for name, proc in info.get("extra", {}).items():
        click.echo(f"{name + ':':<11} {'running' if proc['running'] else 'stopped'} "
                   f"pid {proc['pid']}")
    click.echo(f"encryption: {info['encryption']}")
    click.echo(f"kubeconfig: {info['kubeconfig']}")
    if info["state"] != "up":
        raise SystemExit(3)


@lab.command(hidden=False)
@click.option("--etcd-servers", required=True, help="Comma-separated etcd client URLs.")
@click.option("--secure-port", type=int, default=6443, show_default=True)
@click.option("--bind-address", default="127.0.0.1", show_default=True)
@click.option("--tls-cert-file", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--tls-private-key-file", type=click.Path(path_type=Path, exists=True),
              required=True)
@click.option("--token-auth-file", type=click.Path(path_type=Path, exists=True), required=True,
              help="kube-apiserver's static token file: token,user,uid[,\"groups\"] per line.")
@click.option("--encryption-provider-config", type=click.Path(path_type=Path, exists=True),
              default=None, help="EncryptionConfiguration; reloaded when the file changes.")
@click.option("--client-ca-file", type=click.Path(path_type=Path, exists=True), default=None,
              help="Accept client certificates signed by this CA (x509 authentication).")
def serve(etcd_servers: str, secure_port: int, bind_address: str, tls_cert_file: Path,
          tls_private_key_file: Path, token_auth_file: Path,
          encryption_provider_config: Path | None, client_ca_file: Path | None) -> None:
    """Run the lab API server in the foreground (kube-apiserver's flag names)."""
    from kubecrypt.lab.apiserver.server import ServerConfig, run
    from kubecrypt.logsafe import EscapingFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    lines = [ln for ln in token_auth_file.read_text().splitlines() if ln.strip()]
    if not lines:
        raise LabError(f"{token_auth_file} has no token; add a line token,user,uid")
    config = ServerConfig([e.strip() for e in etcd_servers.split(",")],
                          lines[0].split(",")[0].strip(), tls_cert_file, tls_private_key_file,
                          bind_address, secure_port, encryption_provider_config, client_ca_file)
    asyncio.run(run(config))
