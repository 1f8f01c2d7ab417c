"""``kubecrypt etcd``: proof and recovery from etcd. ``decode``/``encode`` convert between a
Kubernetes object and its storage bytes; scan/get/rewrite talk to a live etcd."""

from __future__ import annotations

from typing import Any

import click

from kubecrypt.cli._io import dump_object, read_stdin_bytes, write_stdout_bytes


@click.group()
def etcd() -> None:
    """Read, prove and recover what kube-apiserver stores in etcd."""


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
    """Encode a Secret, ConfigMap, Namespace or Lease (YAML or JSON) on stdin into storage bytes,
    as kube-apiserver stores it (metadata.resourceVersion and selfLink are not stored)."""
    from kubecrypt import safeparse
    from kubecrypt.storage.codec import encode as encode_value

    text = read_stdin_bytes("a Secret, ConfigMap or Namespace in YAML or JSON")
    obj = safeparse.load_yaml(text, "stdin")
    write_stdout_bytes(encode_value(prepare_for_storage(obj)))


# kube-apiserver clears these before every write (storage.APIObjectVersioner's
# PrepareObjectForStorage): the resourceVersion is etcd's revision, never part of the value.
NOT_STORED = ("resourceVersion", "selfLink")


def prepare_for_storage(obj: Any) -> Any:
    """``obj`` as kube-apiserver writes it to etcd: without metadata.resourceVersion and
    metadata.selfLink (so ``etcd get -o yaml | etcd encode`` gives back the stored bytes)."""
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
        meta = {k: v for k, v in obj["metadata"].items() if k not in NOT_STORED}
        return {**obj, "metadata": meta}
    return obj


# scan/get/rewrite talk to a live etcd; they live in etcd_ops.py (issue 6).
from kubecrypt.cli.etcd_ops import get, rewrite, scan  # noqa: E402

for _command in (scan, get, rewrite):
    etcd.add_command(_command)
