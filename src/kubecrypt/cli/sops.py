"""``kubecrypt sops``: SOPS-compatible file encryption with sops' flags and exit codes.

Kept lean on purpose (only click at import time; the format code is imported inside each
command) so ``kubecrypt sops decrypt`` starts quickly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click


def _fmt_option(name: str, help_: str) -> Any:
    # sops silently ignores an unknown word and falls back to the extension.
    return click.option(name, default=None, metavar="FORMAT", help=help_)


def _common(f: Any) -> Any:
    f = _fmt_option("--input-type", "yaml, json, dotenv, ini or binary (default: by extension)")(f)
    f = _fmt_option("--output-type", "output format (default: the input type)")(f)
    f = click.option("--filename-override", default=None,
                     help="Name used for type detection and .sops.yaml rules (stdin input).")(f)
    return f


def _selection_options(f: Any) -> Any:
    for name, help_ in (
        ("--encrypted-regex", "Encrypt only values under keys matching this regex."),
        ("--unencrypted-regex", "Leave values under keys matching this regex in plaintext."),
        ("--encrypted-suffix", "Encrypt only values under keys ending with this suffix."),
        ("--unencrypted-suffix", "Leave values under keys ending with this suffix in plaintext."),
        ("--encrypted-comment-regex", "Encrypt values after a comment matching this regex."),
        ("--unencrypted-comment-regex", "Leave values after a matching comment in plaintext."),
    ):
        f = click.option(name, default=None, help=help_)(f)
    return f


def _key_options(f: Any) -> Any:
    # The environment variables are sops' own.
    f = click.option("--age", "-a", "age", default=None, envvar="SOPS_AGE_RECIPIENTS",
                     help="Comma-separated age recipients.")(f)
    f = click.option("--pgp", "-p", "pgp", default=None, envvar="SOPS_PGP_FP",
                     help="Comma-separated PGP fingerprints.")(f)
    f = click.option("--hc-vault-transit", "hc_vault", default=None, envvar="SOPS_VAULT_URIS",
                     help="Comma-separated Vault transit key URIs "
                          "(https://vault:8200/v1/transit/keys/name).")(f)
    f = click.option("--kms", "-k", "kms", default=None, envvar="SOPS_KMS_ARN",
                     help="Comma-separated AWS KMS key ARNs (ARN+role_ARN assumes that role).")(f)
    f = click.option("--gcp-kms", "gcp_kms", default=None, envvar="SOPS_GCP_KMS_IDS",
                     help="Comma-separated GCP KMS key names "
                          "(projects/P/locations/L/keyRings/R/cryptoKeys/K).")(f)
    f = click.option("--azure-kv", "azure_kv", default=None, envvar="SOPS_AZURE_KEYVAULT_URLS",
                     help="Comma-separated Azure Key Vault key URLs "
                          "(https://VAULT.vault.azure.net/keys/NAME[/VERSION]).")(f)
    return _aws_options(f)


def _aws_options(f: Any) -> Any:
    f = click.option("--encryption-context", default=None,
                     help="KMS encryption context for new KMS keys: key:value,key2:value2.")(f)
    f = click.option("--aws-profile", default=None,
                     help="AWS shared-config profile for new KMS keys.")(f)
    return f


def _job(*args: Any, **kwargs: Any) -> Any:
    from kubecrypt.sops.session import FileJob

    job = FileJob(*args, **kwargs)
    _warn(job)
    return job


def _index(index: str, command: str) -> Any:
    """The INDEX of set or unset; a bad one is sops' "Invalid set index format" (exit 7)."""
    from kubecrypt.sops.errors import InvalidSetFormat, InvalidTreePathFormat
    from kubecrypt.sops.paths import parse_path

    try:
        return parse_path(index)
    except InvalidTreePathFormat as exc:
        raise InvalidSetFormat(f"Invalid {command} index format: {exc}") from None


def _warn(job: Any) -> None:
    for w in job.warnings:
        click.echo(f"warning: {w}", err=True)
    job.warnings.clear()


def _order(value: str | None) -> tuple[str, ...]:
    from kubecrypt.sops.session import decryption_order

    return decryption_order(value)


def _write(job: Any, data: bytes, in_place: bool, output: str | None) -> None:
    from kubecrypt.sops.ops import atomic_write

    if in_place:
        atomic_write(job.file, data)
    elif output:
        atomic_write(output, data)  # a new file 0600; an existing one keeps its mode, as in sops
    else:
        from kubecrypt.sops.session import write_stdout

        write_stdout(data)


# sops 3.11's global flags (``sops --help``) other than --config and the mode flags. urfave/cli
# v1 reads a sub-command's options from its own flag set only (Context.String), so in front of
# a sub-command sops accepts them and ignores them: ``sops --encrypted-regex x encrypt f``
# encrypts every value. kubecrypt accepts and ignores them the same way, and says so; in sops'
# older form (``sops --encrypted-regex x -e f``) they are honoured, as in sops (legacy_args).
_IGNORED_VALUE_FLAGS = (
    "--kms/-k", "--aws-profile", "--gcp-kms", "--hckms", "--azure-kv", "--hc-vault-transit",
    "--pgp/-p", "--age/-a", "--extract", "--input-type", "--output-type",
    "--add-gcp-kms", "--rm-gcp-kms", "--add-hckms", "--rm-hckms", "--add-azure-kv",
    "--rm-azure-kv", "--add-kms", "--rm-kms", "--add-hc-vault-transit",
    "--rm-hc-vault-transit", "--add-age", "--rm-age", "--add-pgp", "--rm-pgp",
    "--unencrypted-suffix", "--encrypted-suffix", "--unencrypted-regex", "--encrypted-regex",
    "--unencrypted-comment-regex", "--encrypted-comment-regex", "--encryption-context",
    "--set", "--shamir-secret-sharing-threshold", "--indent", "--output",
    "--filename-override", "--decryption-order", "--keyservice")
_IGNORED_BOOL_FLAGS = ("--in-place/-i", "--show-master-keys/-s", "--ignore-mac",
                       "--mac-only-encrypted", "--enable-local-keyservice")
_SILENT_FLAGS = ("--disable-version-check", "--check-for-updates", "--verbose")


# sops' older command line: a mode flag instead of a sub-command (``sops --encrypt --kms ARN f``).
_LEGACY_MODES = {"--encrypt": "encrypt", "-e": "encrypt", "--decrypt": "decrypt", "-d": "decrypt",
                 "--rotate": "rotate", "-r": "rotate"}
_GROUP_FLAGS = ("--disable-version-check",)
# Every global flag of sops 3.11 by its names, and whether it takes a value.
_GLOBAL_FLAGS = {n: spec in _IGNORED_VALUE_FLAGS
                 for spec in (*_IGNORED_VALUE_FLAGS, *_IGNORED_BOOL_FLAGS, *_SILENT_FLAGS)
                 for n in spec.split("/")}


def legacy_args(args: list[str], commands: set[str],
                known: dict[str, set[str]] | None = None) -> list[str]:
    """Rewrites ``--encrypt/-e``, ``--decrypt/-d``, ``--rotate/-r`` before any sub-command into
    the sub-command form; anything else is returned unchanged. With ``known`` (each command's
    option names), a sops global flag the mode's command does not take (``-e --ignore-mac``,
    which sops accepts and ignores in that mode) goes in front, where the group takes it."""
    end = args.index("--") if "--" in args else len(args)
    head = args[:end]
    modes = [a for a in head if a in _LEGACY_MODES]
    if not modes:
        return args
    first_word = next((a for a in head if not a.startswith("-")), None)
    if first_word in commands and head.index(first_word) < head.index(modes[0]):
        return args  # e.g. "decrypt -d ..." is the sub-command's own business
    if len({_LEGACY_MODES[m] for m in modes}) > 1:
        from kubecrypt.sops.errors import ConflictingParameters

        raise ConflictingParameters(
            "Use only one of --encrypt, --decrypt and --rotate (or a sub-command).")
    command = _LEGACY_MODES[modes[0]]
    takes = (known or {}).get(command)
    front: list[str] = []
    rest: list[str] = []
    i = 0
    flags_end = _first_positional(head)
    while i < len(head):
        a = head[i]
        name = a.split("=", 1)[0]
        if i >= flags_end:
            if a not in _LEGACY_MODES:
                rest.append(a)
        elif a in _GROUP_FLAGS or (takes is not None and name in _GLOBAL_FLAGS
                                   and name not in takes):
            front.append(a)
            if takes is not None and _GLOBAL_FLAGS.get(name) and "=" not in a \
                    and i + 1 < len(head):
                front.append(head[i + 1])
                i += 1
        elif a not in _LEGACY_MODES:
            rest.append(a)
        i += 1
    return [*front, command, *rest, *args[end:]]


def _first_positional(args: list[str]) -> int:
    """Where Go's flag package stops reading sops' global flags: the first argument that is
    not a flag nor a flag's value (the mode flags take none)."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-" or not a.startswith("-"):
            return i
        name = a.split("=", 1)[0]
        if "=" not in a and (_GLOBAL_FLAGS.get(name) or name == "--config"):
            i += 1
        i += 1
    return len(args)


# sops' exit code for a command line missing a positional argument (its own count check;
# exec-env/exec-file say "missing file to decrypt" with exit 1). Other usage errors (an
# unknown flag, a flag without its value) are fatal in sops' CLI library: exit 1.
_MISSING_ARGUMENT_EXIT = {"edit": 100, "filestatus": 100, "set": 100, "unset": 100,
                          "rotate": 100, "updatekeys": 100, "exec-env": 1, "exec-file": 1}


# The flags of kubecrypt's sub-commands that sops 3.11's do not define (docs/sops.md): sops
# does not move them in front of FILE, so after FILE they are positional arguments here too.
_NOT_SOPS_FLAGS = {
    "encrypt": {"config", "encrypted-comment-regex", "unencrypted-comment-regex",
                "mac-only-encrypted"},
    "decrypt": {"config"},
    "edit": {"config", "encrypted-comment-regex", "unencrypted-comment-regex",
             "mac-only-encrypted", "filename-override"},
    "rotate": {"config", "aws-profile"}, "updatekeys": {"config"},
    "exec-env": {"ignore-mac", "input-type"}, "exec-file": {"ignore-mac"},
}


class _SopsCommand(click.Command):
    """A sub-command whose arguments are read as sops' CLI library reads them: its flags
    moved in front first (``sops decrypt f --extract x``; not in sops' older form), then
    flags only up to the first positional argument; the rest are positional arguments."""

    allow_interspersed_args = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from kubecrypt.cli.sops_argv import GoBoolError, go_bools

        bools = {o.lstrip("-"): (o, p.secondary_opts[0] if p.secondary_opts else None)
                 for p in self.get_params(ctx)
                 if isinstance(p, click.Option) and p.is_flag and not p.count
                 for o in p.opts if o.startswith("-")}
        try:
            args = go_bools(args, bools, stop_at_positional=bool(
                ctx.meta.get("sops_legacy_mode")))
        except GoBoolError as exc:  # a flag error in sops: usage on stdout, exit 1
            click.echo(f"Incorrect Usage: {exc}\n\n{ctx.get_help()}")
            raise click.ClickException(str(exc)) from None
        if not ctx.meta.get("sops_legacy_mode"):
            from kubecrypt.cli.sops_argv import reorder_args

            not_sops = _NOT_SOPS_FLAGS.get(self.name or "", set())
            flags = {o.lstrip("-"): o for p in self.get_params(ctx)
                     for o in (*p.opts, *p.secondary_opts)
                     if o.startswith("-") and o.lstrip("-") not in not_sops}
            args = reorder_args(flags, args)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.ctx = exc.ctx or ctx  # click's parser leaves it out of BadOptionUsage
            raise


def _flag_error(exc: click.UsageError) -> click.ClickException | None:
    """sops' CLI library on a flag error (unknown flag, flag without its value, a value of
    the wrong type): "Incorrect Usage" and the command's help on stdout, the error on stderr,
    exit 1. kubecrypt prints its own help there; None for other usage errors."""
    if not isinstance(exc, (click.NoSuchOption, click.BadOptionUsage, click.BadParameter)) \
            or isinstance(exc, click.MissingParameter) \
            or (isinstance(exc, click.BadParameter) and not isinstance(exc.param, click.Option)):
        return None
    message = exc.format_message()
    if exc.ctx is not None:
        click.echo(f"Incorrect Usage: {message}\n\n{exc.ctx.get_help()}")
    return click.ClickException(message)


class _SopsGroup(click.Group):
    command_class = _SopsCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        known = {name: {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
                 for name, cmd in self.commands.items()}
        new = legacy_args(list(args), set(self.commands), known)
        # sops' older form never reads stdin: without FILE it exits 100 (_need_file).
        ctx.meta["sops_legacy_mode"] = new != list(args)
        try:
            return super().parse_args(ctx, new)
        except click.UsageError as exc:
            exc.ctx = exc.ctx or ctx
            flag_error = _flag_error(exc)
            if flag_error is None:
                raise
            raise flag_error from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # click's message and usage, sops' exit code
            flag_error = _flag_error(exc)
            if flag_error is not None:
                raise flag_error from None
            name = exc.ctx.command.name if exc.ctx is not None else None
            missing = isinstance(exc, click.MissingParameter) and isinstance(
                exc.param, click.Argument)
            exc.exit_code = _MISSING_ARGUMENT_EXIT.get(name or "", 1) if missing else 1
            if missing and name == "updatekeys" and not _config_found(ctx):
                exc.exit_code = 1  # sops looks for .sops.yaml before counting FILEs
            raise


def _config_found(ctx: click.Context) -> bool:
    from kubecrypt.sops.errors import SopsError
    from kubecrypt.sops.rules import find_config

    try:
        return find_config(_cfg(ctx, None)) is not None
    except SopsError:
        return False


# sops warns about positional arguments after FILE and uses the first (filestatus silently).
_EXTRA_ARGS = {"allow_extra_args": True}


def _warn_extra(ctx: click.Context) -> None:
    from kubecrypt.cli.sops_argv import ignored_extra_warnings

    for w in ignored_extra_warnings(ctx.args):
        click.echo(f"warning: {w}", err=True)


def _indent(ctx: click.Context) -> int | None:
    """``--indent``: no sub-command of sops 3.11 defines it; only its older form reads the
    global flag (``sops --indent 2 -d f``), kept by the group."""
    value = (ctx.obj or {}).get("sops_indent")
    return value if isinstance(value, int) else None


def _need_file(ctx: click.Context, file: str | None, legacy_only: bool = False) -> None:
    """sops' "no file specified" (exit 100): rotate always needs FILE; encrypt and decrypt
    read stdin without one, except in the older ``-e``/``-d`` form."""
    if file is None and (not legacy_only or ctx.meta.get("sops_legacy_mode")):
        from kubecrypt.sops.errors import NoFileSpecified

        raise NoFileSpecified("No file specified: name the file to work on.")


def _ignored_global_flags(f: Any) -> Any:
    for spec in _IGNORED_VALUE_FLAGS:
        names = spec.split("/")
        dest = "ignored_" + names[0][2:].replace("-", "_")
        # sops' global --indent is an int flag: "--indent x" is a usage error wherever it is
        f = click.option(*names, dest, default=None, hidden=True,
                         type=int if names[0] == "--indent" else None,
                         multiple=names[0] == "--keyservice")(f)
    for spec in (*_IGNORED_BOOL_FLAGS, *_SILENT_FLAGS):
        names = spec.split("/")
        dest = ("ignored_" if spec in _IGNORED_BOOL_FLAGS else "silent_") + \
            names[0][2:].replace("-", "_")
        f = click.option(*names, dest, is_flag=True, default=False, hidden=True)(f)
    return f


@click.group(cls=_SopsGroup)
@click.option("--config", "config", default=None, envvar="SOPS_CONFIG",
              help="Path to .sops.yaml (default: searched from the working directory up).")
@_ignored_global_flags
@click.pass_context
def sops(ctx: click.Context, config: str | None, **flags: Any) -> None:
    """SOPS-compatible encryption of YAML, JSON, dotenv, INI and binary files.

    Files written here decrypt with sops 3.11, and files sops writes decrypt here."""
    ctx.ensure_object(dict)
    ctx.obj["sops_config"] = config
    if ctx.meta.get("sops_legacy_mode") and flags["ignored_indent"] is not None:
        # sops' older form honours the global --indent (its sub-commands have none)
        ctx.obj["sops_indent"] = flags.pop("ignored_indent")
    given = ["--" + k[len("ignored_"):].replace("_", "-") for k, v in flags.items()
             if k.startswith("ignored_") and v not in (None, False, ())]
    if given:
        sub = ctx.invoked_subcommand or "the sub-command"
        one = len(given) == 1
        cmd = ctx.command.get_command(ctx, sub) if isinstance(ctx.command, click.Group) \
            else None
        takes = {o for p in (cmd.params if cmd else ()) for o in (*p.opts, *p.secondary_opts)}
        if ctx.meta.get("sops_legacy_mode"):
            click.echo(f"warning: {', '.join(given)} {'has' if one else 'have'} no effect "
                       f"on '{sub}' (sops 3.11 ignores {'it' if one else 'them'} too).",
                       err=True)
        else:
            # "give it after" only where the sub-command takes it (none takes --indent)
            hint = f"; give {'it' if one else 'them'} after '{sub}'" \
                if all(g in takes for g in given) else ""
            click.echo(f"warning: {', '.join(given)} before '{sub}' "
                       f"{'is' if one else 'are'} ignored, as sops 3.11 ignores "
                       f"{'it' if one else 'them'} there{hint}.", err=True)


def _keyservice_options(f: Any) -> Any:
    """sops' ``--keyservice`` and ``--enable-local-keyservice`` (and their variables
    SOPS_KEYSERVICE, SOPS_ENABLE_LOCAL_KEYSERVICE) on the sub-commands that take them. The
    local key service is kubecrypt itself, which sops asks first; kubecrypt has no client for a
    remote one, so a remote URI beside the local service is named in a warning and not used,
    and a remote one alone, or none at all, is refused with sops' exit code for a key service it
    cannot reach (1 encrypting, 128 decrypting)."""
    import functools
    import os

    @functools.wraps(f)
    def wrapper(*args: Any, keyservice: tuple[str, ...] = (),
                enable_local_keyservice: bool = True, **kwargs: Any) -> Any:
        from kubecrypt.cli.sops_argv import _GO_FALSE
        from kubecrypt.sops.errors import CouldNotRetrieveKey, SopsError

        uris = list(keyservice) or [u for u in os.environ.get("SOPS_KEYSERVICE", "").split(",")
                                    if u]
        source = click.get_current_context().get_parameter_source("enable_local_keyservice")
        if source == click.core.ParameterSource.DEFAULT and \
                os.environ.get("SOPS_ENABLE_LOCAL_KEYSERVICE", "") in _GO_FALSE:
            enable_local_keyservice = False
        error = SopsError if f.__name__ == "encrypt" else CouldNotRetrieveKey
        if uris and not enable_local_keyservice:
            raise error(f"kubecrypt has no key service client, so it cannot use the key service "
                        f"{uris[0]}; run kubecrypt where the keys are, without --keyservice.")
        if not enable_local_keyservice:
            raise error("--enable-local-keyservice=false leaves no key service (kubecrypt has "
                        "no client for a remote one); leave the local one enabled.")
        if uris:
            # sops asks its local service first and a remote one only for a key the local one
            # cannot use; kubecrypt has only the local one.
            click.echo(f"[warning] kubecrypt has no key service client: {', '.join(uris)} is "
                       "not used; every key is used locally, as sops' local key service uses "
                       "them first.", err=True)
        return f(*args, **kwargs)

    wrapper = click.option("--keyservice", "keyservice", multiple=True, metavar="URI",
                           help="Not used: kubecrypt has no key service client (a warning says so).")(wrapper)
    return click.option("--enable-local-keyservice/--kubecrypt-no-local-keyservice",
                        "enable_local_keyservice", default=True, show_default=False,
                        help="Use the local key service (the only one kubecrypt has).")(wrapper)


def _cfg(ctx: click.Context, config: str | None) -> str | None:
    return config or (ctx.obj or {}).get("sops_config")


# ---------------------------------------------------------------------------------- encrypt

@sops.command(context_settings=_EXTRA_ARGS)
@_keyservice_options
@click.argument("file", required=False)
@click.option("--in-place", "-i", is_flag=True, help="Write the result back to FILE.")
@click.option("--output", default=None, help="Write to this file instead of stdout.")
@_common
@_key_options
@_selection_options
@click.option("--mac-only-encrypted", is_flag=True, default=None,
              help="MAC covers only the encrypted values.")
@click.option("--shamir-secret-sharing-threshold", "shamir", type=int, default=None,
              help="Key groups needed to decrypt (with several groups).")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def encrypt(ctx: click.Context, file: str | None, in_place: bool, output: str | None,
            input_type: str | None, output_type: str | None,
            filename_override: str | None, age: str | None, pgp: str | None,
            hc_vault: str | None, kms: str | None, encryption_context: str | None,
            aws_profile: str | None, gcp_kms: str | None, azure_kv: str | None,
            mac_only_encrypted: bool | None, shamir: int | None,
            config: str | None, **selection: str | None) -> None:
    """Encrypt FILE (or stdin) and print it (or write it with -i / --output)."""
    from kubecrypt.sops.ops import encrypt as do_encrypt

    _warn_extra(ctx)
    _need_file(ctx, file, legacy_only=True)
    job = _job(file, input_type, output_type, _indent(ctx), filename_override, _cfg(ctx, config))
    job.check_output(in_place, output)
    spec = job.encrypt_spec(age, pgp, hc_vault, selection, mac_only_encrypted, shamir,
                            kms, encryption_context, aws_profile, gcp_kms, azure_kv)
    _warn(job)
    data = do_encrypt(job.read(), job.store(), spec, out_store=job.store(job.out_fmt))
    _write(job, data, in_place, output)


# ---------------------------------------------------------------------------------- decrypt

@sops.command(context_settings=_EXTRA_ARGS)
@_keyservice_options
@click.argument("file", required=False)
@click.option("--in-place", "-i", is_flag=True, help="Write the plaintext back to FILE.")
@click.option("--output", default=None, help="Write to this file instead of stdout.")
@_common
@click.option("--extract", default=None, help='Print only this part, e.g. \'["data"]["key"]\'.')
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC (values still are).")
@click.option("--decryption-order", default=None, help="Key types to try first, e.g. age,pgp.")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def decrypt(ctx: click.Context, file: str | None, in_place: bool, output: str | None,
            input_type: str | None, output_type: str | None,
            filename_override: str | None, extract: str | None, ignore_mac: bool,
            decryption_order: str | None, config: str | None) -> None:
    """Decrypt FILE (or stdin) and print the plaintext."""
    from kubecrypt.sops.ops import open_file

    _warn_extra(ctx)
    _need_file(ctx, file, legacy_only=True)
    job = _job(file, input_type, output_type, _indent(ctx), filename_override,
               _cfg(ctx, config), need_name=False)
    job.check_output(in_place, output)
    if extract:  # sops checks the path before it reads the input (stdin too): exit 91
        from kubecrypt.sops.paths import parse_path

        parse_path(extract)
    opened = open_file(job.read(), job.store(), ignore_mac, _order(decryption_order))
    out_store = job.store(job.out_fmt)
    if extract:
        from kubecrypt.sops.paths import extract_bytes

        data = extract_bytes(opened.branches, extract, out_store, job.in_fmt)
    else:
        data = out_store.emit_plain(opened.branches)
    _write(job, data, in_place, output)


# ---------------------------------------------------------------------------------- edit

@sops.command(context_settings=_EXTRA_ARGS)
@_keyservice_options
@click.argument("file")
@_common
@_key_options
@_selection_options
@click.option("--mac-only-encrypted", is_flag=True, default=None,
              help="New files: MAC covers only the encrypted values.")
@click.option("--shamir-secret-sharing-threshold", "shamir", type=int, default=None,
              help="New files: key groups needed to decrypt.")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def edit(ctx: click.Context, file: str, input_type: str | None, output_type: str | None,
         filename_override: str | None, age: str | None, pgp: str | None,
         hc_vault: str | None, kms: str | None, encryption_context: str | None,
         aws_profile: str | None, gcp_kms: str | None, azure_kv: str | None,
         mac_only_encrypted: bool | None, shamir: int | None,
         ignore_mac: bool, decryption_order: str | None, config: str | None,
         **selection: str | None) -> None:
    """Open the plaintext of FILE in $SOPS_EDITOR / $EDITOR and re-encrypt what you save.

    A FILE that does not exist yet is created from an example, encrypted to the keys given
    or to the matching .sops.yaml rule."""
    from kubecrypt.sops.edit import edit_file

    _warn_extra(ctx)
    job = _job(file, input_type, output_type, None, filename_override, _cfg(ctx, config),
               must_exist=False)
    exists = Path(file).exists()
    spec = None if exists else job.encrypt_spec(age, pgp, hc_vault, selection,
                                                mac_only_encrypted, shamir, kms,
                                                encryption_context, aws_profile, gcp_kms,
                                                azure_kv)
    edit_file(Path(file), job.store(), ignore_mac, spec, out_store=job.store(job.out_fmt),
              order=_order(decryption_order))


# ---------------------------------------------------------------------------------- rotate

@sops.command(context_settings=_EXTRA_ARGS)
@_keyservice_options
@click.argument("file", required=False)
@click.option("--in-place", "-i", is_flag=True, help="Write the result back to FILE.")
@click.option("--output", default=None, help="Write to this file instead of stdout.")
@_common
@click.option("--add-age", default=None, help="Comma-separated age recipients to add.")
@click.option("--rm-age", default=None, help="Comma-separated age recipients to remove.")
@click.option("--add-pgp", default=None, help="PGP fingerprints to add.")
@click.option("--rm-pgp", default=None, help="PGP fingerprints to remove.")
@click.option("--add-hc-vault-transit", default=None, help="Vault transit URIs to add.")
@click.option("--rm-hc-vault-transit", default=None, help="Vault transit URIs to remove.")
@click.option("--add-kms", default=None, help="AWS KMS ARNs to add (ARN+role_ARN form too).")
@click.option("--rm-kms", default=None, help="AWS KMS ARNs to remove.")
@click.option("--add-gcp-kms", default=None, help="GCP KMS key names to add.")
@click.option("--rm-gcp-kms", default=None, help="GCP KMS key names to remove.")
@click.option("--add-azure-kv", default=None, help="Azure Key Vault key URLs to add.")
@click.option("--rm-azure-kv", default=None, help="Azure Key Vault key URLs to remove.")
@_aws_options
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def rotate(ctx: click.Context, file: str | None, in_place: bool, output: str | None,
           input_type: str | None, output_type: str | None,
           filename_override: str | None, add_age: str | None, rm_age: str | None,
           add_pgp: str | None, rm_pgp: str | None, add_hc_vault_transit: str | None,
           rm_hc_vault_transit: str | None, add_kms: str | None, rm_kms: str | None,
           add_gcp_kms: str | None, rm_gcp_kms: str | None, add_azure_kv: str | None,
           rm_azure_kv: str | None, encryption_context: str | None, aws_profile: str | None,
           decryption_order: str | None, config: str | None) -> None:
    """Generate a new data key and re-encrypt every value (optionally changing recipients)."""
    from kubecrypt.sops.ops import rotate as do_rotate
    from kubecrypt.sops.rules import keys_from, pgp_fingerprints, split_list
    from kubecrypt.sops.session import kms_context

    _warn_extra(ctx)
    _need_file(ctx, file)
    job = _job(file, input_type, output_type, _indent(ctx), filename_override, _cfg(ctx, config))
    job.check_output(in_place, output)
    kctx, prof = kms_context(encryption_context), aws_profile or ""
    add = keys_from(split_list(add_age), pgp_fingerprints(add_pgp), split_list(add_hc_vault_transit),
                    split_list(add_kms), kctx, prof, split_list(add_gcp_kms),
                    split_list(add_azure_kv))
    rm = keys_from(split_list(rm_age), pgp_fingerprints(rm_pgp), split_list(rm_hc_vault_transit),
                   split_list(rm_kms), kctx, prof, split_list(rm_gcp_kms),
                   split_list(rm_azure_kv))
    data = do_rotate(job.read(), job.store(), add, rm, _order(decryption_order),
                     out_store=job.store(job.out_fmt))
    _write(job, data, in_place, output)


# ---------------------------------------------------------------------------------- updatekeys

@sops.command()
@_keyservice_options
@click.argument("files", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def updatekeys(ctx: click.Context, files: tuple[str, ...], yes: bool, input_type: str | None,
               config: str | None) -> None:
    """Make the keys of FILES match their .sops.yaml creation rule (same data key)."""
    from kubecrypt.cli.sops_updatekeys import run

    run(files, yes, input_type, _cfg(ctx, config), _job)


# ---------------------------------------------------------------------------------- set / unset

# A VALUE such as -0 or -1.5 comes after FILE, where no option is read (sops reads it as the
# value); an argument more is counted with the others (exit 100), as sops counts them.
@sops.command(name="set", context_settings=_EXTRA_ARGS)
@_keyservice_options
@click.argument("file")
@click.argument("index")
@click.argument("value", required=False)
@click.option("--value-file", is_flag=True, help="VALUE is a file holding the JSON value.")
@click.option("--value-stdin", is_flag=True, help="Read the JSON value from stdin.")
@click.option("--idempotent", is_flag=True, help="Do not rewrite the file if nothing changes.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@_fmt_option("--output-type", "format FILE is written back in (default: from its name)")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.pass_context
def set_(ctx: click.Context, file: str, index: str, value: str | None, value_file: bool,
         value_stdin: bool, idempotent: bool, input_type: str | None, output_type: str | None,
         ignore_mac: bool, decryption_order: str | None) -> None:
    """Set the value at INDEX (e.g. '["data"]["key"]') to VALUE (JSON), in place."""
    from kubecrypt.sops.errors import SopsError
    from kubecrypt.sops.ops import atomic_write, open_file, reseal
    from kubecrypt.sops.paths import json_value, set_value

    if value_stdin and value_file:
        raise SopsError("Use either --value-file or --value-stdin, not both.")
    if (value is None) != value_stdin or ctx.args:  # sops counts the arguments first
        from kubecrypt.sops.errors import NoFileSpecified

        raise NoFileSpecified(
            "set needs FILE INDEX VALUE (FILE INDEX with --value-stdin).")
    # sops' order: the stores, the index, the value, then the file (which set never checks
    # for first: a missing one is "Error reading file", exit 2, after a bad index's exit 7)
    job = _job(file, input_type, output_type, config=_cfg(ctx, None), must_exist=False)
    path = _index(index, "set")
    if value_stdin:
        text = sys.stdin.read()
    elif value_file:
        assert value is not None
        try:
            text = Path(value).read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:  # sops: "open v.json: no such file or directory", exit 1
            raise SopsError(f"Cannot read the value file {value}: "
                            f"{exc.strerror or exc}; give an existing file.") from None
    else:
        assert value is not None
        text = value
    new_value = json_value(text)
    order = _order(decryption_order)
    store = job.store()
    opened = open_file(job.read(), store, ignore_mac, order, keep_ivs=True)
    changed = set_value(opened.branches, path, new_value)
    if idempotent and not changed:
        return
    atomic_write(file, reseal(opened, job.store(job.out_fmt)))


@sops.command(context_settings=_EXTRA_ARGS)
@click.argument("file")
@click.argument("index")
@click.option("--idempotent", is_flag=True, help="A missing key is not an error.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@_fmt_option("--output-type", "format FILE is written back in (default: from its name)")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.pass_context
def unset(ctx: click.Context, file: str, index: str, idempotent: bool, input_type: str | None,
          output_type: str | None, ignore_mac: bool, decryption_order: str | None) -> None:
    """Remove the key or list element at INDEX, in place."""
    from kubecrypt.sops.errors import SopsError
    from kubecrypt.sops.ops import atomic_write, open_file, reseal
    from kubecrypt.sops.paths import unset_value

    if ctx.args:  # sops counts the positional arguments first
        from kubecrypt.sops.errors import NoFileSpecified

        raise NoFileSpecified("unset needs FILE INDEX and nothing more.")
    job = _job(file, input_type, output_type, config=_cfg(ctx, None), must_exist=False)
    path = _index(index, "unset")
    order = _order(decryption_order)
    store = job.store()
    opened = open_file(job.read(), store, ignore_mac, order, keep_ivs=True)
    if not unset_value(opened.branches, path):
        if idempotent:
            return
        raise SopsError(f"Error unsetting value: component {index} not found in {file}.")
    atomic_write(file, reseal(opened, job.store(job.out_fmt)))


@sops.command(context_settings=_EXTRA_ARGS)
@click.argument("file")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
def filestatus(file: str, input_type: str | None) -> None:
    """Print {"encrypted":true} or {"encrypted":false} without any key."""
    from kubecrypt.sops.errors import CouldNotReadEncrypted, MetadataNotFound, SopsError
    from kubecrypt.sops.metadata import Metadata
    from kubecrypt.sops.ops import load_encrypted

    # As sops: a file without sops metadata is not encrypted; one that cannot be read, does not
    # parse, or whose metadata is damaged fails (exit 1) rather than being called either.
    try:
        job = _job(file, input_type)
        _, raw = load_encrypted(job.read(), job.store())
        md = Metadata.from_tree(raw, check_version=False)
        if not md.key_groups:
            raise CouldNotReadEncrypted("No keys found in file.")
        # sops' cfs: encrypted only with both a version and a MAC (neither is parsed)
        enc = bool(md.version) and bool(md.mac)
    except MetadataNotFound:
        enc = False
    except SopsError as exc:
        raise CouldNotReadEncrypted(f"Cannot check the file status: {exc}") from None
    click.echo('{"encrypted":%s}' % ("true" if enc else "false"))


# ---------------------------------------------------------------------------------- exec

@sops.command(name="exec-env")
@_keyservice_options
@click.argument("file")
@click.argument("command")
@click.option("--pristine", is_flag=True, help="Start the command with only the file's values.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.pass_context
def exec_env(ctx: click.Context, file: str, command: str, pristine: bool,
             input_type: str | None, ignore_mac: bool, decryption_order: str | None) -> None:
    """Run COMMAND (with /bin/sh) with the file's top-level values in its environment."""
    from kubecrypt.sops.execs import env_from, run_with_env
    from kubecrypt.sops.ops import open_file

    job = _job(file, input_type, config=_cfg(ctx, None))
    opened = open_file(job.read(), job.store(), ignore_mac, _order(decryption_order))
    ctx.exit(run_with_env(command, env_from(opened.branches), pristine))


@sops.command(name="exec-file")
@_keyservice_options
@click.argument("file")
@click.argument("command")
@click.option("--no-fifo", is_flag=True, help="Accepted for sops compatibility (a file is used).")
@click.option("--filename", default="tmp-file", help="Name of the temporary plaintext file.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@_fmt_option("--output-type", "format of the plaintext file")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.pass_context
def exec_file(ctx: click.Context, file: str, command: str, no_fifo: bool, filename: str,
              input_type: str | None, output_type: str | None, ignore_mac: bool,
              decryption_order: str | None) -> None:
    """Run COMMAND with {} replaced by the path of a private, temporary plaintext file."""
    from kubecrypt.sops.execs import run_with_file
    from kubecrypt.sops.ops import open_file

    job = _job(file, input_type, output_type, config=_cfg(ctx, None))
    opened = open_file(job.read(), job.store(), ignore_mac, _order(decryption_order))
    plain = job.store(job.out_fmt).emit_plain(opened.branches)
    ctx.exit(run_with_file(command, plain, filename))
