"""``kubecrypt seal``: a drop-in for ``kubeseal`` (same flags, output and error texts)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import click

from kubecrypt.fileio import atomic_write
from kubecrypt.goduration import parse_duration
from kubecrypt.kube import (
    DEFAULT_CONTROLLER_NAME,
    DEFAULT_CONTROLLER_NAMESPACE,
    ControllerProxy,
    KubeClient,
    Overrides,
    context_namespace,
    load,
)
from kubecrypt.sealed.certsource import obtain_certificate
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.kubeseal import KubesealRequest, run
from kubecrypt.sealed.multi import CONTEXT_PREFIX
from kubecrypt.sealed.scope import Scope


def _env(flag: str) -> str:
    # kubeseal reads every flag from SEALED_SECRETS_<FLAG> too; the command line wins.
    return "SEALED_SECRETS_" + flag.upper().replace("-", "_")


def _timeout(ctx: click.Context, param: click.Parameter, value: str) -> float:
    # kubectl's and kubeseal's flag is a Go duration; plain seconds are kept for old scripts.
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a duration such as 30s or 1m") from None
    if seconds < 0:
        raise click.BadParameter("must not be negative")
    return seconds


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--cert", "certs", envvar=_env("cert"), multiple=True,
              help="Certificate file or URL (http(s)://, file://); skips the controller lookup. "
                   "Repeat as [NAME=]SOURCE with --output-dir to seal for many clusters; "
                   "SOURCE context:CTX fetches that kubeconfig context's certificate.")
@click.option("--output-dir", default=None, type=click.Path(file_okay=False),
              help="Write one SealedSecret per --cert under DIR/<NAME>/ (NAME defaults to the "
                   "certificate's fingerprint prefix).")
@click.option("--escrow-cert", default=None,
              help="With --output-dir: also seal a copy for this offline key, written as "
                   "DIR/escrow/<file>.escrow (never applied).")
@click.option("--no-provenance", is_flag=True,
              help="Do not write the kubecrypt.io/sealed-with annotation (kubeseal's bytes).")
@click.option("--controller-name", envvar=_env("controller-name"),
              default=DEFAULT_CONTROLLER_NAME, show_default=True)
@click.option("--controller-namespace", envvar=_env("controller-namespace"),
              default=DEFAULT_CONTROLLER_NAMESPACE, show_default=True)
@click.option("-o", "--format", "output_format", envvar=_env("format"), default=None,
              help="Output format: json (default) or yaml.")
@click.option("-f", "--secret-file", envvar=_env("secret-file"), default=None,
              help="Read the input from this file instead of stdin.")
@click.option("-w", "--sealed-secret-file", envvar=_env("sealed-secret-file"), default=None,
              help="Write the output to this file (atomically); .yaml/.yml means YAML.")
@click.option("--fetch-cert", is_flag=True, envvar=_env("fetch-cert"),
              help="Print the controller's certificate and exit.")
@click.option("--allow-empty-data", is_flag=True, envvar=_env("allow-empty-data"))
@click.option("--validate", is_flag=True, envvar=_env("validate"),
              help="Check that the input SealedSecret can be decrypted (by the controller, or "
                   "offline with --recovery-private-key).")
@click.option("--merge-into", envvar=_env("merge-into"), default=None,
              help="Seal the input's items and merge them into this SealedSecret file.")
@click.option("--raw", is_flag=True, envvar=_env("raw"), help="Encrypt one raw value.")
@click.option("--name", envvar=_env("name"), default="",
              help="Name of the sealed object (--raw), or override of the input's name.")
@click.option("--from-file", multiple=True, help="With --raw: [key=]path of the value.")
@click.option("--scope", envvar=_env("scope"), default="strict",
              help="strict, namespace-wide or cluster-wide.")
@click.option("--re-encrypt", "--rotate", "re_encrypt", is_flag=True, envvar=_env("re-encrypt"),
              help="Re-seal the input with the newest key: via the controller, or offline with "
                   "--recovery-private-key and --cert.")
@click.option("--flatten-template", is_flag=True,
              help="With offline --re-encrypt: behave exactly as upstream's controller "
                   "(render template.data into items, template metadata from the object's).")
@click.option("--recovery-unseal", is_flag=True, envvar=_env("recovery-unseal"),
              help="Decrypt the input offline with --recovery-private-key.")
@click.option("--recovery-private-key", multiple=True,
              help="Private key files (PEM or key backups); repeatable, comma-separated, and "
                   "several files after it (a shell glob such as keys/*.yaml) are all read.")
@click.option("--kubeconfig", envvar=_env("kubeconfig"), default=None)
@click.option("--context", default=None, help="kubeconfig context to use.")
@click.option("-n", "--namespace", default="", help="Namespace of the Secret.")
@click.option("--request-timeout", default="30s", show_default=True, callback=_timeout,
              help="How long to wait for the API server: a duration (30s, 1m) or seconds; "
                   "0 waits forever.")
@click.option("-s", "--server", default=None, help="API server address (kubectl's flag).")
@click.option("--token", default=None, help="Bearer token for the API server.")
@click.option("--certificate-authority", default=None, help="CA file for the API server.")
@click.option("--client-certificate", default=None, help="Client certificate file.")
@click.option("--client-key", default=None, help="Client key file.")
@click.option("--insecure-skip-tls-verify", is_flag=True,
              help="Do not verify the API server's certificate (insecure).")
@click.option("--tls-server-name", default=None, help="Server name to verify the API server as.")
@click.option("--cluster", default=None, help="kubeconfig cluster to use.")
@click.option("--user", default=None, help="kubeconfig user to use.")
@click.option("--username", default=None, help="Username for basic authentication.")
@click.option("--password", default=None, help="Password for basic authentication.")
@click.option("--as", "as_user", default=None, help="User to impersonate.")
@click.option("--as-group", multiple=True, help="Group to impersonate (repeatable).")
@click.option("--as-uid", default=None, help="UID to impersonate.")
@click.option("--proxy-url", default=None, help="Proxy to reach the API server through.")
@click.option("--disable-compression", is_flag=True,
              help="Do not ask the API server for compressed responses.")
# seal takes no positional input, so extra arguments are the rest of a shell-expanded
# ``--recovery-private-key keys/*.yaml`` (the README's ``rotate sealed`` leaves several keys there).
@click.argument("more_recovery_keys", nargs=-1, metavar="[KEY_FILE]...")
def seal(
    certs: tuple[str, ...], output_dir: str | None, escrow_cert: str | None,
    no_provenance: bool, controller_name: str, controller_namespace: str,
    output_format: str | None, secret_file: str | None, sealed_secret_file: str | None,
    fetch_cert: bool, allow_empty_data: bool, validate: bool, merge_into: str | None, raw: bool,
    name: str, from_file: tuple[str, ...], scope: str, re_encrypt: bool, flatten_template: bool,
    recovery_unseal: bool,
    recovery_private_key: tuple[str, ...], kubeconfig: str | None, context: str | None,
    namespace: str, request_timeout: float, server: str | None, token: str | None,
    certificate_authority: str | None, client_certificate: str | None, client_key: str | None,
    insecure_skip_tls_verify: bool, tls_server_name: str | None, cluster: str | None,
    user: str | None, username: str | None, password: str | None, as_user: str | None,
    as_group: tuple[str, ...], as_uid: str | None, proxy_url: str | None,
    disable_compression: bool, more_recovery_keys: tuple[str, ...],
) -> None:
    """Seal a Secret (stdin, YAML or JSON) into a SealedSecret (stdout), like kubeseal."""
    if more_recovery_keys and not recovery_private_key:
        raise click.UsageError(
            f"Got unexpected extra arguments ({' '.join(more_recovery_keys)}); seal reads the "
            "Secret from stdin or -f FILE"
        )
    fmt = (output_format or "json").lower()
    if sealed_secret_file and not output_format and sealed_secret_file.endswith((".yaml", ".yml")):
        fmt = "yaml"
    if fmt not in ("json", "yaml"):
        raise SealedInputError(f"unsupported output format: {output_format}")
    try:
        parsed_scope = Scope.parse(scope)
    except ValueError as exc:
        raise SealedInputError(str(exc)) from None

    # kubectl's flags; --namespace is the Secret's here, so it does not override the context's.
    overrides = Overrides(
        kubeconfig=kubeconfig, context=context, cluster=cluster, user=user, server=server,
        token=token, username=username, password=password,
        certificate_authority=certificate_authority, client_certificate=client_certificate,
        client_key=client_key, insecure_skip_tls_verify=insecure_skip_tls_verify,
        tls_server_name=tls_server_name, proxy_url=proxy_url,
        disable_compression=disable_compression, impersonate=as_user,
        impersonate_groups=as_group, impersonate_uid=as_uid, request_timeout=request_timeout,
    )

    def proxy_factory(for_context: str | None = None) -> ControllerProxy:
        chosen = dataclasses.replace(overrides, context=for_context) if for_context else overrides
        return ControllerProxy(KubeClient(load(chosen)), controller_name,
                               controller_namespace)

    def read_input() -> bytes:
        if secret_file:
            try:
                return Path(secret_file).read_bytes()
            except OSError as exc:
                raise SealedInputError(f"cannot read {secret_file}: {exc.strerror}") from None
        if sys.stdin.isatty():
            click.echo("(tty detected: expecting json/yaml k8s resource in stdin)", err=True)
        return sys.stdin.buffer.read()

    many = bool(output_dir or escrow_cert or len(certs) > 1)
    cert = certs[0] if certs else None
    if not many and cert and cert.startswith(CONTEXT_PREFIX):
        # One cluster: its context's controller.
        overrides = dataclasses.replace(overrides, context=cert[len(CONTEXT_PREFIX):])
        cert = None
    request = KubesealRequest(
        output_format=fmt, format_given=output_format is not None, cert=cert,
        fetch_cert=fetch_cert, scope=parsed_scope, name=name, namespace=namespace,
        default_namespace=namespace or context_namespace(overrides),
        allow_empty_data=allow_empty_data, raw=raw, from_file=list(from_file),
        merge_into=merge_into, validate=validate, re_encrypt=re_encrypt,
        flatten_template=flatten_template,
        recovery_unseal=recovery_unseal,
        recovery_private_keys=[*recovery_private_key, *more_recovery_keys],
        proxy_factory=proxy_factory, provenance=not no_provenance,
    )
    if many:
        _seal_many(request, list(certs), output_dir, escrow_cert, sealed_secret_file,
                   secret_file, read_input, proxy_factory)
        return
    output = run(request, read_input)
    data = output if isinstance(output, bytes) else output.encode("utf-8")
    if sealed_secret_file and data:
        atomic_write(sealed_secret_file, data)
        return
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _seal_many(request: KubesealRequest, certs: list[str], output_dir: str | None,
               escrow_cert: str | None, sealed_secret_file: str | None, secret_file: str | None,
               read_input: Callable[[], bytes],
               proxy_factory: Callable[[str | None], ControllerProxy]) -> None:
    from kubecrypt.sealed import multi

    if not output_dir:
        raise SealedInputError("sealing for several certificates (or with --escrow-cert) needs "
                               "--output-dir DIR")
    if not certs:
        raise SealedInputError("--output-dir needs at least one --cert [NAME=]SOURCE")
    other = [flag for flag, on in (
        ("--raw", request.raw), ("--merge-into", request.merge_into), ("--fetch-cert",
         request.fetch_cert), ("--validate", request.validate), ("--re-encrypt",
         request.re_encrypt), ("--recovery-unseal", request.recovery_unseal)) if on]
    if other:
        raise SealedInputError(f"--output-dir seals Secrets only; drop {', '.join(other)}")

    def fetch_context(name: str) -> tuple[bytes, str]:
        # The one place a cluster's certificate is fetched by kubeconfig context.
        return obtain_certificate(None, proxy_factory(name))

    fmt = request.output_format
    file_name = multi.output_file_name(sealed_secret_file, secret_file, fmt)
    if not request.format_given and file_name.endswith((".yaml", ".yml")):
        request.output_format = "yaml"
    clusters = multi.resolve(multi.parse_cert_args(certs), fetch_context)
    escrow = None
    if escrow_cert:
        escrow = multi.resolve([multi.CertTarget(multi.ESCROW_DIR, escrow_cert)], fetch_context,
                               escrow=True)[0]
    outputs = multi.plan(request, read_input(), clusters, escrow, Path(output_dir), file_name)
    multi.write(outputs)
    for path, _ in outputs:
        click.echo(f"wrote {path}", err=True)
