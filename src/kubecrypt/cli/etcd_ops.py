"""``kubecrypt etcd scan|get|rewrite``: the commands that talk to a live etcd. Registered on the
``etcd`` group in ``cli/etcd.py``. Parse, call ``kubecrypt.etcd``, print."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from kubecrypt.errors import InputError, KubecryptError
from kubecrypt.storage.keys import DEFAULT_PREFIX

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_CONNECTION = (
    ("--endpoints", "gRPC endpoints, comma-separated [env ETCDCTL_ENDPOINTS; default 127.0.0.1:2379]"),
    ("--cacert", "verify the server with this CA bundle [env ETCDCTL_CACERT]"),
    ("--cert", "client certificate for TLS [env ETCDCTL_CERT]"),
    ("--key", "client private key for TLS [env ETCDCTL_KEY]"),
    ("--user", "username[:password] for etcd auth [env ETCDCTL_USER]"),
    ("--password", "password for etcd auth [env ETCDCTL_PASSWORD]"),
    ("--dial-timeout", "timeout to connect, e.g. 2s [env ETCDCTL_DIAL_TIMEOUT]"),
    ("--command-timeout", "timeout per request, e.g. 5s [env ETCDCTL_COMMAND_TIMEOUT]"),
)


def connection_options(f: F) -> F:
    """etcdctl's connection flags; each falls back to its ETCDCTL_* variable."""
    for flag, help_text in reversed(_CONNECTION):
        # Parameter names get a prefix so that --key cannot collide with a KEY argument.
        dest = "etcd_" + flag[2:].replace("-", "_")
        meta = "DURATION" if "timeout" in flag else "PATH" if flag in ("--cacert", "--cert", "--key") else "TEXT"
        f = click.option(flag, dest, default=None, metavar=meta, help=help_text)(f)
    return f


def _settings(opts: dict[str, Any]) -> Any:
    from kubecrypt.etcd.settings import ENV_VARS, EtcdSettings

    flags = {name: opts.pop("etcd_" + name, None) for name in ENV_VARS}
    settings = EtcdSettings.resolve(os.environ, **flags)
    if settings.user and settings.password is None and sys.stdin.isatty():
        # etcdctl prompts too when --user carries no password.
        password = click.prompt(f"Password for etcd user {settings.user}", hide_input=True)
        settings = settings.with_flags(password=password)
    return settings


def _transformers(config: str | None) -> Any:
    if not config:
        return None
    from kubecrypt.atrest.config import load_file
    from kubecrypt.atrest.transformers import TransformerSet

    ts = TransformerSet(load_file(config))
    try:
        # Build every provider now (KMS ones connect to their plugin), so a bad config fails
        # before the first line of output rather than halfway through a scan.
        for rc in ts.config.resources:
            for resource in rc.resources:
                ts.for_resource(resource)
    except BaseException:
        ts.close()
        raise
    return ts


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total or None)
        yield lambda n: bar.advance(task, n)


# ---------------------------------------------------------------------------------- scan


@click.command()
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True,
              help="kube-apiserver's --etcd-prefix: the root of all keys.")
@click.option("--resources", default=None, metavar="LIST",
              help="Only these resources (e.g. secrets,configmaps); they must be encrypted.")
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="EncryptionConfiguration: decrypt every value with it and report stale ones.")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--page-size", default=1000, show_default=True, hidden=True, type=click.IntRange(1))
@connection_options
def scan(prefix: str, resources: str | None, config_path: str | None, fmt: str, page_size: int,
         **conn: Any) -> None:
    """Classify every value under the prefix: plaintext, identity, encrypted (provider, key,
    KMS key id) or unreadable. Exits 3 when a value that must be encrypted is not."""
    from kubecrypt.etcd.client import EtcdClient
    from kubecrypt.etcd.inspect import Inspector
    from kubecrypt.etcd.scan import NotEncrypted, ScanReport, Unproven
    from kubecrypt.etcd.scan import scan as run_scan
    from kubecrypt.etcd.targets import parse_resources, targets
    from kubecrypt.storage.keys import normalize_prefix

    settings = _settings(conn)
    wanted = parse_resources(resources)
    transformers = _transformers(config_path)
    root = normalize_prefix(prefix)
    report = ScanReport(
        root, Inspector(transformers), frozenset(wanted),
        frozenset() if wanted or transformers else frozenset({"secrets"}),
    )
    ranges = targets(root, wanted)
    out = sys.stdout
    on_finding = None
    if fmt == "json":
        def on_finding(f: Any) -> None:
            out.write(json.dumps(f.to_json(), separators=(",", ":")) + "\n")

    async def go() -> None:
        async with EtcdClient(settings) as client:
            total = 0
            if sys.stderr.isatty():
                total = sum([await client.count(t.key_prefix) for t in ranges])
            with _progress(total, "scanning etcd") as on_page:
                await run_scan(client, report, ranges, on_finding=on_finding, on_page=on_page,
                               page_size=page_size)

    try:
        _run(go())
    finally:
        if transformers is not None:
            transformers.close()
    if fmt == "json":
        out.write(json.dumps(report.to_json(), separators=(",", ":")) + "\n")
    else:
        _print_scan_table(report)
    out.flush()
    if report.failing():
        failing = ", ".join(report.failing())
        raise NotEncrypted(f"values that must be encrypted are not ({failing}); see the report above")
    if report.unproven():
        unproven = ", ".join(report.unproven())
        raise Unproven(f"values that must be encrypted could not be read ({unproven}), so they are "
                       "not proven encrypted; check the --config keys and KMS plugin, see the "
                       "report above")


def _print_scan_table(report: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from kubecrypt.etcd.inspect import STATES
    from kubecrypt.etcd.scan import OTHER, pct

    # Wide enough never to wrap a row when piped (rich assumes 80 columns off a terminal).
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    t = Table(title=f"etcd values under {report.prefix}/", box=box.SIMPLE, title_justify="left")
    t.add_column("RESOURCE", no_wrap=True)
    t.add_column("TOTAL", justify="right")
    for s in STATES:
        t.add_column(s.upper(), justify="right")
    t.add_column("ENCRYPTED %", justify="right")
    if report.with_config:
        t.add_column("STALE", justify="right")
    t.add_column("MUST ENCRYPT")
    for r in sorted(report.resources, key=lambda x: (x is None, x or "")):
        tally = report.resources[r]
        row = [r or OTHER, str(tally.total)]
        row += [str(tally.states[s]) for s in STATES]
        row.append(pct(tally.states["encrypted"], tally.total))
        if report.with_config:
            row.append(str(tally.stale))
        row.append("yes" if tally.required else "no")
        t.add_row(*row)
    console.print(t)
    if report.keys:
        k = Table(title="encryption keys", box=box.SIMPLE, title_justify="left")
        for col in ("RESOURCE", "PROVIDER", "KEY", "KEY ID", "VALUES", "SHARE"):
            k.add_column(col, justify="right" if col in ("VALUES", "SHARE") else "left")
        for (r, p, name, key_id), n in sorted(report.keys.items(), key=lambda kv: str(kv[0])):
            total = report.resources[r].total
            k.add_row(r or OTHER, p or "-", name or "-", key_id or "-", str(n), pct(n, total))
        console.print(k)
    if report.unreadable_reasons:
        console.print("unreadable values:")
        for reason, n in report.unreadable_reasons.most_common(5):
            console.print(f"  {n} x {reason}")
        for key, _ in report.unreadable_examples[:5]:
            console.print(f"  e.g. {key}")
    for line in report.verdicts():
        console.print(line)


# ---------------------------------------------------------------------------------- get


_PREFIX_FLAG = "\x00flag"  # --prefix given with no value, etcdctl's boolean form
_TRUE, _FALSE = ("true", "1", "t", "yes"), ("false", "0", "f", "no")


def _etcdctl_prefix(key: str | None, key_prefix: str | None) -> tuple[str | None, str | None]:
    """(KEY, P) once etcdctl's boolean ``--prefix`` forms are read: ``KEY --prefix`` and
    ``KEY --prefix=true`` mean ``--prefix KEY``; ``--prefix=false`` means plain ``KEY``."""
    if key_prefix is None:
        return key, None
    flag = key_prefix == _PREFIX_FLAG or key_prefix.lower() in _TRUE + _FALSE
    if not flag:
        return key, key_prefix
    if key is None:
        raise InputError("--prefix without a value needs KEY, as in etcdctl: "
                         "kubecrypt etcd get /registry/secrets/ --prefix")
    if key_prefix.lower() in _FALSE:
        return key, None
    return None, key


@click.command()
@click.argument("key", required=False)
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="EncryptionConfiguration holding the keys (kms providers call their plugin).")
@click.option("--decrypt/--no-decrypt", default=True, show_default=True,
              help="Decrypt through the config (--no-decrypt: the stored bytes as they are).")
@click.option("--prefix", "key_prefix", default=None, metavar="P", is_flag=False,
              flag_value=_PREFIX_FLAG,
              help="Read every key under P and print them as one List. etcdctl's forms work "
                   "too: KEY --prefix, KEY --prefix=true (--prefix=false reads KEY alone).")
@click.option("--etcd-prefix", default=DEFAULT_PREFIX, show_default=True,
              help="kube-apiserver's --etcd-prefix, to tell the resource from a key.")
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json", "raw"]), default="yaml",
              show_default=True)
@connection_options
def get(key: str | None, config_path: str | None, decrypt: bool, key_prefix: str | None,
        etcd_prefix: str, fmt: str, **conn: Any) -> None:
    """Read an object from etcd, decrypt it and decode it: recovery without an API server."""
    from kubecrypt.cli._io import dump_object, write_stdout_bytes
    from kubecrypt.etcd.client import EtcdClient
    from kubecrypt.etcd.recover import Recoverer
    from kubecrypt.storage.keys import normalize_prefix

    key, key_prefix = _etcdctl_prefix(key, key_prefix)
    if (key is None) == (key_prefix is None):
        raise InputError("give exactly one of KEY or --prefix P (for example /registry/secrets/default/db)")
    if key_prefix is not None and fmt == "raw":
        raise InputError("-o raw prints one value; use -o yaml or -o json with --prefix")
    settings = _settings(conn)
    transformers = _transformers(config_path)

    async def go() -> tuple[Any, list[KubecryptError]]:
        async with EtcdClient(settings) as client:
            rec = Recoverer(client, transformers, normalize_prefix(etcd_prefix), decrypt=decrypt)
            if key is not None:
                return await rec.one(key), []
            items: list[dict[str, Any]] = []
            failed: list[KubecryptError] = []
            async for r in rec.under(key_prefix or ""):
                if isinstance(r, KubecryptError):
                    failed.append(r)
                    continue
                try:
                    items.append(r.object())
                except KubecryptError as exc:
                    failed.append(exc)
            return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {}}, failed

    try:
        result, failed = _run(go())
    finally:
        if transformers is not None:
            transformers.close()
    if key is not None:
        if fmt == "raw":
            write_stdout_bytes(result.stored)
        else:
            click.echo(dump_object(result.object(), fmt), nl=False)
        return
    click.echo(dump_object(result, fmt), nl=False)
    if failed:
        for exc in failed[:20]:
            click.echo(f"warning: {exc}", err=True)
        raise KubecryptError(
            f"{len(failed)} of {len(failed) + len(result['items'])} values under {key_prefix} could "
            "not be read; the List above holds the others"
        )


# ---------------------------------------------------------------------------------- rewrite


@click.command()
@click.option("--config", "config_path", required=True, metavar="FILE",
              help="EncryptionConfiguration: its first provider and key write.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True,
              help="kube-apiserver's --etcd-prefix: the root of all keys.")
@click.option("--resources", default=None, metavar="LIST",
              help="Only these resources (e.g. secrets); default: every key under the prefix.")
@click.option("--dry-run", is_flag=True, help="Count what would be rewritten; write nothing.")
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--page-size", default=500, show_default=True, hidden=True, type=click.IntRange(1))
@connection_options
def rewrite(config_path: str, prefix: str, resources: str | None, dry_run: bool, fmt: str,
            page_size: int, **conn: Any) -> None:
    """Re-encrypt every stale value with the config's first provider and key, each with a
    compare-and-swap on its mod_revision. Safe to run again."""
    from kubecrypt.etcd.client import EtcdClient
    from kubecrypt.etcd.rewrite import Rewriter
    from kubecrypt.etcd.targets import parse_resources, targets
    from kubecrypt.storage.keys import normalize_prefix

    settings = _settings(conn)
    transformers = _transformers(config_path)
    root = normalize_prefix(prefix)
    ranges = targets(root, parse_resources(resources))

    async def go() -> Any:
        async with EtcdClient(settings) as client:
            total = 0
            if sys.stderr.isatty():
                total = sum([await client.count(t.key_prefix) for t in ranges])
            with _progress(total, "rewriting" if not dry_run else "checking") as on_page:
                rw = Rewriter(client, transformers, root, dry_run=dry_run)
                return await rw.run(ranges, on_page=on_page, page_size=page_size)

    try:
        report = _run(go())
    finally:
        transformers.close()
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(report.summary())
        for k, e in report.errors[:10]:
            click.echo(f"  unreadable: {k}: {e}")
    if report.unreadable:
        raise KubecryptError(
            f"{report.unreadable} values could not be read with {config_path} and were left as they "
            "are; see the list above"
        )
