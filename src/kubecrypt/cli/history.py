"""``kubecrypt sealed history-audit``: parse, call :mod:`kubecrypt.history.audit`, print."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.history.audit import AuditResult, Exposure, Progress, audit
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.keys import keys_from_file

MIN_HMAC_KEY = 16


def leaked_keys(files: tuple[str, ...] | list[str]) -> list[tuple[str, rsa.RSAPrivateKey]]:
    out: list[tuple[str, rsa.RSAPrivateKey]] = []
    for name in files:
        try:
            content = Path(name).read_bytes()
        except OSError as exc:
            raise SealedInputError(f"cannot read key file {name}: {exc.strerror}") from None
        out += [(k.fingerprint, k.private_key) for k in keys_from_file(content, name)]
    return out


def hmac_key(path: str | None) -> bytes:
    if path is None:
        return secrets.token_bytes(32)
    try:
        key = Path(path).read_bytes()
    except OSError as exc:
        raise SealedInputError(f"cannot read --hmac-key-file {path}: {exc.strerror}") from None
    if len(key) < MIN_HMAC_KEY:
        raise SealedInputError(f"--hmac-key-file {path} holds {len(key)} bytes; use at least "
                               f"{MIN_HMAC_KEY} random bytes (head -c 32 /dev/urandom > FILE)")
    return key


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress bar on a terminal (stderr); nothing otherwise."""
    if not sys.stderr.isatty():
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import Progress as Bar

    with Bar(console=Console(stderr=True), transient=True) as bar:
        task: list[Any] = []

        def start(phase: str, total: int) -> None:
            if task:
                bar.update(task[0], completed=bar.tasks[0].total)
                bar.remove_task(task.pop())
            task.append(bar.add_task(phase, total=total))

        yield Progress(start, lambda: bar.advance(task[0]))


def run_audit(repo: str, keys: list[tuple[str, rsa.RSAPrivateKey]], age: tuple[str, ...],
              pgp: tuple[str, ...], key: bytes) -> AuditResult:
    with progress_bar() as progress:
        return audit(Path(repo), keys, key, set(age), set(pgp), progress)


def live_check(exposed: list[Exposure], key: bytes, kubeconfig: str | None,
               context: str | None) -> None:
    import hashlib
    import hmac

    from kubecrypt.history.live import mark_live
    from kubecrypt.kube import KubeClient, Overrides, status_message

    client = KubeClient.connect(Overrides(kubeconfig=kubeconfig, context=context))

    def get_secret(namespace: str, name: str) -> dict[str, Any] | None:
        status, body = client.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if status == 404:
            return None
        if status != 200:
            raise SealedInputError(status_message(status, body))
        return dict(json.loads(body))

    mark_live(exposed, get_secret, lambda v: hmac.new(key, v, hashlib.sha256).hexdigest())


def run_history_audit(repo: str, key_files: tuple[str, ...], revoked_age: tuple[str, ...],
                      revoked_pgp: tuple[str, ...], hmac_key_file: str | None, live: bool,
                      kubeconfig: str | None, context: str | None, fmt: str) -> None:
    if not (key_files or revoked_age or revoked_pgp):
        raise SealedInputError("give the leaked key with --key FILE (or --revoked-age / "
                               "--revoked-pgp for SOPS files)")
    keys = leaked_keys(key_files)
    key = hmac_key(hmac_key_file)
    result = run_audit(repo, keys, revoked_age, revoked_pgp, key)
    if live:
        live_check(result.exposed, key, kubeconfig, context)
    if fmt == "json":
        click.echo(json.dumps({"exposed": [e.to_json() for e in result.exposed]}, indent=2))
    else:
        print_table(result.exposed)
    click.echo(f"{len(result.exposed)} exposed in {result.commits} commits ({result.blobs} "
               f"blobs read, {result.skipped_large} larger than 4 MiB skipped)", err=True)


def print_table(exposed: list[Exposure]) -> None:
    header = ("KIND", "SECRET", "ITEM", "SCOPE", "FIRST", "LAST", "LIVE", "PATHS")
    live = {True: "yes", False: "no", None: "-"}
    rows = [(e.kind, f"{e.namespace}/{e.name}" if e.namespace else (e.name or "-"), e.item,
             e.scope or "-", e.first_commit[:12], e.last_commit[:12], live[e.live],
             ", ".join(sorted(e.paths))) for e in exposed]
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


__all__ = ["hmac_key", "leaked_keys", "run_audit", "run_history_audit"]
