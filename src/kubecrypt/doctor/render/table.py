"""The terminal report: findings by severity, then every check with its status."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table

from kubecrypt.doctor.report import Report

COLOURS = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan",
           "info": "dim", "pass": "green", "fail": "red", "skipped": "dim"}


def table(report: Report, fail_on: str) -> str:
    out = io.StringIO()
    console = Console(file=out, width=160, highlight=False, force_terminal=False)
    findings = report.sorted_findings()
    if findings:
        t = Table(title="findings", box=box.SIMPLE, title_justify="left")
        for col in ("SEVERITY", "CHECK", "SUBJECT", "EVIDENCE", "FIX"):
            t.add_column(col, overflow="fold")
        for f in findings:
            t.add_row(f"[{COLOURS[f.severity]}]{f.severity}[/]", f.id, f.subject, f.evidence,
                      f.fix)
        console.print(t)
    c = Table(title="checks", box=box.SIMPLE, title_justify="left")
    for col in ("CHECK", "STATUS", "REASON"):
        c.add_column(col, overflow="fold")
    for check in report.checks:
        c.add_row(check.id, f"[{COLOURS[check.status]}]{check.status}[/]", check.reason)
    console.print(c)
    s = report.summary(fail_on)
    counts = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items() if n) or "none"
    console.print(f"findings: {counts}; checks: {s['checks']['pass']} pass, "
                  f"{s['checks']['fail']} fail, {s['checks']['skipped']} skipped")
    return out.getvalue()
