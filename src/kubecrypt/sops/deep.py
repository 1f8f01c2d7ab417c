"""sops' nesting limits, and room for Python to walk a tree that deep.

sops reads and writes files nested up to 10,000 levels (go-yaml v3's ``max_indents`` and
``max_flow_level``; Go's encoding/json ``maxNestingDepth``), far beyond the 100 levels the rest
of kubecrypt accepts from untrusted input (:mod:`kubecrypt.safeparse`). The sops stores check
that limit while parsing, before any recursive walk; the walks themselves (the parsers, the
tree's encryption and MAC walks, the emitters) recurse a few Python frames per level, so a
sops command runs in a thread with a large stack and a recursion limit sized for that depth.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import threading

# go-yaml v3 scannerc.go (max_flow_level, max_indents) and encoding/json (maxNestingDepth).
SOPS_MAX_DEPTH = 10_000

# Python frames per level of nesting, at most, over every walk of a sops command (measured
# with tests/sops/test_sops_deep.py at SOPS_MAX_DEPTH), with a margin; and the C stack that
# many frames can take.
_FRAMES_PER_LEVEL = 8
RECURSION_LIMIT = SOPS_MAX_DEPTH * _FRAMES_PER_LEVEL + 2_000
STACK_BYTES = 512 * 1024 * 1024

T = TypeVar("T")


def run_deep(fn: Callable[[], T]) -> T:
    """``fn()`` in a thread whose stack and recursion limit hold a tree SOPS_MAX_DEPTH deep.
    The stack is reserved address space; only the pages a deep file touches are used."""
    import threading

    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except RecursionError:
            # Not expected within SOPS_MAX_DEPTH (the stores refuse deeper files first), but a
            # traceback is never the answer.
            sys.stderr.write("error: the file is nested too deeply for kubecrypt to walk; "
                             "flatten the document\n")
            error.append(SystemExit(1))
        except BaseException as exc:  # handed to the calling thread as it is
            error.append(exc)

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    sys.setrecursionlimit(max(old_limit, RECURSION_LIMIT))  # one limit for every thread
    try:
        try:
            threading.stack_size(STACK_BYTES)
            worker = threading.Thread(target=target, name="kubecrypt-sops", daemon=True)
            worker.start()
        finally:
            threading.stack_size(old_stack)  # threads the command starts get the usual stack
    except (RuntimeError, ValueError, MemoryError):
        # No room for that stack (a tight `ulimit -v`, strict overcommit): run here, with the
        # interpreter's own limit, so only a file nested deeper than it fails (one sentence).
        sys.setrecursionlimit(old_limit)
        target()
    else:
        try:
            _join(worker)
        finally:
            sys.setrecursionlimit(old_limit)
    if error:
        raise error[0]
    return result[0]


def _join(worker: threading.Thread) -> None:
    """Wait for the worker; Ctrl-C (delivered to this thread) is raised in the worker, where
    the command handles it as it would have on the main thread."""
    while True:
        try:
            worker.join()
            return
        except KeyboardInterrupt:
            import ctypes

            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(worker.ident or 0), ctypes.py_object(KeyboardInterrupt))
