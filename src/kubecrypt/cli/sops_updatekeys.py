"""``kubecrypt sops updatekeys``: what it prints, where, and how it asks, as sops 3.11 does.

sops (``cmd/sops/subcommand/updatekeys``) prints the change list and its ``Is this okay? (y/n):``
prompt on **stdout** (the list coloured by fatih/color when stdout is a terminal: ``Group N``
underlined, ``+++`` green, ``---`` red), and its progress through Go's standard logger on
**stderr** (``2006/01/02 15:04:05 Syncing keys for file /abs/path``). The answer is read like
Go's ``fmt.Scanln`` into one word: ``y`` or ``n`` ends the question, another word asks again,
an empty line, two words or the end of input fail (exit 1) with nothing written. With several
files a failed one is reported and the others are still updated; the command then exits 1."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from kubecrypt.errors import KubecryptError
from kubecrypt.sops.errors import SopsError

# fatih/color's SGR codes, as sops' PrettyPrintDiffs uses them.
_UNDERLINE, _GREEN, _RED, _RESET = "\x1b[4m", "\x1b[32m", "\x1b[31m", "\x1b[0m"


def log(message: str) -> None:
    """A line as Go's ``log.Printf`` writes it: local date and time, then the message."""
    sys.stderr.write(f"{time.strftime('%Y/%m/%d %H:%M:%S')} {message}\n")
    sys.stderr.flush()


def colours(stream: TextIO) -> bool:
    """fatih/color's rule: off with ``NO_COLOR`` set, ``TERM=dumb`` or a stdout that is not a
    terminal."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def render(changes: list[str], colour: bool) -> str:
    """The change list as sops prints it. fatih/color resets after the newline."""
    out = ["The following changes will be made to the file's groups:\n"]
    for line in changes:
        code = ""
        if colour:
            code = (_UNDERLINE if line.startswith("Group ") else _GREEN if line.startswith("+++ ")
                    else _RED if line.startswith("--- ") else "")
        out.append(f"{code}{line}\n{_RESET}" if code else f"{line}\n")
    return "".join(out)


class NoAnswer(SopsError):
    """The question was not answered with one word (sops: ``EOF``, ``unexpected newline``)."""


def ask(stdin: TextIO, stdout: TextIO) -> bool:
    """sops' prompt loop: True for ``y``, False for ``n``; another single word asks again."""
    while True:
        stdout.write("Is this okay? (y/n):")
        stdout.flush()
        line = stdin.readline()
        if not line:
            raise NoAnswer("No answer to \"Is this okay? (y/n)\" (end of input); answer y or n, "
                           "or pass --yes to update without asking.")
        words = line.split()
        if len(words) != 1:
            what = "an empty line" if not words else f"{len(words)} words"
            raise NoAnswer(f"The answer to \"Is this okay? (y/n)\" was {what}; answer y or n "
                           "(one word), or pass --yes to update without asking.")
        if words[0] in ("y", "n"):
            return words[0] == "y"


# The CLI's FileJob factory (it prints the job's warnings): ``job(path, input_type, config=...)``.
JobFactory = Callable[..., Any]


def update_one(path: str, yes: bool, input_type: str | None, config: str | None,
               job_factory: JobFactory) -> None:
    from kubecrypt.sops.ops import atomic_write, updatekeys, updatekeys_changes
    from kubecrypt.sops.rules import rule_for

    full = os.path.abspath(path)
    if not os.path.isfile(path):  # sops: exit 1 (its stat error), not the 100 of decrypt
        raise SopsError(f'cannot update the keys of "{full}": '
                        + ("it is a directory." if os.path.isdir(path) else "no such file."))
    job = job_factory(path, input_type, config=config)
    if job.config is None:
        raise SopsError("updatekeys needs a .sops.yaml with a creation rule for " + path + ".")
    log(f"Syncing keys for file {full}")
    if not job.config.has_creation_rules:
        raise SopsError(f"The config file {job.config.file} does not contain any creation "
                        "rule; add creation_rules with the keys for this file.")
    data, store = job.read(), job.store()
    groups = rule_for(job.config, path).key_groups
    changes = updatekeys_changes(data, store, groups)
    if not changes:
        log(f"File {full} already up to date")
        return
    sys.stdout.write(render(changes, colours(sys.stdout)))
    sys.stdout.flush()
    if not yes and not ask(sys.stdin, sys.stdout):
        log(f"File {full} left unchanged")
        return
    new, _ = updatekeys(data, store, groups)
    atomic_write(path, new)
    log(f"File {full} synced with new keys")


def run(files: tuple[str, ...], yes: bool, input_type: str | None, config: str | None,
        job_factory: JobFactory) -> None:
    """Every file in turn; one file fails with its own error and exit code, several go on past
    a failure and exit 1 at the end, as sops."""
    if len(files) == 1:
        update_one(files[0], yes, input_type, config, job_factory)
        return
    failed = 0
    for path in files:
        try:
            update_one(path, yes, input_type, config, job_factory)
        except KubecryptError as exc:
            failed += 1
            sys.stderr.write(f"error: {path}: {exc}\n")
    if failed:
        rest = "; the others were updated" if failed < len(files) else ""
        raise SopsError(f"updatekeys failed for {failed} of {len(files)} files (see above){rest}.")
