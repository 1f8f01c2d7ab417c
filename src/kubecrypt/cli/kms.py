"""``kubecrypt kms``: the KMS plugin server, its local keyring, and envelope encryption of files
through any running plugin. Thin: parse, call, print."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kubecrypt.errors import ConfigError, InputError
from kubecrypt.fileio import atomic_write

if TYPE_CHECKING:
    from kubecrypt.kms.client import GrpcKMSv1, GrpcKMSv2

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.group()
def kms() -> None:
    """KMS plugin for kube-apiserver (KMS v2 and v1) and envelope encryption through it."""


# ----------------------------------------------------------------------------- serve


def _parse_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--metrics-listen {value!r} must be HOST:PORT, e.g. 127.0.0.1:9464")
    return host, int(port)


@kms.command()
@click.option("--listen", required=True, metavar="unix:///PATH",
              help="Socket to serve on, e.g. unix:///var/run/kmsplugin/socket.sock "
                   "(unix:///@name for an abstract socket).")
@click.option("--backend", "backend_name", required=True, metavar="NAME",
              help="local, pkcs11, vault, an entry point in kubecrypt.kms_backends, "
                   "or module.path:ClassName.")
@click.option("--backend-config", type=click.Path(dir_okay=False), metavar="FILE",
              help="YAML or JSON mapping passed to the backend as keyword arguments.")
@click.option("--api", default="v2,v1", show_default=True, metavar="v2,v1",
              help="KMS APIs to serve on the socket.")
@click.option("--metrics-listen", metavar="HOST:PORT",
              help="Serve Prometheus /metrics and /healthz here.")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64),
              help="gRPC worker threads.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(listen: str, backend_name: str, backend_config: str | None, api: str,
          metrics_listen: str | None, workers: int, log_level: str) -> None:
    """Serve the KMS plugin gRPC APIs on a unix socket until SIGTERM."""
    from kubecrypt.kms import backends
    from kubecrypt.kms.endpoint import socket_path
    from kubecrypt.kms.metrics import Metrics
    from kubecrypt.kms.server import PluginServer

    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    socket_path(listen, "--listen")  # before the backend starts: a bad URL needs no HSM login
    apis = [a.strip() for a in api.split(",") if a.strip()]
    metrics_addr = _parse_host_port(metrics_listen) if metrics_listen else None
    backend = backends.create(backend_name, backends.load_config(backend_config))
    metrics = Metrics() if metrics_addr else None
    try:
        server = PluginServer(backend, listen, apis=apis, workers=workers, metrics=metrics)
        if metrics is not None and metrics_addr is not None:
            try:
                port = metrics.serve(*metrics_addr, health=server.health)
            except OSError as exc:
                raise ConfigError(
                    f"cannot serve metrics on {metrics_listen}: {exc.strerror}"
                ) from None
            logging.getLogger("kubecrypt.kms").info(
                "metrics and healthz on http://%s:%d/", metrics_addr[0], port)
    except BaseException:
        backend.close()
        raise
    server.run_until_signal()


# ----------------------------------------------------------------------------- keyring


@kms.group()
def keyring() -> None:
    """The local backend's keyring file (key-encryption keys, mode 0600)."""


_file_option = click.option("--file", "path", required=True, type=click.Path(dir_okay=False),
                            help="Keyring file.")


@keyring.command("init")
@_file_option
def keyring_init(path: str) -> None:
    """Create a keyring with one fresh primary key."""
    from kubecrypt.kms import keyring as kr

    ring = kr.init(path)
    click.echo(f"created keyring {path} with primary key_id {ring.primary}")


@keyring.command("rotate")
@_file_option
def keyring_rotate(path: str) -> None:
    """Add a new primary key; old keys keep decrypting."""
    from kubecrypt.kms import keyring as kr

    ring = kr.rotate(path)
    click.echo(f"rotated keyring {path}: new primary key_id {ring.primary} "
               f"({len(ring.keys)} keys)")


@keyring.command("list")
@_file_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def keyring_list(path: str, output: str) -> None:
    """List key ids (never the secrets)."""
    from kubecrypt.kms import keyring as kr

    ring, _ = kr.load(path)
    rows = [{"id": k.id, "created": k.created, "primary": k.id == ring.primary} for k in ring.keys]
    if output == "json":
        click.echo(json.dumps({"primary": ring.primary, "keys": rows}, indent=2))
        return
    for r in rows:
        click.echo(f"{'*' if r['primary'] else ' '} {r['id']}  {r['created']}")


# ----------------------------------------------------------------------------- envelope


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _write_output(path: str | None, data: bytes) -> None:
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        # Envelope output may be plaintext (``kms decrypt -o``): a new file is 0600.
        atomic_write(path, data, new_mode=0o600)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _envelope_options(fn):  # type: ignore[no-untyped-def]
    fn = click.argument("input_path", metavar="[FILE]", default="-")(fn)
    fn = click.option("-o", "--output", metavar="FILE", help="Output file (default stdout).")(fn)
    fn = click.option("--context", default="", metavar="TEXT",
                      help="Associated data bound to the ciphertext; give it again to decrypt.")(fn)
    fn = click.option("--timeout", default=3.0, show_default=True, type=float,
                      help="Seconds to wait for the plugin per call.")(fn)
    fn = click.option("--api", default="v2", show_default=True, type=click.Choice(["v2", "v1"]),
                      help="KMS API to use.")(fn)
    fn = click.option("--listen", required=True, metavar="unix:///PATH",
                      help="Socket of the running KMS plugin.")(fn)
    return fn


@kms.command("encrypt")
@_envelope_options
def encrypt_cmd(listen: str, api: str, timeout: float, context: str, output: str | None,
                input_path: str) -> None:
    """Encrypt FILE (or stdin) with a fresh data key wrapped by the plugin."""
    from kubecrypt.kms import envelope

    data = _read_input(input_path)
    _through_plugin(listen, api, timeout, output,
                    lambda service: envelope.encrypt(service, data, context.encode()))


@kms.command("decrypt")
@_envelope_options
def decrypt_cmd(listen: str, api: str, timeout: float, context: str, output: str | None,
                input_path: str) -> None:
    """Decrypt an envelope made by `kubecrypt kms encrypt`."""
    from kubecrypt.kms import envelope

    data = _read_input(input_path)
    envelope.parse_header(data)  # fail on garbage before dialling the plugin
    _through_plugin(listen, api, timeout, output,
                    lambda service: envelope.decrypt(service, data, context.encode()))


def _through_plugin(listen: str, api: str, timeout: float, output: str | None,
                    op: Callable[[GrpcKMSv2 | GrpcKMSv1], bytes]) -> None:
    """Runs ``op`` on a connection to the plugin (closed whatever happens), writes its result."""
    from kubecrypt.kms import client

    with contextlib.closing(client.dial(listen, api, timeout)) as service:
        result = op(service)
    _write_output(output, result)


@kms.command("status")
@click.option("--listen", required=True, metavar="unix:///PATH", help="Socket of the plugin.")
@click.option("--timeout", default=3.0, show_default=True, type=float)
def status_cmd(listen: str, timeout: float) -> None:
    """Ask a running KMS v2 plugin for its health and current key_id."""
    from kubecrypt.kms import client

    with contextlib.closing(client.GrpcKMSv2(listen, timeout)) as service:
        st = service.status()
    click.echo(json.dumps({"version": st.version, "healthz": st.healthz, "key_id": st.key_id}))
