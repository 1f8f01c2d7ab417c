"""One self-contained HTML page: no script, no network (a Content-Security-Policy forbids
every fetch), charts drawn as inline SVG: encryption coverage by resource, by provider and by
key (from etcd), and findings by severity; then the findings and the checks."""

from __future__ import annotations

from html import escape
from typing import Any

from kubecrypt.doctor.report import SEVERITIES, Report

STATE_COLOURS = {"encrypted": "#2e7d32", "identity": "#ef6c00", "plaintext": "#c62828",
                 "unreadable": "#6a1b9a"}
SEVERITY_COLOURS = {"critical": "#b71c1c", "high": "#e53935", "medium": "#fb8c00",
                    "low": "#1e88e5", "info": "#9e9e9e"}
BAR_H, GAP, LABEL_W, BAR_W = 22, 8, 260, 420
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f3f3f3}.sev{font-weight:bold;color:#fff;padding:1px 6px;border-radius:3px}
.charts{display:flex;flex-wrap:wrap;gap:2em}.chart{min-width:720px}
.legend span{display:inline-block;margin-right:1em}
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
"""


def _bars(chart_id: str, title: str, rows: list[tuple[str, list[tuple[str, int, str]]]]
          ) -> str:
    """Horizontal stacked bars: rows of (label, [(series, value, colour)])."""
    if not rows:
        return (f'<div class="chart"><h3>{escape(title)}</h3>'
                f'<p id="{chart_id}-empty">no data (etcd was not read)</p></div>')
    biggest = max(sum(v for _, v, _ in parts) for _, parts in rows) or 1
    height = len(rows) * (BAR_H + GAP) + GAP
    out = [f'<div class="chart"><h3>{escape(title)}</h3>',
           f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
           f'width="{LABEL_W + BAR_W + 80}" height="{height}" '
           f'aria-label="{escape(title)}">']
    for i, (label, parts) in enumerate(rows):
        y = GAP + i * (BAR_H + GAP)
        out.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H * 0.7}" text-anchor="end" '
                   f'font-size="12">{escape(label)}</text>')
        x = float(LABEL_W)
        total = 0
        for series, value, colour in parts:
            if value <= 0:
                continue
            w = BAR_W * value / biggest
            out.append(f'<rect class="bar" data-label="{escape(label)}" '
                       f'data-series="{escape(series)}" data-value="{value}" x="{x:.1f}" '
                       f'y="{y}" width="{max(w, 1):.1f}" height="{BAR_H}" fill="{colour}">'
                       f'<title>{escape(label)}: {value} {escape(series)}</title></rect>')
            x += w
            total += value
        out.append(f'<text x="{x + 6:.1f}" y="{y + BAR_H * 0.7}" font-size="12">{total}</text>')
    out.append("</svg></div>")
    return "".join(out)


def _legend(colours: dict[str, str]) -> str:
    return '<p class="legend">' + "".join(
        f'<span><i style="background:{c}"></i>{escape(n)}</span>' for n, c in colours.items()
    ) + "</p>"


def charts(report: Report) -> str:
    cov: dict[str, Any] = report.coverage or {}
    resources = cov.get("resources") or {}
    by_resource = [
        (r, [(s, int(t.get(s, 0)), STATE_COLOURS[s]) for s in STATE_COLOURS])
        for r, t in sorted(resources.items())]
    by_provider = [(label, [("values", int(n), "#1565c0")])
                   for label, n in sorted((cov.get("providers") or {}).items())]
    by_key = [(f"{k['resource']}: {k['provider']} {k['key_name'] or ''}"
               f"{' ' + k['key_id'] if k.get('key_id') else ''}".strip(),
               [("values", int(k["count"]), "#00838f")]) for k in cov.get("keys") or []]
    counts = report.summary()["by_severity"]
    by_severity = [(s, [("findings", counts[s], SEVERITY_COLOURS[s])]) for s in SEVERITIES]
    return ('<div class="charts">'
            + _bars("chart-coverage", "Encryption coverage by resource", by_resource)
            + _legend(STATE_COLOURS)
            + _bars("chart-providers", "Values by provider", by_provider)
            + _bars("chart-keys", "Values by key", by_key)
            + _bars("chart-severity", "Findings by severity", by_severity)
            + "</div>")


def html(report: Report, fail_on: str) -> str:
    s = report.summary(fail_on)
    def refs_text(refs: dict[str, list[str]]) -> str:
        return "; ".join(k + ": " + ", ".join(v) for k, v in refs.items())

    rows = "".join(
        f'<tr class="finding" data-id="{escape(f.id)}" data-severity="{f.severity}">'
        f'<td><span class="sev" style="background:{SEVERITY_COLOURS[f.severity]}">'
        f"{f.severity}</span></td><td>{escape(f.id)}</td><td>{escape(f.subject)}</td>"
        f"<td>{escape(f.evidence)}</td><td>{escape(f.fix)}</td>"
        f"<td>{escape(refs_text(f.refs))}</td></tr>"
        for f in report.sorted_findings())
    checks = "".join(
        f'<tr class="check" data-id="{escape(c.id)}" data-status="{c.status}">'
        f"<td>{escape(c.id)}</td><td>{c.status}</td><td>{escape(c.reason)}</td></tr>"
        for c in report.checks)
    sources = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in s["sources"].items())
    counts = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items() if n) or "none"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>kubecrypt doctor</title><style>{CSS}</style></head>
<body><h1>kubecrypt doctor: are our Secrets safe?</h1>
<p id="summary">Findings: {escape(counts)}. Checks: {s['checks']['pass']} pass,
{s['checks']['fail']} fail, {s['checks']['skipped']} skipped. Exit code with --fail-on
{escape(fail_on)}: {s['exit_code']}.</p>
<h2>Sources</h2><ul>{sources or '<li>none</li>'}</ul>
<h2>Charts</h2>{charts(report)}
<h2>Findings</h2><table id="findings"><tr><th>severity</th><th>check</th><th>subject</th>
<th>evidence</th><th>fix</th><th>refs</th></tr>{rows}</table>
<h2>Checks</h2><table id="checks"><tr><th>check</th><th>status</th><th>reason</th></tr>
{checks}</table></body></html>
"""
