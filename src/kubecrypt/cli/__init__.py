"""The ``kubecrypt`` console entry point.

``kubecrypt sops decrypt FILE`` and ``kubecrypt sops encrypt --age R FILE`` are what people
(and CI) run most, and their start-up dominates on small files; those plain forms are answered
by :mod:`kubecrypt.cli.sops_fast` without importing click. Everything else, and every form the
fast path does not recognise, goes to the click application in :mod:`kubecrypt.cli.app`."""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 2 and args[0] == "sops" and args[1] in ("decrypt", "encrypt"):
        from kubecrypt.cli.sops_fast import run

        code = run(args[1:])
        if code is not None:
            sys.exit(code)
    from kubecrypt.cli.app import main as app_main

    return app_main(args)


def __getattr__(name: str) -> Any:
    # ``cli``, ``SUBCOMMANDS``, ``LazyGroup`` still import from here, without paying for
    # click when only ``main`` is wanted.
    if name in ("cli", "SUBCOMMANDS", "LazyGroup"):
        from kubecrypt.cli import app

        return getattr(app, name)
    raise AttributeError(name)
