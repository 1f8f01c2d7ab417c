"""``kubecrypt sops decrypt FILE`` and ``kubecrypt sops encrypt [--age R] [selection] FILE``
without click: the same calls, output, warnings, errors and exit codes as the click commands
in :mod:`kubecrypt.cli.sops`, minus click's ~20 ms of start-up. :func:`run` returns None for
any other form (another flag, stdin, an environment variable that would set an option this
path does not read), and the caller hands the command to click unchanged."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubecrypt.sops.session import FileJob

# Options the encrypt fast path reads (each takes one value), by the keyword of
# FileJob.encrypt_spec's ``selection`` argument or its own name.
_ENCRYPT_OPTIONS = {
    "--age": "age", "-a": "age",
    "--encrypted-regex": "encrypted_regex", "--unencrypted-regex": "unencrypted_regex",
    "--encrypted-suffix": "encrypted_suffix", "--unencrypted-suffix": "unencrypted_suffix",
    "--encrypted-comment-regex": "encrypted_comment_regex",
    "--unencrypted-comment-regex": "unencrypted_comment_regex",
}
# SOPS_* variables this path honours exactly as the click commands do: read below the CLI
# (key sources, config lookup, decryption order) or read here. Any other one may feed a click
# option (say a KMS key list), so its presence sends the command to click.
_KNOWN_ENV = frozenset({
    "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_RECIPIENTS", "SOPS_CONFIG", "SOPS_DECRYPTION_ORDER", "SOPS_DISABLE_VERSION_CHECK",
    "SOPS_GPG_EXEC", "SOPS_EDITOR",
})


def _parse(args: list[str], legacy: bool = False) -> tuple[str, str, dict[str, str]] | None:
    """(command, file, options) for the plain forms, else None. Read as sops reads them
    (:mod:`kubecrypt.cli.sops_argv`): the sub-command's flags are moved in front of FILE
    first (not in sops' older form, ``legacy``), then read up to FILE, so an option after
    FILE counts only in the sub-command form. Any argument starting with '-' other than these
    options (another flag, ``--``, a value such as ``-x``) is click's to read."""
    command, rest = args[0], args[1:]
    if any(a.startswith("-") and (command != "encrypt" or a.partition("=")[0]
                                  not in _ENCRYPT_OPTIONS) for a in rest):
        return None
    if not legacy and any(a.startswith("-") for a in rest):
        from kubecrypt.cli.sops_argv import reorder_args

        rest = reorder_args({n.lstrip("-"): n for n in _ENCRYPT_OPTIONS}, rest)
    opts: dict[str, str] = {}
    i = 0
    while i < len(rest) and rest[i].startswith("-"):
        name, eq, value = rest[i].partition("=")
        key = _ENCRYPT_OPTIONS[name]
        if key in opts or (eq and name == "-a"):
            return None
        if not eq:
            if i + 1 >= len(rest) or rest[i + 1].startswith("-"):
                return None
            value = rest[i + 1]
            i += 1
        opts[key] = value
        i += 1
    if len(rest) - i != 1:  # no FILE (stdin), or more: click warns about the others
        return None
    return command, rest[i], opts


def run(args: list[str], legacy: bool = False) -> int | None:
    if any(k.startswith("SOPS_") and k not in _KNOWN_ENV for k in os.environ):
        return None
    parsed = _parse(args, legacy)
    if parsed is None:
        return None
    command, file, opts = parsed
    from kubecrypt.errors import KubecryptError

    try:
        from kubecrypt.sops.session import write_stdout

        write_stdout(_decrypt(file) if command == "decrypt" else _encrypt(file, opts))
    except KubecryptError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except BrokenPipeError:
        return 1
    return 0


def _job(file: str, need_name: bool = True) -> FileJob:
    from kubecrypt.sops.session import FileJob

    job = FileJob(file, config=os.environ.get("SOPS_CONFIG") or None, need_name=need_name)
    _warn(job)
    return job


def _warn(job: FileJob) -> None:
    for w in job.warnings:
        sys.stderr.write(f"warning: {w}\n")
    job.warnings.clear()


def _decrypt(file: str) -> bytes:
    from kubecrypt.sops.ops import open_file
    from kubecrypt.sops.session import decryption_order

    job = _job(file, need_name=False)
    opened = open_file(job.read(), job.store(), False, decryption_order(None))
    return job.store(job.out_fmt).emit_plain(opened.branches)


def _encrypt(file: str, opts: dict[str, str]) -> bytes:
    from kubecrypt.sops.ops import encrypt

    job = _job(file)
    age = opts.pop("age", None) or os.environ.get("SOPS_AGE_RECIPIENTS") or None
    spec = job.encrypt_spec(age, None, None, dict(opts), None, None)
    _warn(job)
    return encrypt(job.read(), job.store(), spec, out_store=job.store(job.out_fmt))
