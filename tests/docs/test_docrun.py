"""The doc runner itself: what carries from block to block, and what fails a block."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from docs.docrun import (
    DocRun,
    allowed_exits,
    blocks,
    looks_like_shell,
    shape_mismatch,
    shell_blocks,
    steps,
)

DOC = """# A doc

<!-- doc-test: skip needs a control-plane node -->
```sh
sudo systemctl restart kube-apiserver
```

```sh
export GREETING=hello
mkdir sub && cd sub
sleep 600 &
echo $! > ../bg.pid
```

```text
not a shell block
```

<!-- doc-test: exit 0,3 -->
```bash
echo "$GREETING from $(basename "$PWD") at PLACEHOLDER"
exit 3
```
"""


def test_blocks_directives_and_carry_over(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    found = shell_blocks(doc)
    assert [(b.line, b.directive, b.argument) for b in found] == [
        (4, "skip", "needs a control-plane node"),
        (8, "", ""),
        (20, "exit", "0,3"),
    ]
    run = DocRun(tmp_path / "work", {"PATH": os.environ["PATH"]}, {"PLACEHOLDER": "noon"})
    try:
        first = run.run(found[1])
        assert first.returncode == 0, first.output
        second = run.run(found[2])
        assert second.returncode == 3 and second.returncode in allowed_exits(found[2])
        assert second.output.strip() == "hello from sub at noon"
        pid = int((tmp_path / "work" / "bg.pid").read_text())
        os.kill(pid, 0)  # the background job outlives its block ...
    finally:
        run.close()
    for _ in range(50):  # ... and not the doc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("a block's background process survived DocRun.close()")


def test_a_failing_command_fails_the_block(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("```sh\nfalse | cat\necho never\n```\n")
    run = DocRun(tmp_path / "work", {"PATH": os.environ["PATH"]})
    try:
        result = run.run(shell_blocks(doc)[0])
    finally:
        run.close()
    assert result.returncode != 0 and "never" not in result.output


def test_output_blocks_indented_fences_and_console(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "1. a step\n\n   <!-- doc-test: exit 3 -->\n   ```sh\n   echo in a list\n   ```\n\n"
        "<!-- doc-test: output -->\n```text\nin a list\n```\n\n"
        "```\n$ kubecrypt lab up\n```\n\n```console\nkubecrypt demo\n```\n\n```yaml\na: 1\n```\n")
    [(block, shown)] = steps(doc)
    assert (block.line, block.directive, block.text) == (4, "exit", "echo in a list\n")
    assert shown is not None and shown.text == "in a list\n"
    assert [looks_like_shell(b) for b in blocks(doc)] == [False, False, True, True, False]
    doc.write_text("<!-- doc-test: output -->\n```text\norphan\n```\n")
    with pytest.raises(ValueError, match="must follow a shell block"):
        steps(doc)


def test_shape_of_shown_output() -> None:
    shown = ("etcd       http://127.0.0.1:41379 (pid 2301)\n\n"
             "export KUBECONFIG=.../lab/kubeconfig\n"
             '{"key_id": "local-20261123-3f9a1c2b7d4e"}\n')
    printed = ("noise\netcd http://127.0.0.1:5 (pid 77)\nmore\n"
               "export KUBECONFIG=/tmp/x/lab/kubeconfig\n"
               '{"key_id": "local-20270101-0123456789ab"}\n')
    assert shape_mismatch(shown, printed) is None
    # a different word, a line missing, or the lines out of order: each is a mismatch
    assert shape_mismatch(shown, printed.replace("etcd", "etc")) is not None
    assert shape_mismatch(shown, printed.replace("export", "exp0rt")) is not None
    swapped = "\n".join(reversed(printed.splitlines()))
    assert "which the run did not print" in (shape_mismatch(shown, swapped) or "")
    assert shape_mismatch('{"healthz": "ok"}', '{"healthz": "down"}') is not None
