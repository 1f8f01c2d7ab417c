"""``kubecrypt atrest``: EncryptionConfiguration tooling (keygen, validate, encrypt, decrypt)."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from typing import TYPE_CHECKING

import click

from kubecrypt.cli._io import read_stdin_bytes, write_stdout_bytes
from kubecrypt.errors import ConfigError

if TYPE_CHECKING:
    from kubecrypt.atrest.chain import PrefixChain

PROVIDERS = ("aesgcm", "aescbc", "secretbox")


@click.group()
def atrest() -> None:
    """Encryption at rest, byte-compatible with kube-apiserver's EncryptionConfiguration."""


@atrest.command()
@click.option("--provider", type=click.Choice(PROVIDERS), default="aesgcm", show_default=True)
@click.option("--name", default="key1", show_default=True, help="Name of the new key.")
@click.option(
    "--resources", default="secrets", show_default=True, help="Comma-separated resources."
)
@click.option("--key-only", is_flag=True, help="Print only the base64 key.")
@click.option(
    "-o",
    "--output",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write to this file (mode 0600) instead of stdout.",
)
def keygen(provider: str, name: str, resources: str, key_only: bool, out_path: str | None) -> None:
    """Print a complete EncryptionConfiguration with a fresh 32-byte key.

    The new provider writes; `identity` follows so data stored before encryption stays readable."""
    from kubecrypt.atrest.keygen import new_configuration

    key = os.urandom(32)
    if key_only:
        text = base64.b64encode(key).decode() + "\n"
    else:
        res = [r.strip() for r in resources.split(",") if r.strip()]
        text = new_configuration(provider, name, key, res)
    if out_path:
        from kubecrypt.fileio import atomic_write

        atomic_write(out_path, text.encode(), mode=0o600)
    else:
        _warn_if_stdout_readable()
        click.echo(text, nl=False)


def _warn_if_stdout_readable() -> None:
    """``keygen > file`` makes the file with the shell's umask (often 0644): say so, since the
    key in it is then readable by others; only ``-o FILE`` writes 0600."""
    try:
        st = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return
    if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
        click.echo(
            f"warning: stdout is a file that group or others can read (mode "
            f"{stat.S_IMODE(st.st_mode):04o}), and it now holds a key; run chmod 600 on it, "
            "or use -o FILE, which writes 0600",
            err=True,
        )


@atrest.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Check FILE as kube-apiserver would; print every problem with its field path."""
    from kubecrypt.atrest.config import load_file

    try:
        cfg = load_file(file)
    except ConfigError as exc:
        if not exc.problems:
            raise
        click.echo(f"{file}: invalid EncryptionConfiguration:", err=True)
        for p in exc.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(1)
    for w in cfg.warnings:
        click.echo(f"warning: {w}", err=True)
    n = sum(len(rc.providers) for rc in cfg.resources)
    click.echo(f"{file}: valid ({len(cfg.resources)} resource entries, {n} providers)")


def _chain(config: str, resource: str) -> PrefixChain:
    from kubecrypt.atrest.config import load_file
    from kubecrypt.atrest.transformers import TransformerSet

    return TransformerSet(load_file(config)).for_resource(resource)


_config_opt = click.option(
    "--config",
    required=True,
    type=click.Path(dir_okay=False),
    help="The EncryptionConfiguration file.",
)
_key_opt = click.option(
    "--etcd-key",
    required=True,
    help="Full etcd key, e.g. /registry/secrets/default/db (authenticated data).",
)
_resource_opt = click.option(
    "--resource",
    default="secrets",
    show_default=True,
    help="Resource whose providers apply: secrets, configmaps, deployments.apps, ...",
)


@atrest.command()
@_config_opt
@_key_opt
@_resource_opt
def encrypt(config: str, etcd_key: str, resource: str) -> None:
    """Encrypt plaintext storage bytes on stdin; print the value kube-apiserver would store."""
    data = read_stdin_bytes("plaintext storage bytes")
    chain = _chain(config, resource)
    try:
        out = chain.encrypt(data, etcd_key.encode())
    finally:
        chain.close()
    write_stdout_bytes(out)


@atrest.command()
@_config_opt
@_key_opt
@_resource_opt
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON object with plaintext_b64, stale, provider, key.",
)
def decrypt(config: str, etcd_key: str, resource: str, as_json: bool) -> None:
    """Decrypt a stored value on stdin, as kube-apiserver reads it."""
    from kubecrypt.errors import DecryptError

    data = read_stdin_bytes("stored bytes")
    chain = _chain(config, resource)
    try:
        result = chain.decrypt(data, etcd_key.encode())
    except DecryptError as exc:
        raise DecryptError(f"cannot decrypt the value for {etcd_key}: {exc}") from None
    finally:
        chain.close()
    if as_json:
        doc = {
            "plaintext_b64": base64.b64encode(result.plaintext).decode(),
            "stale": result.stale,
            "provider": result.provider,
            "key": result.key,
        }
        if result.key_id is not None:
            doc["key_id"] = result.key_id
        click.echo(json.dumps(doc))
    else:
        write_stdout_bytes(result.plaintext)
