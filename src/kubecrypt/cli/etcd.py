"""``kubecrypt etcd``: proof and recovery from etcd. ``decode``/``encode`` convert between a
Kubernetes object and its storage bytes; scan/get/rewrite talk to a live etcd."""

from __future__ import annotations

import json

import click

from kubecrypt.cli._io import read_stdin_bytes, write_stdout_bytes


@click.group()
def etcd() -> None:
    """Read, prove and recover what kube-apiserver stores in etcd."""


def dump_object(obj: object, fmt: str) -> str:
    """kubectl-shaped output: keys sorted, block-style YAML or indented JSON."""
    if fmt == "json":
        return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False) + "\n"
    import yaml

    return str(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True))


@etcd.command()
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
def decode(fmt: str) -> None:
    """Decode storage bytes (decrypted) on stdin into the object."""
    from kubecrypt.storage.codec import decode as decode_value

    click.echo(dump_object(decode_value(read_stdin_bytes("storage bytes")), fmt), nl=False)


@etcd.command()
def encode() -> None:
    """Encode a Secret, ConfigMap, Namespace or Lease (YAML or JSON) on stdin into storage bytes."""
    from kubecrypt import safeparse
    from kubecrypt.storage.codec import encode as encode_value

    text = read_stdin_bytes("a Secret, ConfigMap or Namespace in YAML or JSON")
    obj = safeparse.load_yaml(text, "stdin")
    write_stdout_bytes(encode_value(obj))


# scan/get/rewrite talk to a live etcd; they live in etcd_ops.py (issue 6).
from kubecrypt.cli.etcd_ops import get, rewrite, scan  # noqa: E402

for _command in (scan, get, rewrite):
    etcd.add_command(_command)
