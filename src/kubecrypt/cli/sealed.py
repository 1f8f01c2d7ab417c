"""``kubecrypt sealed``: the Sealed Secrets controller (``controller``) and its keys
(``keys``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from kubecrypt.controller.cli import controller_command
from kubecrypt.fileio import atomic_write
from kubecrypt.goduration import parse_duration
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.keys import (
    DEFAULT_KEY_PREFIX,
    DEFAULT_NAMESPACE,
    SealingKey,
    backup_list,
    certificate_pem,
    format_time,
    generate_key,
    key_secret,
    keys_from_file,
    self_signed_certificate,
)
from kubecrypt.sealed.keystore import DEFAULT_DIR, KeyStore
from kubecrypt.sealed.render import LIST, SECRET, ordered, render

keys_dir_option = click.option(
    "--keys-dir", envvar="KUBECRYPT_SEALED_KEYS_DIR", default=str(DEFAULT_DIR), show_default=True,
    help="Directory of key Secrets (one file per key, 0600).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def sealed() -> None:
    """Sealed Secrets: the controller and its keys."""


controller_command(sealed)


@sealed.group()
def keys() -> None:
    """Generate, back up, restore and inspect sealing keys."""


def _ttl(text: str) -> dt.timedelta:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise SealedInputError(f"--key-ttl: {exc}") from None
    if seconds <= 0:
        raise SealedInputError("--key-ttl must be positive, e.g. 87600h")
    return dt.timedelta(seconds=seconds)


def _emit(text: str, out: str | None, secret: bool) -> None:
    if out and out != "-":
        atomic_write(out, text.encode(), mode=0o600 if secret else None)
        return
    if secret and sys.stdout.isatty():
        # Private keys on a screen end up in scrollback and screen recordings.
        raise SealedInputError(
            "refusing to print private keys to a terminal; use --out FILE or redirect stdout"
        )
    sys.stdout.write(text)


@keys.command("generate")
@keys_dir_option
@click.option("--key-size", type=int, default=4096, show_default=True, help="RSA bits.")
@click.option("--key-ttl", default="87600h", show_default=True, help="Certificate validity.")
@click.option("--my-cn", default="", help="Certificate subject and issuer CN.")
@click.option("--key-prefix", default=DEFAULT_KEY_PREFIX, show_default=True)
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True,
              help="The controller's namespace, written into the key Secret.")
@click.option("--out", default=None,
              help="Write the key Secret here ('-' for stdout) instead of into --keys-dir.")
@click.option("-o", "--format", "output_format", type=click.Choice(["yaml", "json"]),
              default="yaml", show_default=True)
def generate(keys_dir: str, key_size: int, key_ttl: str, my_cn: str, key_prefix: str,
             namespace: str, out: str | None, output_format: str) -> None:
    """Generate an RSA key and self-signed certificate, as the controller does."""
    if key_size < 2048:
        raise SealedInputError("--key-size must be at least 2048 bits")
    private_key, cert = generate_key(key_size, _ttl(key_ttl), my_cn)
    key = SealingKey(private_key, cert, namespace=namespace, creation=dt.datetime.now(dt.UTC))
    if out:
        _emit(render(ordered(key_secret(key, key_prefix), SECRET), output_format), out, True)
        where = out
    else:
        where = str(KeyStore(keys_dir).add(key, key_prefix))
    click.echo(f"generated key {key.fingerprint} ({key_size} bits) in {where}", err=True)


@keys.command("export")
@keys_dir_option
@click.option("--backup-format", type=click.Choice(["list", "secrets"]), default="list",
              show_default=True,
              help="list: a v1 List (kubectl get -o yaml); secrets: one Secret per document.")
@click.option("-o", "--format", "output_format", type=click.Choice(["yaml", "json"]),
              default="yaml", show_default=True)
@click.option("--out", default=None, help="Write the backup here (0600) instead of stdout.")
def export(keys_dir: str, backup_format: str, output_format: str, out: str | None) -> None:
    """Export every key as a backup that kubeseal --recovery-private-key and kubectl accept."""
    stored = KeyStore(keys_dir).registry().newest_first()
    if not stored:
        raise SealedInputError(f"no keys in {keys_dir}; run 'kubecrypt sealed keys generate'")
    oldest_first = list(reversed(stored))
    if backup_format == "list":
        text = render(ordered(backup_list(oldest_first), LIST), output_format)
        if output_format == "yaml":
            text = text.removeprefix("---\n")  # kubectl's List has no document marker
    else:
        text = "".join(render(ordered(key_secret(k), SECRET), output_format)
                       for k in oldest_first)
    _emit(text, out, True)


@keys.command("import")
@keys_dir_option
@click.option("--key-prefix", default=DEFAULT_KEY_PREFIX, show_default=True)
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True)
@click.argument("files", nargs=-1, required=True)
def import_(keys_dir: str, key_prefix: str, namespace: str, files: tuple[str, ...]) -> None:
    """Import keys from PEM files or backups (a v1 List of key Secrets, or Secrets)."""
    store = KeyStore(keys_dir)
    known = {k.fingerprint for k in store.load()}
    for name in files:
        try:
            content = Path(name).read_bytes()
        except OSError as exc:
            raise SealedInputError(f"cannot read {name}: {exc.strerror}") from None
        for key in keys_from_file(content, name):
            if key.fingerprint in known:
                click.echo(f"skipped key {key.fingerprint}: already present", err=True)
                continue
            if key.certificate is None:
                # A bare PEM key: the controller needs a certificate to serve, so make one.
                key.certificate = self_signed_certificate(key.private_key)
            key.namespace = key.namespace or namespace
            key.creation = key.creation or dt.datetime.now(dt.UTC)
            path = store.add(key, key_prefix, known)
            known.add(key.fingerprint)
            click.echo(f"imported key {key.fingerprint} as {path}", err=True)


@keys.command("list")
@keys_dir_option
@click.option("-o", "--format", "output_format", type=click.Choice(["table", "json"]),
              default="table", show_default=True)
def list_(keys_dir: str, output_format: str) -> None:
    """List keys: fingerprint, creation, expiry, active label; newest (sealing) key first."""
    registry = KeyStore(keys_dir).registry()
    newest = registry.newest()
    rows: list[dict[str, Any]] = []
    for key in registry.newest_first():
        rows.append({
            "name": key.name,
            "fingerprint": key.fingerprint,
            "bits": key.private_key.key_size,
            "created": format_time(key.creation) if key.creation else "",
            "notBefore": format_time(key.not_before) if key.not_before else "",
            "expires": format_time(key.not_after) if key.not_after else "",
            "active": key.active,
            "newest": key is newest,
        })
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("NAME", "FINGERPRINT", "BITS", "CREATED", "EXPIRES", "ACTIVE", "NEWEST")
    table = [header] + [
        (r["name"], r["fingerprint"], str(r["bits"]), r["created"], r["expires"],
         "yes" if r["active"] else "no", "*" if r["newest"] else "") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@keys.command("cert")
@keys_dir_option
@click.option("--fingerprint", default=None, help="This key's certificate instead of the newest.")
def cert(keys_dir: str, fingerprint: str | None) -> None:
    """Print the public certificate (the newest key's, as the controller serves it)."""
    registry = KeyStore(keys_dir).registry()
    key = registry.get(fingerprint) if fingerprint else registry.newest()
    if key is None:
        what = f"key {fingerprint}" if fingerprint else "key"
        raise SealedInputError(f"no {what} in {keys_dir}; run 'kubecrypt sealed keys generate'")
    if key.certificate is None:
        raise SealedInputError(f"key {key.fingerprint} has no certificate")
    sys.stdout.write(certificate_pem(key.certificate).decode("ascii"))


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@sealed.command("which")
@click.argument("files", nargs=-1, required=True)
@click.option("--cert", "certs", multiple=True,
              help="A known certificate, [NAME=]PATH; repeatable.")
@click.option("--key", "key_files", multiple=True,
              help="Private keys (PEM or key backups) to try when a file has no annotation.")
@click.option("--keys-dir", default=None, help="A key directory (kubecrypt sealed keys).")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table")
def which_(files: tuple[str, ...], certs: tuple[str, ...], key_files: tuple[str, ...],
           keys_dir: str | None, fmt: str) -> None:
    """Say which known certificate or key sealed each SealedSecret in FILES."""
    from kubecrypt.sealed.multi import parse_cert_args
    from kubecrypt.sealed.which import known_from_cert, known_from_keys, read_key_file, which

    known = [known_from_cert(t.name, t.source) for t in parse_cert_args(list(certs))]
    for path in key_files:
        known += read_key_file(path)
    if keys_dir:
        known += known_from_keys(KeyStore(keys_dir).registry().newest_first(), keys_dir)
    answers = which(list(files), known)
    if fmt == "json":
        click.echo(json.dumps([a.to_json() for a in answers], indent=2))
        return
    _table(("FILE", "DOC", "SEALEDSECRET", "SEALED-WITH", "KNOWN", "HOW"), [
        (a.file, str(a.document), f"{a.namespace}/{a.name}" if a.namespace else a.name,
         a.sealed_with or "-", a.known or "-", a.how) for a in answers])


@sealed.command("history-audit")
@click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The Git repository whose whole history (every ref) is audited.")
@click.option("--key", "key_files", multiple=True,
              help="A leaked private key (PEM or key backup); repeatable.")
@click.option("--revoked-age", multiple=True, help="A revoked age recipient (age1...).")
@click.option("--revoked-pgp", multiple=True, help="A revoked PGP key fingerprint.")
@click.option("--hmac-key-file", default=None,
              help="Key for the value hashes (at least 16 bytes), so runs are comparable; "
                   "default: a random key per run.")
@click.option("--live", is_flag=True,
              help="Ask the cluster whether each Secret still holds the exposed value.")
@click.option("--kubeconfig", default=None, help="--live: kubeconfig (default $KUBECONFIG).")
@click.option("--context", default=None, help="--live: kubeconfig context.")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table")
def history_audit(repo: str, key_files: tuple[str, ...], revoked_age: tuple[str, ...],
                  revoked_pgp: tuple[str, ...], hmac_key_file: str | None, live: bool,
                  kubeconfig: str | None, context: str | None, fmt: str) -> None:
    """List every value a leaked key opens anywhere in a repository's history."""
    from kubecrypt.cli.history import run_history_audit

    run_history_audit(repo, key_files, revoked_age, revoked_pgp, hmac_key_file, live,
                      kubeconfig, context, fmt)


@keys.command("backup-status")
@click.option("--keys-dir", required=True,
              help="The backup directory (key Secrets, v1 Lists or PEM keys).")
@click.option("--cluster-keys-dir", default=None,
              help="Offline: the cluster's key Secrets as files, instead of asking the cluster.")
@click.option("--dir", "sealed_dir", default=None, type=click.Path(file_okay=False),
              help="SealedSecrets to check: which ones only a key missing from the backup opens.")
@click.option("--kubeconfig", default=None, help="kubeconfig (default $KUBECONFIG).")
@click.option("--context", default=None, help="kubeconfig context.")
@click.option("--controller-namespace", default=DEFAULT_NAMESPACE, show_default=True,
              help="Where the controller keeps its key Secrets.")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table")
def backup_status_(keys_dir: str, cluster_keys_dir: str | None, sealed_dir: str | None,
                   kubeconfig: str | None, context: str | None, controller_namespace: str,
                   fmt: str) -> None:
    """Compare the cluster's sealing keys with a backup; exit 1 when one is missing."""
    from kubecrypt.sealed.backup import backup_status, keys_in_dir

    if cluster_keys_dir:
        cluster = keys_in_dir(Path(cluster_keys_dir), "--cluster-keys-dir")
    else:
        cluster = _cluster_keys(kubeconfig, context, controller_namespace)
    backup = keys_in_dir(Path(keys_dir), "--keys-dir backup")
    sealed_docs: list[tuple[Path, list[dict[str, Any]]]] = []
    if sealed_dir:
        from kubecrypt.rotate.sealed import sealed_files

        if not Path(sealed_dir).is_dir():
            raise SealedInputError(f"{sealed_dir} is not a directory; give the SealedSecrets "
                                   "directory with --dir")
        sealed_docs = [(path, docs) for path, docs, _ in sealed_files(Path(sealed_dir))]
    status = backup_status(cluster, backup, sealed_docs)
    if fmt == "json":
        click.echo(json.dumps(status.to_json(), indent=2))
    else:
        missing = {k.fingerprint for k in status.missing}
        _table(("KEY", "FINGERPRINT", "CREATED", "BACKED UP"), [
            (k.name or "-", k.fingerprint, format_time(k.creation) if k.creation else "-",
             "no" if k.fingerprint in missing else "yes") for k in status.cluster])
        for lost in status.only_missing:
            click.echo(f"only a key missing from the backup opens {lost.namespace}/{lost.name} "
                       f"({lost.file})")
    if status.missing:
        raise SealedInputError(
            f"{len(status.missing)} of the cluster's {len(status.cluster)} keys are not in the "
            f"backup {keys_dir}: back them up now (kubectl get secret -n {controller_namespace} "
            "-l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml > backup.yaml)")


def _cluster_keys(kubeconfig: str | None, context: str | None, namespace: str
                  ) -> list[SealingKey]:
    import urllib.parse

    from kubecrypt.kube import KubeClient, Overrides, status_message
    from kubecrypt.sealed.keys import KEY_LABEL, key_from_secret

    client = KubeClient.connect(Overrides(kubeconfig=kubeconfig, context=context))
    selector = urllib.parse.quote(KEY_LABEL)
    status, body = client.request(
        "GET", f"/api/v1/namespaces/{namespace}/secrets?labelSelector={selector}")
    if status != 200:
        raise SealedInputError(f"cannot list the key Secrets in namespace {namespace}: "
                               f"{status_message(status, body)}")
    items = json.loads(body).get("items") or []
    return [key_from_secret(item, f"Secret {namespace}/{(item.get('metadata') or {}).get('name')}")
            for item in items]
