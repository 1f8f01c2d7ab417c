"""Issue 13 item 11: template evaluation is bounded in output size, steps and time, so one
SealedSecret cannot take a controller worker's memory or time. Each case runs in a child with a
1 GiB address-space limit and a timeout, so an unbounded evaluation fails the test safely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from kubecrypt.sealed.gotemplate import TemplateLimitError, render
t = time.monotonic()
try:
    render("big", sys.argv[1], {})
    kind = "ok"
except TemplateLimitError as exc:
    kind = "limit: " + str(exc)
except MemoryError:
    kind = "MemoryError"
# VmHWM is this process's own peak: getrusage's ru_maxrss keeps the parent's peak across exec
# on Linux, so a pytest worker that once grew large made every child look large.
with open("/proc/self/status") as f:
    hwm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"kind": kind, "seconds": time.monotonic() - t, "maxrss_mb": hwm_kb // 1024}))
"""

RUNAWAY = {
    "until-30M": "{{ range $i := until 30000000 }}a{{ end }}",
    "range-int": "{{ range 30000000 }}a{{ end }}",
    "doubling": '{{ $x := "ab" }}{{ range until 64 }}{{ $x = print $x $x }}{{ end }}{{ $x }}',
    "repeat": '{{ repeat 1000000000 "ab" }}',
    "printf-width": '{{ printf "%999999999d" 1 }}',
    "indent": '{{ indent 1000000000 "a" }}',
    "mul": "{{ $x := 3 }}{{ range until 100 }}{{ $x = mul $x $x }}{{ end }}{{ $x }}",
    "output": "{{ range $i := until 1000000 }}aaaaaaaaaa{{ end }}",
    "steps": "{{ range $i := until 1000000 }}{{ range $j := until 1000000 }}{{ end }}{{ end }}",
}


@pytest.mark.parametrize("source", list(RUNAWAY.values()), ids=list(RUNAWAY))
def test_runaway_template_is_refused_quickly_in_bounded_memory(source: str) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-c", CHILD, source], capture_output=True, text=True,
                         timeout=30, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["kind"].startswith("limit: template: big: "), result
    assert "templates are limited to" in result["kind"]
    assert result["seconds"] < 4, result
    assert result["maxrss_mb"] < 400, result


def test_a_normal_template_still_renders() -> None:
    from kubecrypt.sealed.gotemplate import render

    text = render("ok", '{{ range $i := until 3 }}{{ $i }},{{ end }}{{ repeat 2 "ab" }}', {})
    assert text == "0,1,2,abab"
