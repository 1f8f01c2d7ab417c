"""Runs the shell blocks of a Markdown doc in order, as a reader would paste them.

A block is a fenced ```sh or ```bash block. The line right before its fence may carry a directive:

- ``<!-- doc-test: skip REASON -->``: not runnable here (a command for a real control-plane node);
  the reason is required, so every block is either run or says why not.
- ``<!-- doc-test: exit N[,M...] -->``: the block's last command may end with these exit codes
  (``etcd scan`` exits 3 when it finds plaintext, and the doc says so).
- ``<!-- doc-test: output -->`` before a *non-shell* block: that block is what the shell block
  just before it prints, and the test checks the shape (:func:`shape_mismatch`): every line
  shown appears, in order, with numbers, hex ids, ports and ``...`` free to differ.

Fences may be indented (a block inside a list item); the indentation is removed.

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

_FENCE = re.compile(r"^(\s{0,8})```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doc-test:\s*(\w[\w-]*)\s*(.*?)\s*-->\s*$")
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
        start, indent, lang = i, m.group(1), m.group(2)
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("```"):
            j += 1
        directive = argument = ""
        if start > 0 and (d := _DIRECTIVE.match(lines[start - 1])):
            directive, argument = d.group(1), d.group(2)
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                for ln in lines[start + 1 : j]]
        out.append(Block(path.name, start + 1, lang, "\n".join(body) + "\n",
                         directive, argument))
        i = j + 1
    return out


def shell_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in RUNNABLE]


def looks_like_shell(block: Block) -> bool:
    """A block a reader would paste though it is not fenced ``sh``: ``console``/``shell`` or
    ``$ `` prompts. The coverage test wants these fenced ``sh`` so that they run."""
    if block.lang in RUNNABLE:
        return False
    first = next((ln for ln in block.text.splitlines() if ln.strip()), "")
    return block.lang in {"console", "shell", "zsh", "shell-session"} or first.startswith("$ ")


def steps(path: Path) -> list[tuple[Block, Block | None]]:
    """The shell blocks of ``path`` in order, each with the output block the doc shows for it
    (a block marked ``<!-- doc-test: output -->`` right after it), or None."""
    out: list[tuple[Block, Block | None]] = []
    for b in blocks(path):
        if b.lang in RUNNABLE:
            out.append((b, None))
        elif b.directive == "output":
            if not out or out[-1][1] is not None:
                raise ValueError(f"{b.where}: an output block must follow a shell block")
            out[-1] = (out[-1][0], b)
    return out


# A run's own values: lowercase hex of six or more with a digit (ids, fingerprints), or digits.
_VARIABLE = re.compile(r"(?=[0-9a-f]*\d)[0-9a-f]{6,}|\d+")


def _line_pattern(line: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\.\.\.|…|\s+)", line.strip()):
        if piece in ("...", "…"):
            parts.append(".*?")
        elif piece.isspace():
            parts.append(r"\s+")
        else:
            pos = 0
            for m in _VARIABLE.finditer(piece):
                parts.append(re.escape(piece[pos:m.start()]))
                parts.append("[0-9a-f]+" if not m.group().isdigit() else r"\d+")
                pos = m.end()
            parts.append(re.escape(piece[pos:]))
    return re.compile("".join(parts))


def shape_mismatch(expected: str, actual: str) -> str | None:
    """None when every non-blank line of ``expected`` matches a line of ``actual``, in order
    (digits, lowercase hex and ``...`` are wildcards; whitespace runs are one gap); otherwise
    the first line shown that the run did not print."""
    lines = [ln.strip() for ln in actual.splitlines()]
    pos = 0
    for want in expected.splitlines():
        if not want.strip():
            continue
        pattern = _line_pattern(want)
        while pos < len(lines) and not pattern.fullmatch(lines[pos]):
            pos += 1
        if pos == len(lines):
            return f"the doc shows {want.strip()!r}, which the run did not print (in order)"
        pos += 1
    return None


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
