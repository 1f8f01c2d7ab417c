"""``edit``: decrypt into a private temporary directory, run the editor, and re-encrypt with
the same data key (unchanged values keep their ciphertext). A result that no longer parses is
never saved: on a terminal the editor is offered again, otherwise the command fails."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kubecrypt.sops.datakey import DEFAULT_DECRYPTION_ORDER
from kubecrypt.sops.errors import (
    CouldNotReadInput,
    FileAlreadyEncrypted,
    FileHasNotBeenModified,
    NoEditorFound,
    SopsError,
)
from kubecrypt.sops.ops import EncryptSpec, atomic_write, encrypt, open_file, reseal
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.tree import Branch

EXAMPLE = Branch([("hello", "Welcome to kubecrypt sops! Edit this file as you please!"),
                  ("example_key", "example_value")])


def _editor() -> list[str]:
    for var in ("SOPS_EDITOR", "EDITOR"):
        if os.environ.get(var):
            return shlex.split(os.environ[var])
    for name in ("vim", "nano", "vi"):
        if shutil.which(name):
            return [name]
    raise NoEditorFound("No editor found: set $SOPS_EDITOR or $EDITOR.")


def edit_file(path: Path, store: Store, ignore_mac: bool = False,
              new_spec: EncryptSpec | None = None, out_store: Store | None = None,
              order: tuple[str, ...] | None = None) -> None:
    """Edits an encrypted file; with ``new_spec`` and no file yet, starts from an example.

    As sops' editTree: the editor sees the plaintext in ``out_store``'s format (the file
    name's, or --output-type) and what it saves is read back with ``store`` (--input-type);
    the file is written in ``out_store``'s format. A tree the output format cannot hold
    fails before the editor runs (exit 4, as sops' "Could not marshal tree")."""
    out = out_store or store
    if not path.exists() and new_spec is not None:
        binary = "binary" in (store.name, out.name)
        branches = _run_editor(path, store, b"" if binary else out.emit_plain([Branch(EXAMPLE)]))
        atomic_write(path, encrypt(store.emit_plain(branches), store, new_spec, out_store=out),
                     0o600)
        return
    original = path.read_bytes()
    opened = open_file(original, store, ignore_mac, order or DEFAULT_DECRYPTION_ORDER,
                       keep_ivs=True)
    plain = out.emit_plain(opened.branches)
    opened.branches = _run_editor(path, store, plain)
    atomic_write(path, reseal(opened, out))


def _run_editor(path: Path, store: Store, plain: bytes) -> list[Branch]:
    """Runs the editor on ``plain`` in a private directory; returns the parsed result."""
    tmpdir = tempfile.mkdtemp(prefix="kubecrypt-sops-")
    try:
        os.chmod(tmpdir, 0o700)
        tmp = Path(tmpdir) / path.name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(plain)
        while True:
            try:
                rc = subprocess.run([*_editor(), str(tmp)], check=False).returncode
            except OSError as exc:
                raise NoEditorFound(f"Could not run the editor: {exc}") from None
            if rc != 0:  # sops: "Could not run editor: exit status N", exit 201
                raise NoEditorFound(
                    f"Could not run editor: exit status {rc}; {path} was not changed.")
            edited = tmp.read_bytes()
            if edited == plain:
                raise FileHasNotBeenModified("File has not changed, exiting.")
            try:
                branches = store.load_plain(edited)
                if store.has_metadata(branches):
                    raise FileAlreadyEncrypted(
                        "The edited file has a top-level 'sops' entry; remove it and save again.")
                return branches
            except SopsError as exc:
                if sys.stdin.isatty() and _ask_again(str(exc)):
                    continue
                raise CouldNotReadInput(
                    f"The edited file no longer parses ({exc}); {path} was not changed.") from None
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _ask_again(problem: str) -> bool:
    sys.stderr.write(f"{problem}\nPress Enter to edit again, or type n to give up: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer not in ("n", "no")
