"""The audit's one report model: findings, check results, the summary, and the exit code.

A check has one id (part of the command's contract, see docs/doctor.md) and ends as ``pass``,
``fail`` (it produced findings) or ``skipped`` (with the reason: no etcd access, no
kubeconfig...). Findings carry evidence written from names, counts and fingerprints only: a
check never puts a Secret's value or key material into a finding."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
EXIT_FINDINGS = 3
DEFAULT_FAIL_ON = "high"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    subject: str
    evidence: str
    fix: str
    refs: dict[str, list[str]] = field(default_factory=dict)
    """Cross-references by scheme (``cis``, ``kubescape``, ``trivy``, ``docs``)."""
    location: dict[str, Any] | None = None
    """Where in a repository (``path``, ``commit``, ``first_commit``, ``last_commit``):
    for SARIF."""

    def __post_init__(self) -> None:
        if self.severity not in RANK:
            raise ValueError(f"unknown severity {self.severity}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "severity": self.severity, "subject": self.subject,
                               "evidence": self.evidence, "fix": self.fix, "refs": self.refs}
        if self.location:
            out["location"] = self.location
        return out


@dataclass
class CheckResult:
    id: str
    status: str = PASS
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "reason": self.reason}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    coverage: dict[str, Any] = field(default_factory=dict)
    """Encryption coverage from etcd (by resource, provider and key), for the summary and the
    HTML charts; empty when etcd was not read."""
    sources: dict[str, str] = field(default_factory=dict)
    """Which sources were used (kubeconfig, etcd, config files, repos...), as given."""

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def skip(self, check_ids: tuple[str, ...] | list[str], reason: str) -> None:
        for cid in check_ids:
            self.checks.append(CheckResult(cid, SKIPPED, reason))

    def record(self, check_id: str, findings: list[Finding], passed: str = "") -> None:
        """The check ran: ``fail`` when it found something, else ``pass`` with ``passed``."""
        self.findings.extend(findings)
        if findings:
            worst = min((f.severity for f in findings), key=RANK.__getitem__)
            reason = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}, worst {worst}"
            self.checks.append(CheckResult(check_id, FAIL, reason))
        else:
            self.checks.append(CheckResult(check_id, PASS, passed))

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (RANK[f.severity], f.id, f.subject))

    def exit_code(self, fail_on: str = DEFAULT_FAIL_ON) -> int:
        limit = RANK[fail_on]
        return EXIT_FINDINGS if any(RANK[f.severity] <= limit for f in self.findings) else 0

    def summary(self, fail_on: str = DEFAULT_FAIL_ON) -> dict[str, Any]:
        by_severity = Counter(f.severity for f in self.findings)
        by_status = Counter(c.status for c in self.checks)
        return {
            "findings": len(self.findings),
            "by_severity": {s: by_severity.get(s, 0) for s in SEVERITIES},
            "checks": {s: by_status.get(s, 0) for s in (PASS, FAIL, SKIPPED)},
            "fail_on": fail_on,
            "exit_code": self.exit_code(fail_on),
            "sources": dict(self.sources),
            "coverage": self.coverage,
        }

    def to_json(self, fail_on: str = DEFAULT_FAIL_ON) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.sorted_findings()],
                "checks": [c.to_json() for c in self.checks],
                "summary": self.summary(fail_on)}


def refs(cis: str | list[str] | None = None, kubescape: str | list[str] | None = None,
         trivy: str | list[str] | None = None, docs: str | list[str] | None = None
         ) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in (("cis", cis), ("kubescape", kubescape), ("trivy", trivy),
                        ("docs", docs)):
        if value:
            out[name] = [value] if isinstance(value, str) else list(value)
    return out


__all__ = ["DEFAULT_FAIL_ON", "EXIT_FINDINGS", "FAIL", "PASS", "SEVERITIES", "SKIPPED",
           "CheckResult", "Finding", "Report", "refs"]
