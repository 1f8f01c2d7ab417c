"""Runs the shell blocks of a Markdown doc in order, as a reader would paste them.

A block is a fenced ```sh or ```bash block. The line right before its fence may carry a directive:

- ``<!-- doc-test: skip REASON -->``: not runnable here (a command for a real control-plane node);
  the reason is required, so every block is either run or says why not.
- ``<!-- doc-test: exit N[,M...] -->``: the block's last command may end with these exit codes
  (``etcd scan`` exits 3 when it finds plaintext, and the doc says so).

Blocks share one working directory, one ``HOME`` and the variables they export (each block ends
by saving ``export -p``; the next one sources it), so ``export KUBECONFIG=...`` in one block holds
in the next, as in a terminal. Every block runs in its own process group with a timeout, and
whatever a block left running in the background is killed when the doc ends."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*doc-test:\s*(\w[\w-]*)\s*(.*?)\s*-->\s*$")
RUNNABLE = {"sh", "bash"}


@dataclass
class Block:
    doc: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    directive: str = ""
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path`` (all languages), with the directive on the line before."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        directive = argument = ""
        if start > 0 and (d := _DIRECTIVE.match(lines[start - 1])):
            directive, argument = d.group(1), d.group(2)
        out.append(Block(path.name, start + 1, lang, "\n".join(lines[start + 1 : j]) + "\n",
                         directive, argument))
        i = j + 1
    return out


def shell_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in RUNNABLE]


@dataclass
class Result:
    block: Block
    returncode: int
    output: str


@dataclass
class DocRun:
    """One reader's terminal: a working directory, ``HOME`` inside it, the variables exported so
    far, and the process groups of every block (killed by :meth:`close`)."""

    workdir: Path
    env: dict[str, str]
    substitutions: dict[str, str] = field(default_factory=dict)
    timeout: float = 300
    _groups: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._state = self.workdir / ".doc-test-env"
        self._state.write_text("")

    def run(self, block: Block) -> Result:
        text = block.text
        for placeholder, value in self.substitutions.items():
            text = text.replace(placeholder, value)
        script = (
            f"set -eo pipefail\nsource {self._state}\ncd \"$DOC_TEST_PWD\"\n"
            f"trap 'export -p > {self._state}; echo \"export DOC_TEST_PWD=$(printf %q \"$PWD\")\" "
            f">> {self._state}' EXIT\n{text}"
        )
        log = self.workdir / f".doc-test-{block.line}.log"
        env = {"DOC_TEST_PWD": str(self.workdir), **self.env}
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", script], cwd=self.workdir, env=env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
            self._groups.append(proc.pid)
            try:
                code = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                code = -9
        return Result(block, code, log.read_text(errors="replace"))

    def close(self) -> None:
        for pgid in self._groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)


def allowed_exits(block: Block) -> set[int]:
    if block.directive == "exit":
        return {int(x) for x in block.argument.split(",")}
    return {0}
