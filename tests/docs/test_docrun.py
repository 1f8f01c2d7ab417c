"""The doc runner itself: what carries from block to block, and what fails a block."""

from __future__ import annotations

import os
import time
from pathlib import Path

from docs.docrun import DocRun, allowed_exits, shell_blocks

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
