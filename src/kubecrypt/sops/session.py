"""One command's view of its input: which file, which formats (``--input-type``,
``--output-type`` or the file name, as sops decides), which ``.sops.yaml`` and which keys and
selection a new file gets. Shared by every ``kubecrypt sops`` sub-command."""

from __future__ import annotations

import os
import sys

from kubecrypt.sops.datakey import DEFAULT_DECRYPTION_ORDER
from kubecrypt.sops.errors import (
    ConflictingParameters,
    CouldNotReadInput,
    NoFileSpecified,
    SopsError,
)
from kubecrypt.sops.ops import EncryptSpec
from kubecrypt.sops.rules import (
    Config,
    age_recipients,
    find_config,
    flat_group,
    keys_from,
    pgp_fingerprints,
    rule_for,
    split_list,
)
from kubecrypt.sops.stores import FORMATS, format_for_path, store_for
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.tree import Selection


class FileJob:
    """Resolves the input file, formats, config and stores of one command."""

    def __init__(self, file: str | None, input_type: str | None = None,
                 output_type: str | None = None, indent: int | None = None,
                 filename_override: str | None = None, config: str | None = None,
                 need_name: bool = True, must_exist: bool = True) -> None:
        # As sops: only a missing FILE reads stdin; "-" is a file name like any other.
        self.file = file
        if self.file is not None and must_exist and not os.path.exists(self.file):
            from pathlib import Path  # only for the message: pathlib costs start-up time

            raise NoFileSpecified(
                f'cannot operate on non-existent file "{Path(self.file).absolute()}"')
        self.name = filename_override or self.file
        if self.name is None and need_name:
            # sops 3.11 refuses this whatever --input-type says (exit 8): the name also picks
            # the output format and the creation rule.
            raise ConflictingParameters(
                "Reading from stdin needs --filename-override NAME: the name picks the output "
                "format and the .sops.yaml creation rule.")
        # Stdin without a name is sops' empty path: the binary store unless a type is given.
        detected = format_for_path(self.name or "")
        self.warnings: list[str] = []
        for flag, given in (("--input-type", input_type), ("--output-type", output_type)):
            if given and given not in FORMATS:
                # sops ignores an unknown word silently; say so instead of surprising anyone.
                self.warnings.append(
                    f"{flag} {given!r} is not one of {', '.join(FORMATS)}; using the type "
                    f"from the file name ({detected}).")
        self.in_fmt = input_type if input_type in FORMATS else detected
        # As sops: without --output-type the output is in the format of the file's name,
        # even when --input-type says otherwise.
        self.out_fmt = output_type if output_type in FORMATS else detected
        self.indent = indent
        self._config_path = config
        self._config: Config | None = None
        self._config_loaded = False

    @property
    def config(self) -> Config | None:
        if not self._config_loaded:
            self._config = find_config(self._config_path)
            self._config_loaded = True
        return self._config

    def store(self, fmt: str | None = None) -> Store:
        fmt = fmt or self.in_fmt
        indent = self.indent
        if indent is None and fmt in ("yaml", "json") and self.config is not None:
            indent = self.config.store_indent(fmt)
        return store_for(fmt, indent)

    def read(self) -> bytes:
        try:
            if self.file is None:
                return sys.stdin.buffer.read()
            with open(self.file, "rb") as f:
                return f.read()
        except OSError as exc:
            raise CouldNotReadInput(f"Could not read {self.file}: {exc.strerror}.") from None

    def check_output(self, in_place: bool, output: str | None) -> None:
        if in_place and output:
            raise ConflictingParameters("Use either --in-place or --output, not both.")
        if in_place and self.file is None:
            raise ConflictingParameters("--in-place needs a file, not stdin.")

    def encrypt_spec(self, age: str | None = None, pgp: str | None = None,
                     hc_vault: str | None = None,
                     selection: dict[str, str | None] | None = None,
                     mac_only: bool | None = None, shamir: int | None = None,
                     kms: str | None = None, encryption_context: str | None = None,
                     aws_profile: str | None = None, gcp_kms: str | None = None,
                     azure_kv: str | None = None) -> EncryptSpec:
        """Keys and rules for a new file: command-line keys replace the rule's (one group),
        a command-line selection field overrides the rule's same field; as sops does, a
        config without a matching rule is an error even when keys are given."""
        kms_ctx = kms_context(encryption_context)
        cli_keys = keys_from(age_recipients(age or ""), pgp_fingerprints(pgp), split_list(hc_vault),
                             split_list(kms), kms_ctx, aws_profile or "",
                             split_list(gcp_kms), split_list(azure_kv))
        cfg = self.config
        # sops 3.11 loads the rule before reading --encryption-context: rules never get it.
        rule = rule_for(cfg, self.name or "stdin") if cfg and cfg.has_creation_rules else None
        given = {k: v for k, v in (selection or {}).items() if v}
        if given and self.in_fmt == "binary":
            self.warnings.append(
                "selection rules are ignored for binary files: the whole file is one value.")
        if self.in_fmt == "binary" or not (rule and rule.selection_given):
            sel = Selection.from_fields(given, "the command line") if given else (
                rule.selection if rule else Selection())
        else:
            # sops merges field by field: a flag replaces the rule's value of the same field,
            # and a flag for another field is a second rule (exit 8, cmd/sops/main.go).
            fields = {rule.selection.field: rule.selection.value, **given}
            sel = Selection.from_fields(fields, "the command line and the creation rule")
        groups = flat_group(cli_keys) if cli_keys else (rule.key_groups if rule else [])
        if not groups:
            # sops 3.11 exits 1 here (a plain error), not with its NoEncryptionKeyFound code.
            raise SopsError(
                "config file not found, or has no creation rules, and no keys provided "
                "through command line options")
        thr = shamir if shamir is not None else (rule.shamir_threshold if rule else 0)
        mac = bool(mac_only) if mac_only is not None else bool(rule and rule.mac_only_encrypted)
        return EncryptSpec(key_groups=groups, selection=sel, shamir_threshold=thr,
                           mac_only_encrypted=mac)


def write_stdout(data: bytes) -> None:
    """The output on stdout; a full disk or closed descriptor is one sentence and exit 1, as
    in sops (a closed pipe stays the caller's BrokenPipeError: exit 1, nothing printed)."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise SopsError(
            f"Could not write the output to standard output: {exc.strerror or exc}.") from None


def kms_context(value: str | None) -> dict[str, str] | None:
    """``--encryption-context key:value,...`` (sops rejects a malformed one outright)."""
    if not value:
        return None
    from kubecrypt.sops.keysources.base import KeySourceError
    from kubecrypt.sops.keysources.kms import parse_context

    try:
        return parse_context(value)
    except KeySourceError as exc:
        err = SopsError(f"Invalid KMS encryption context format: {exc}")
        err.exit_code = 6  # sops' ErrorInvalidKMSEncryptionContextFormat
        raise err from None


def decryption_order(value: str | None) -> tuple[str, ...]:
    """``--decryption-order`` / ``SOPS_DECRYPTION_ORDER``: key types to try first."""
    raw = value or os.environ.get("SOPS_DECRYPTION_ORDER")
    if not raw:
        return DEFAULT_DECRYPTION_ORDER
    items = [x.strip() for x in raw.split(",") if x.strip()]
    if len(set(items)) != len(items):
        err = SopsError("Duplicate key type in --decryption-order; name each type once.")
        err.exit_code = 112
        raise err
    return tuple(items)
