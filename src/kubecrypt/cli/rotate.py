"""``kubecrypt rotate atrest|kms|sealed|sops``: key rotation with proof. Parse, call
``kubecrypt.rotate``, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kubecrypt.cli.etcd_ops import _settings, connection_options


@click.group()
def rotate() -> None:
    """Rotate keys safely: resumable, verified workflows."""


@rotate.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="the EncryptionConfiguration the API server uses (edited in place, kept 0600)")
@click.option("--provider", type=click.Choice(["aesgcm", "aescbc", "secretbox"]), default=None,
              help="provider of the new key (default: the one that writes now)")
@click.option("--new-key-name", default=None, help="name of the new key (default key-<UTC time>)")
@click.option("--state", "state", type=click.Path(dir_okay=False), default=None,
              help="state file (default CONFIG.rotate-state.json)")
@click.option("--resume", is_flag=True, help="only resume: fail if there is no state file")
@click.option("--dry-run", is_flag=True, help="print the plan and change nothing")
@click.option("--stop-after", type=click.IntRange(1, 5), default=5,
              help="stop after this step (resume later with the same command)")
@click.option("--kubeconfig", default=None, help="kubeconfig (default $KUBECONFIG, ~/.kube/config)")
@click.option("--context", default=None, help="kubeconfig context")
@click.option("--probe-namespace", default="default", show_default=True,
              help="namespace of the short-lived probe object")
@click.option("--probe-count", default=1, show_default=True,
              help="probe this many times per check (several API servers behind one address)")
@click.option("--wait-timeout", default=120.0, show_default=True,
              help="seconds to wait for the API server to load each edit")
@click.option("--etcd-prefix", "prefix", default="/registry", show_default=True)
@connection_options
def atrest(config: str, provider: str | None, new_key_name: str | None, state: str | None,
           resume: bool, dry_run: bool, stop_after: int, kubeconfig: str | None,
           context: str | None, probe_namespace: str, probe_count: int, wait_timeout: float,
           prefix: str, **etcd_opts: Any) -> None:
    """Rotate an aesgcm/aescbc/secretbox key: add, promote, rewrite, prove, retire."""
    from kubecrypt.etcd.blocking import BlockingEtcdClient
    from kubecrypt.rotate.atrest import AtRestRotation, Options
    from kubecrypt.rotate.kubeapi import Api
    from kubecrypt.rotate.state import default_path

    cfg = Path(config)
    opts = Options(cfg, Path(state) if state else default_path(cfg), provider, new_key_name,
                   resume, stop_after, probe_namespace, probe_count, prefix, wait_timeout)
    rotation = AtRestRotation(opts, out=click.echo)
    if dry_run:
        for line in rotation.plan():
            click.echo(line)
        return
    settings = _settings(etcd_opts)
    api = Api.from_kubeconfig(kubeconfig, context)
    with BlockingEtcdClient(settings) as etcd:
        rotation.run(api, etcd)
