"""``kubecrypt sops``: SOPS-compatible file encryption with sops' flags and exit codes.

Kept lean on purpose (only click at import time; the format code is imported inside each
command) so ``kubecrypt sops decrypt`` starts quickly."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

FORMATS = ["yaml", "json", "dotenv", "ini", "binary"]


def _fmt_option(name: str, help_: str) -> Any:
    # sops silently ignores an unknown word and falls back to the extension.
    return click.option(name, default=None, metavar="FORMAT", help=help_)


def _common(f: Any) -> Any:
    f = _fmt_option("--input-type", "yaml, json, dotenv, ini or binary (default: by extension)")(f)
    f = _fmt_option("--output-type", "output format (default: the input type)")(f)
    f = click.option("--indent", type=int, default=None, help="Indentation of YAML/JSON output.")(f)
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
    f = click.option("--age", "-a", "age", default=None,
                     help="Comma-separated age recipients.")(f)
    f = click.option("--pgp", "-p", "pgp", default=None,
                     help="Comma-separated PGP fingerprints.")(f)
    f = click.option("--hc-vault-transit", "hc_vault", default=None,
                     help="Comma-separated Vault transit key URIs "
                          "(https://vault:8200/v1/transit/keys/name).")(f)
    return f


def _order(value: str | None) -> tuple[str, ...]:
    from kubecrypt.sops.datakey import DEFAULT_DECRYPTION_ORDER
    from kubecrypt.sops.errors import SopsError

    raw = value or os.environ.get("SOPS_DECRYPTION_ORDER")
    if not raw:
        return DEFAULT_DECRYPTION_ORDER
    items = [x.strip() for x in raw.split(",") if x.strip()]
    if len(set(items)) != len(items):
        err = SopsError("Duplicate key type in --decryption-order; name each type once.")
        err.exit_code = 112
        raise err
    return tuple(items)


class _Ctx:
    """What every command needs: input path, formats, config."""

    def __init__(self, file: str | None, input_type: str | None, output_type: str | None,
                 indent: int | None, filename_override: str | None, config: str | None,
                 need_name: bool = True) -> None:
        from kubecrypt.sops.errors import ConflictingParameters, NoFileSpecified
        from kubecrypt.sops.rules import find_config
        from kubecrypt.sops.stores import FORMATS as KNOWN
        from kubecrypt.sops.stores import format_for_path

        self.file = None if file in (None, "-") else file
        if self.file is not None and not Path(self.file).exists():
            raise NoFileSpecified(
                f'cannot operate on non-existent file "{Path(self.file).absolute()}"')
        self.name = filename_override or self.file
        if self.name is None and need_name and input_type not in KNOWN:
            raise ConflictingParameters(
                "Reading from stdin needs --filename-override (or --input-type) to pick the "
                "format and creation rule.")
        detected = format_for_path(self.name or "stdin.yaml")
        for flag, given in (("--input-type", input_type), ("--output-type", output_type)):
            if given and given not in KNOWN:
                # sops ignores an unknown word silently; say so instead of surprising anyone.
                click.echo(f"warning: {flag} {given!r} is not one of {', '.join(KNOWN)}; "
                           f"using the type from the file name ({detected}).", err=True)
        self.in_fmt = input_type if input_type in KNOWN else detected
        self.out_fmt = output_type if output_type in KNOWN else self.in_fmt
        self._config_path = config
        self._config_loaded = False
        self._config: Any = None
        self._find = find_config
        self.indent = indent

    @property
    def config(self) -> Any:
        if not self._config_loaded:
            self._config = self._find(self._config_path)
            self._config_loaded = True
        return self._config

    def store(self, fmt: str) -> Any:
        from kubecrypt.sops.stores import store_for

        indent = self.indent
        if indent is None and fmt in ("yaml", "json") and self.config is not None:
            indent = self.config.store_indent(fmt)
        return store_for(fmt, indent)

    def read(self) -> bytes:
        from kubecrypt.sops.errors import CouldNotReadInput

        try:
            if self.file is None:
                return sys.stdin.buffer.read()
            return Path(self.file).read_bytes()
        except OSError as exc:
            raise CouldNotReadInput(f"Could not read {self.file}: {exc.strerror}.") from None


def _write(ctx: _Ctx, data: bytes, in_place: bool, output: str | None) -> None:
    from kubecrypt.sops.ops import atomic_write

    if in_place:
        assert ctx.file is not None
        atomic_write(ctx.file, data)
    elif output:
        atomic_write(output, data, 0o600)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _check_in_place(ctx: _Ctx, in_place: bool, output: str | None) -> None:
    from kubecrypt.sops.errors import ConflictingParameters

    if in_place and output:
        raise ConflictingParameters("Use either --in-place or --output, not both.")
    if in_place and ctx.file is None:
        raise ConflictingParameters("--in-place needs a file, not stdin.")


@click.group()
@click.option("--config", "config", default=None, envvar="SOPS_CONFIG",
              help="Path to .sops.yaml (default: searched from the working directory up).")
@click.option("--disable-version-check", is_flag=True, hidden=True)
@click.pass_context
def sops(ctx: click.Context, config: str | None, disable_version_check: bool) -> None:
    """SOPS-compatible encryption of YAML, JSON, dotenv, INI and binary files.

    Files written here decrypt with sops 3.11, and files sops writes decrypt here."""
    ctx.ensure_object(dict)
    ctx.obj["sops_config"] = config


def _cfg(ctx: click.Context, config: str | None) -> str | None:
    return config or (ctx.obj or {}).get("sops_config")


# ---------------------------------------------------------------------------------- encrypt

@sops.command()
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
            input_type: str | None, output_type: str | None, indent: int | None,
            filename_override: str | None, age: str | None, pgp: str | None,
            hc_vault: str | None, mac_only_encrypted: bool | None, shamir: int | None,
            config: str | None, **selection: str | None) -> None:
    """Encrypt FILE (or stdin) and print it (or write it with -i / --output)."""
    from kubecrypt.sops.ops import encrypt as do_encrypt

    c = _Ctx(file, input_type, output_type, indent, filename_override, _cfg(ctx, config))
    _check_in_place(c, in_place, output)
    spec = _spec(c, age, pgp, hc_vault, selection, mac_only_encrypted, shamir)
    data = do_encrypt(c.read(), c.store(c.in_fmt), spec, out_store=c.store(c.out_fmt))
    _write(c, data, in_place, output)


def _spec(c: _Ctx, age: str | None, pgp: str | None, hc_vault: str | None,
          selection: dict[str, str | None], mac_only: bool | None, shamir: int | None) -> Any:
    from kubecrypt.sops.errors import NoEncryptionKeyFound
    from kubecrypt.sops.ops import EncryptSpec
    from kubecrypt.sops.rules import _list, flat_group, keys_from, rule_for
    from kubecrypt.sops.tree import Selection

    cli_keys = keys_from(_list(age), _list(pgp), _list(hc_vault))
    cfg = c.config
    rule = rule_for(cfg, c.name or "stdin") if cfg is not None else None
    given = {k: v for k, v in selection.items() if v}
    sel = Selection.from_fields(given, "the command line") if given else (
        rule.selection if rule else Selection())
    groups = flat_group(cli_keys) if cli_keys else (rule.key_groups if rule else [])
    if not groups:
        raise NoEncryptionKeyFound(
            "config file not found, or has no creation rules, and no keys provided through "
            "command line options")
    thr = shamir if shamir is not None else (rule.shamir_threshold if rule else 0)
    mac = bool(mac_only) if mac_only is not None else bool(rule and rule.mac_only_encrypted)
    return EncryptSpec(key_groups=groups, selection=sel, shamir_threshold=thr,
                       mac_only_encrypted=mac)


# ---------------------------------------------------------------------------------- decrypt

@sops.command()
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
            input_type: str | None, output_type: str | None, indent: int | None,
            filename_override: str | None, extract: str | None, ignore_mac: bool,
            decryption_order: str | None, config: str | None) -> None:
    """Decrypt FILE (or stdin) and print the plaintext."""
    from kubecrypt.sops.ops import open_file

    c = _Ctx(file, input_type, output_type, indent, filename_override, _cfg(ctx, config),
             need_name=False)
    _check_in_place(c, in_place, output)
    opened = open_file(c.read(), c.store(c.in_fmt), ignore_mac, _order(decryption_order))
    out_store = c.store(c.out_fmt)
    if extract:
        from kubecrypt.sops.paths import extract as do_extract
        from kubecrypt.sops.paths import parse_path
        from kubecrypt.sops.tree import Branch

        v = do_extract(opened.branches, parse_path(extract))
        data = out_store.emit_value(v) if isinstance(v, (Branch, list)) else _raw_scalar(v)
    else:
        data = out_store.emit_plain(opened.branches)
    _write(c, data, in_place, output)


def _raw_scalar(v: object) -> bytes:
    from kubecrypt.sops.values import format_float_g

    if isinstance(v, bytes):
        return v
    if v is None:
        return b"null"
    if isinstance(v, bool):
        return b"true" if v else b"false"
    if isinstance(v, float):
        return format_float_g(v).encode()
    return str(v).encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------- edit

@sops.command()
@click.argument("file")
@_common
@_key_options
@_selection_options
@click.option("--mac-only-encrypted", is_flag=True, default=None,
              help="New files: MAC covers only the encrypted values.")
@click.option("--shamir-secret-sharing-threshold", "shamir", type=int, default=None,
              help="New files: key groups needed to decrypt.")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def edit(ctx: click.Context, file: str, input_type: str | None, output_type: str | None,
         indent: int | None, filename_override: str | None, age: str | None, pgp: str | None,
         hc_vault: str | None, mac_only_encrypted: bool | None, shamir: int | None,
         ignore_mac: bool, config: str | None, **selection: str | None) -> None:
    """Open the plaintext of FILE in $SOPS_EDITOR / $EDITOR and re-encrypt what you save.

    A FILE that does not exist yet is created from an example, encrypted to the keys given
    or to the matching .sops.yaml rule."""
    from kubecrypt.sops.edit import edit_file

    exists = Path(file).exists()
    c = _Ctx(file if exists else None, input_type, output_type, indent,
             filename_override or file, _cfg(ctx, config))
    spec = None if exists else _spec(c, age, pgp, hc_vault, selection, mac_only_encrypted,
                                     shamir)
    edit_file(Path(file), c.store(c.in_fmt), ignore_mac, spec)


# ---------------------------------------------------------------------------------- rotate

@sops.command()
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
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def rotate(ctx: click.Context, file: str | None, in_place: bool, output: str | None,
           input_type: str | None, output_type: str | None, indent: int | None,
           filename_override: str | None, add_age: str | None, rm_age: str | None,
           add_pgp: str | None, rm_pgp: str | None, add_hc_vault_transit: str | None,
           rm_hc_vault_transit: str | None, decryption_order: str | None,
           config: str | None) -> None:
    """Generate a new data key and re-encrypt every value (optionally changing recipients)."""
    from kubecrypt.sops.ops import rotate as do_rotate
    from kubecrypt.sops.rules import _list, keys_from

    c = _Ctx(file, input_type, output_type, indent, filename_override, _cfg(ctx, config))
    _check_in_place(c, in_place, output)
    add = keys_from(_list(add_age), _list(add_pgp), _list(add_hc_vault_transit))
    rm = keys_from(_list(rm_age), _list(rm_pgp), _list(rm_hc_vault_transit))
    data = do_rotate(c.read(), c.store(c.in_fmt), add, rm, _order(decryption_order))
    _write(c, data, in_place, output)


# ---------------------------------------------------------------------------------- updatekeys

@sops.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@click.option("--config", default=None, help="Path to .sops.yaml.")
@click.pass_context
def updatekeys(ctx: click.Context, files: tuple[str, ...], yes: bool, input_type: str | None,
               config: str | None) -> None:
    """Make the keys of FILES match their .sops.yaml creation rule (same data key)."""
    from kubecrypt.sops.errors import SopsError
    from kubecrypt.sops.ops import atomic_write
    from kubecrypt.sops.ops import updatekeys as do_update
    from kubecrypt.sops.rules import rule_for

    for f in files:
        c = _Ctx(f, input_type, None, None, None, _cfg(ctx, config))
        if c.config is None:
            raise SopsError("updatekeys needs a .sops.yaml with a creation rule for " + f + ".")
        rule = rule_for(c.config, f)
        new, changes = do_update(c.read(), c.store(c.in_fmt), rule.key_groups,
                                 rule.shamir_threshold)
        if not changes:
            click.echo(f"File {f} already up to date", err=True)
            continue
        click.echo("The following changes will be made to the file's groups:", err=True)
        click.echo("\n".join(changes), err=True)
        if not yes and not click.confirm("Is this okay?", err=True):
            click.echo(f"File {f} left unchanged", err=True)
            continue
        atomic_write(f, new)
        click.echo(f"File {f} synced with new keys", err=True)


# ---------------------------------------------------------------------------------- set / unset

@sops.command(name="set")
@click.argument("file")
@click.argument("index")
@click.argument("value", required=False)
@click.option("--value-file", is_flag=True, help="VALUE is a file holding the JSON value.")
@click.option("--value-stdin", is_flag=True, help="Read the JSON value from stdin.")
@click.option("--idempotent", is_flag=True, help="Do not rewrite the file if nothing changes.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@_fmt_option("--output-type", "ignored (kept for sops compatibility)")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.pass_context
def set_(ctx: click.Context, file: str, index: str, value: str | None, value_file: bool,
         value_stdin: bool, idempotent: bool, input_type: str | None, output_type: str | None,
         ignore_mac: bool, decryption_order: str | None) -> None:
    """Set the value at INDEX (e.g. '["data"]["key"]') to VALUE (JSON), in place."""
    from kubecrypt.sops.errors import InvalidSetFormat
    from kubecrypt.sops.ops import atomic_write, open_file, reseal
    from kubecrypt.sops.paths import json_value, parse_path, set_value

    c = _Ctx(file, input_type, None, None, None, _cfg(ctx, None))
    if value_stdin:
        text = sys.stdin.read()
    elif value_file:
        if value is None:
            raise InvalidSetFormat("--value-file needs the file name as VALUE.")
        text = Path(value).read_text()
    elif value is None:
        raise InvalidSetFormat("set needs a VALUE (JSON), --value-file or --value-stdin.")
    else:
        text = value
    store = c.store(c.in_fmt)
    opened = open_file(c.read(), store, ignore_mac, _order(decryption_order), keep_ivs=True)
    changed = set_value(opened.branches, parse_path(index), json_value(text))
    if idempotent and not changed:
        return
    atomic_write(file, reseal(opened, store))


@sops.command()
@click.argument("file")
@click.argument("index")
@click.option("--idempotent", is_flag=True, help="A missing key is not an error.")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC.")
@click.option("--decryption-order", default=None, help="Key types to try first.")
@click.pass_context
def unset(ctx: click.Context, file: str, index: str, idempotent: bool, input_type: str | None,
          ignore_mac: bool, decryption_order: str | None) -> None:
    """Remove the key or list element at INDEX, in place."""
    from kubecrypt.sops.errors import SopsError
    from kubecrypt.sops.ops import atomic_write, open_file, reseal
    from kubecrypt.sops.paths import parse_path, unset_value

    c = _Ctx(file, input_type, None, None, None, _cfg(ctx, None))
    store = c.store(c.in_fmt)
    opened = open_file(c.read(), store, ignore_mac, _order(decryption_order), keep_ivs=True)
    if not unset_value(opened.branches, parse_path(index)):
        if idempotent:
            return
        raise SopsError(f"Error unsetting value: component {index} not found in {file}.")
    atomic_write(file, reseal(opened, store))


@sops.command()
@click.argument("file")
@_fmt_option("--input-type", "yaml, json, dotenv, ini or binary")
def filestatus(file: str, input_type: str | None) -> None:
    """Print {"encrypted":true} or {"encrypted":false} without any key."""
    from kubecrypt.sops.errors import SopsError

    c = _Ctx(file, input_type, None, None, None, None)
    try:
        c.store(c.in_fmt).load_encrypted(c.read())
        enc = True
    except SopsError:
        enc = False
    click.echo('{"encrypted":%s}' % ("true" if enc else "false"))
