"""SARIF 2.1.0 for code-scanning uploads: the Git findings (``git.*``), one rule per check id,
one result per finding, located at the file (and, for history-only findings, the commits)."""

from __future__ import annotations

import hashlib
from typing import Any

from kubecrypt import __version__
from kubecrypt.doctor.report import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
         "info": "note"}
RULES = {
    "git.plaintext-secret": "A Secret manifest with data or stringData in plaintext, in the "
                            "working tree or in history",
    "git.sealed-foreign-key": "A SealedSecret that no known sealing key opens",
    "git.sops-mac": "A sops file whose MAC does not verify",
}


def sarif(report: Report) -> dict[str, Any]:
    results = []
    for f in report.sorted_findings():
        if not f.id.startswith("git."):
            continue
        loc = f.location or {}
        result: dict[str, Any] = {
            "ruleId": f.id,
            "level": LEVEL[f.severity],
            "message": {"text": f"{f.subject}: {f.evidence}. Fix: {f.fix}"},
            "partialFingerprints": {
                "kubecrypt/v1": hashlib.sha256(f"{f.id}\0{f.subject}".encode()).hexdigest()},
            "properties": {"severity": f.severity, "refs": f.refs},
        }
        if loc.get("path"):
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": loc["path"], "uriBaseId": "%SRCROOT%"}}}]
        for key in ("first_commit", "last_commit"):
            if loc.get(key):
                result["properties"][key] = loc[key]
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubecrypt doctor",
                "version": __version__,
                "informationUri": "https://github.com/kubecrypt/kubecrypt/blob/main/docs/doctor.md",
                "rules": [{"id": rid, "name": rid, "shortDescription": {"text": text},
                           "helpUri": "https://github.com/kubecrypt/kubecrypt/blob/main/docs/"
                                      f"doctor.md#{rid.replace('.', '').replace('-', '-')}"}
                          for rid, text in RULES.items()],
            }},
            "results": results,
        }],
    }
