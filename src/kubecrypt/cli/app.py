"""The ``kubecrypt`` click application. Sub-commands are imported lazily so start-up stays
fast (``kubecrypt sops decrypt`` must not pay for gRPC or etcd imports); the console entry
point, :func:`kubecrypt.cli.main`, may answer plain sops commands before click is imported."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from kubecrypt import __version__
from kubecrypt.errors import KubecryptError

# name -> "module:attribute". A module that does not exist yet is simply not offered.
SUBCOMMANDS: dict[str, str] = {
    "atrest": "kubecrypt.cli.atrest:atrest",
    "kms": "kubecrypt.cli.kms:kms",
    "etcd": "kubecrypt.cli.etcd:etcd",
    "seal": "kubecrypt.cli.seal:seal",
    "sealed": "kubecrypt.cli.sealed:sealed",
    "sops": "kubecrypt.cli.sops:sops",
    "lab": "kubecrypt.cli.lab:lab",
    "demo": "kubecrypt.cli.demo:demo",
    "rotate": "kubecrypt.cli.rotate:rotate",
    "doctor": "kubecrypt.cli.doctor:doctor",
    "csi": "kubecrypt.cli.csi:csi",
}


def _load(name: str) -> click.Command | None:
    target = SUBCOMMANDS.get(name)
    if target is None:
        return None
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    command = getattr(module, attr)
    assert isinstance(command, click.Command)
    return command


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(
            n for n in SUBCOMMANDS if importlib.util.find_spec(SUBCOMMANDS[n].split(":")[0])
        )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _load(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kubecrypt")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Encrypt Kubernetes Secrets at rest in etcd, in Git and inside applications."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> Any:
    """Entry point: typed errors become one sentence on stderr and their exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        rv = cli.main(args=args, prog_name="kubecrypt", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KubecryptError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    # With standalone_mode=False click returns ctx.exit()'s code instead of raising.
    sys.exit(rv if isinstance(rv, int) else 0)
