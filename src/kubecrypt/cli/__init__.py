"""The ``kubecrypt`` console entry point.

``kubecrypt sops decrypt FILE`` and ``kubecrypt sops encrypt --age R FILE`` (or sops' older
``-d``/``-e`` spelling) are what people (and CI) run most, and their start-up dominates on small
files; those plain forms are answered by :mod:`kubecrypt.cli.sops_fast` without importing
click. Everything else, and every form the fast path does not recognise, goes to the click
application in :mod:`kubecrypt.cli.app`."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

# The sub-commands the fast path answers, by the word (or sops' older mode flag) after "sops".
_FAST = {"decrypt": "decrypt", "encrypt": "encrypt",
         "-d": "decrypt", "--decrypt": "decrypt", "-e": "encrypt", "--encrypt": "encrypt"}
_MODE_FLAGS = ("-d", "--decrypt", "-e", "--encrypt", "-r", "--rotate")


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    command = _FAST.get(args[1]) if len(args) > 2 and args[0] == "sops" else None
    # ``sops -d FILE`` is ``sops decrypt FILE`` (cli.sops.legacy_args); a second mode flag
    # anywhere is click's to refuse.
    if command and not (args[1].startswith("-") and any(a in _MODE_FLAGS for a in args[2:])):
        import gc

        # This process is the command (argv is None: the console script or ``-m``): it ends
        # right after, so the cyclic collector would only walk every imported module's objects
        # over and over (3-9 ms on a small file, ~8% of a 5,000-key decrypt); a run leaves a
        # few hundred cyclic objects, whatever the file's size, for the exit to reclaim.
        own_process = argv is None and gc.isenabled()
        if own_process:
            gc.disable()
        from kubecrypt.cli.sops_fast import run
        from kubecrypt.sops.deep import run_deep

        code = run_deep(lambda: run([command, *args[2:]], legacy=args[1].startswith("-")))
        if code is not None:
            if own_process:
                _exit_now(code)
            sys.exit(code)
        if own_process:
            gc.enable()
    from kubecrypt.cli.app import main as app_main

    if args[:1] == ["sops"]:
        from kubecrypt.sops.deep import run_deep

        return run_deep(lambda: app_main(args))
    return app_main(args)


def _exit_now(code: int) -> NoReturn:
    """Ends a finished fast-path command without interpreter finalization: output is flushed
    and ``atexit`` handlers run as usual, but freeing every module and object (and OpenSSL's
    cleanup) only to exit costs 5-8 ms, a tenth of a small file's run (bench/sops.py). Falls
    back to a normal exit when another thread is alive (finalization would wait for it) or
    output cannot be flushed."""
    import atexit
    import os

    threading = sys.modules.get("threading")
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None or (threading is not None and threading.active_count() > 1):
        sys.exit(code)
    try:
        sys.stdout.flush()
        run_handlers()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def __getattr__(name: str) -> Any:
    # ``cli``, ``SUBCOMMANDS``, ``LazyGroup`` still import from here, without paying for
    # click when only ``main`` is wanted.
    if name in ("cli", "SUBCOMMANDS", "LazyGroup"):
        from kubecrypt.cli import app

        return getattr(app, name)
    raise AttributeError(name)
