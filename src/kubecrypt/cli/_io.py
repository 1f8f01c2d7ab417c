"""Small I/O helpers shared by the commands: binary stdin and stdout, kubectl-shaped output."""

from __future__ import annotations

import json
import sys

from kubecrypt.errors import InputError


def read_stdin_bytes(what: str) -> bytes:
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError(
            f"expected {what} on stdin; pipe them in (for example: ... | kubecrypt ...)"
        )
    data = sys.stdin.buffer.read()
    if not data:
        raise InputError(f"stdin is empty; expected {what}")
    return data


def write_stdout_bytes(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def dump_object(obj: object, fmt: str) -> str:
    """kubectl-shaped output: keys sorted, block-style YAML or indented JSON."""
    if fmt == "json":
        return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False) + "\n"
    import yaml

    return str(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True))
