"""``kubecrypt demo``: the whole encryption-at-rest story against a real etcd and kubectl."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Run the lab here (a new directory) [default: a temporary one].")
@click.option("--keep", is_flag=True, help="Leave the lab running afterwards.")
@click.option("--controller-key-size", type=click.IntRange(min=2048), default=4096,
              show_default=True, help="RSA key size of the Sealed Secrets controller's key.")
def demo(directory: Path | None, keep: bool, controller_key_size: int) -> None:
    """Create a Secret, see it in etcd, turn encryption on, rewrite, rotate keys, prove it."""
    from kubecrypt.lab.demo import run

    lab = run(directory, keep, click.echo, controller_key_size)
    if lab is not None:
        click.echo(f"The lab is still running: export KUBECONFIG={lab.kubeconfig}")
        click.echo(f"Stop it with: kubecrypt lab down --dir {lab.dir}")
