"""Renderers of one Report: ``table`` (a terminal), ``json`` (the contract), ``sarif`` (code
scanning, the Git findings) and ``html`` (one self-contained page with charts)."""

from __future__ import annotations

import json

from kubecrypt.doctor.report import Report

FORMATS = ("table", "json", "sarif", "html")


def render(report: Report, fmt: str, fail_on: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_json(fail_on), indent=2) + "\n"
    if fmt == "sarif":
        from kubecrypt.doctor.render.sarif import sarif

        return json.dumps(sarif(report), indent=2) + "\n"
    if fmt == "html":
        from kubecrypt.doctor.render.html import html

        return html(report, fail_on)
    from kubecrypt.doctor.render.table import table

    return table(report, fail_on)
