"""`coalmine report`: one analysis as one self-contained HTML file.

Styles are inline, charts are inline SVG, and nothing refers to another file or host:
the report opens offline, from a CI artifact, years later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from coalmine.history.model import History
from coalmine.report.charts import weight_chart
from coalmine.report.fragments import (
    checks_section,
    events_table,
    judge_section,
    revisions_table,
    spec_brief,
    steps_table,
    verdict_block,
)

__all__ = ["STYLE", "render_html"]

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:980px;padding:16px;color:#212529}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #dee2e6}
h3{font-size:15px;margin:14px 0 2px}table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #f1f3f5;vertical-align:top}
table.spec th{width:220px;font-weight:600}tr.failed td,tr.warning td,tr.rollback td{color:#c92a2a}
.verdict{padding:8px 12px;border-radius:6px;background:#f1f3f5}
.verdict.succeeded{background:#ebfbee}.verdict.failed{background:#fff5f5}
.legend{font-size:12px;color:#495057}.legend .c{color:#d9480f}.legend .p{color:#1c7ed6}
.legend .b{color:#2b8a3e}.legend .f{color:#c92a2a}.muted{color:#868e96}
section.metric.failed h3{color:#c92a2a}code{font-size:12px}
"""


def _judge(part: History) -> str:
    section = judge_section(part)
    return f"<h2>Judge: canary against {_reference(part)}</h2>{section}" if section else ""


def _reference(part: History) -> str:
    judge = (part.canary.spec.get("analysis") or {}).get("judge") or {}
    return "baseline" if judge.get("baseline") else "primary"


def render_html(
    history: History, revision: str | None = None, *, now: datetime | None = None
) -> str:
    """The report of one revision's analysis (the latest by default)."""
    from coalmine.errors import NotFound

    canary = history.canary
    summary = history.revision(revision)
    if revision is not None and summary is None:
        known = ", ".join(r.short(8) for r in history.revisions) or "none recorded"
        raise NotFound(f"--revision {revision}: no analysis of it; revisions: {known}")
    part = history.only(summary) if summary else history
    title = f"{canary.name}.{canary.namespace}" + (
        f" revision {summary.short(8)}" if summary else ""
    )
    made = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>coalmine report: {escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Canary analysis: {escape(title)}</h1>"
        f'<p class="muted">made by coalmine at {made}</p>'
        f"{verdict_block(history, summary)}"
        f"<h2>Spec in brief</h2>{spec_brief(canary)}"
        f"<h2>Steps</h2>{weight_chart(part.weights)}{steps_table(part.weights)}"
        f"<h2>Checks</h2>{checks_section(part.metrics)}"
        f"{_judge(part)}"
        f"<h2>Events</h2>{events_table(part.events)}"
        f"<h2>Revisions</h2>{revisions_table(history.revisions)}"
        "</body></html>"
    )
