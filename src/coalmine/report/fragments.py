"""The parts of an analysis as HTML: the report's sections, reused by the dashboard.

Every string from the store or the cluster (names, messages, reasons, label values)
goes through `html.escape`; nothing else reaches the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from coalmine.history.model import History, MetricHistory, RevisionSummary, WeightPoint
from coalmine.report.charts import metric_chart, weight_chart
from coalmine.targets.base import CanaryView, EventView

__all__ = [
    "UNITS",
    "checks_section",
    "events_table",
    "judge_section",
    "revisions_table",
    "spec_brief",
    "steps",
    "steps_table",
    "verdict_block",
]

UNITS = {
    "request-success-rate": "%",
    "error-rate": "%",
    "request-duration": " ms",
    "request-duration-avg": " ms",
    "request-duration-max": " ms",
    "request-rate": "/s",
}


def spec_brief(canary: CanaryView) -> str:
    analysis = canary.spec.get("analysis") or {}
    rows = [
        ("target", f"Deployment {canary.target}"),
        ("interval", str(analysis.get("interval", "1m"))),
        ("threshold", f"{canary.threshold} failed checks roll back"),
    ]
    if analysis.get("stepWeights"):
        rows.append(("steps", ", ".join(f"{w}%" for w in analysis["stepWeights"])))
    else:
        step, top = analysis.get("stepWeight"), analysis.get("maxWeight")
        rows.append(("steps", f"+{step}% up to {top}%" if step else "none"))
    for metric in analysis.get("metrics") or []:
        limits = metric.get("thresholdRange") or {}
        accepted = " and ".join(
            f"{sign} {limits[key]:g}"
            for key, sign in (("min", ">="), ("max", "<="))
            if key in limits
        )
        rows.append(
            (
                f"metric {metric.get('name')}",
                f"{accepted or 'any'} over {metric.get('interval', '1m')}",
            )
        )
    for hook in analysis.get("webhooks") or []:
        rows.append((f"webhook {hook.get('name')}", str(hook.get("type") or "rollout")))
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="spec">{cells}</table>'


def steps(weights: Sequence[WeightPoint]) -> list[WeightPoint]:
    """The ticks where the weight or the phase changed."""
    found: list[WeightPoint] = []
    for point in weights:
        if not found or (found[-1].weight, found[-1].phase) != (point.weight, point.phase):
            found.append(point)
    return found


def steps_table(weights: Sequence[WeightPoint]) -> str:
    rows = "".join(
        f'<tr class="step" data-weight="{p.weight}"><td>{p.time:%H:%M:%S}</td>'
        f"<td>{p.weight}%</td><td>{escape(p.phase)}</td><td>{p.failed_checks}</td></tr>"
        for p in steps(weights)
    )
    return (
        '<table class="steps"><thead><tr><th>time (UTC)</th><th>canary weight</th>'
        f"<th>phase</th><th>failed checks</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _value(value: float | None, unit: str) -> str:
    return "no data" if value is None else f"{value:.4g}{unit}"


def checks_section(metrics: Sequence[MetricHistory], *, table: bool = True) -> str:
    parts = []
    for metric in metrics:
        unit = UNITS.get(metric.name, "")
        last = metric.canary[-1] if metric.canary else None
        state = "failed" if last is not None and not last.passed else "passed"
        summary = (
            f"{len(metric.canary)} checks, {metric.failed} failed; range {metric.range_text()}"
            f"; last {_value(last.value if last else None, unit)}"
        )
        rows = "".join(
            f'<tr class="{"passed" if c.passed else "failed"}"><td>{c.time:%H:%M:%S}</td>'
            f"<td>{escape(_value(c.value, unit))}</td><td>{escape(metric.range_text())}</td>"
            f"<td>{'passed' if c.passed else 'FAILED'}</td><td>{escape(c.reason)}</td></tr>"
            for c in metric.canary
        )
        values = (
            '<table class="values"><thead><tr><th>time (UTC)</th><th>canary</th><th>range</th>'
            f"<th>check</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table>"
            if table
            else ""
        )
        parts.append(
            f'<section class="metric {state}" data-metric="{escape(metric.name)}">'
            f'<h3>{escape(metric.name)}</h3><p class="summary">{escape(summary)}</p>'
            f"{metric_chart(metric, unit)}"
            '<p class="legend"><span class="c">── canary</span> <span class="p">- - primary</span>'
            ' <span class="b">▇ accepted range</span> <span class="f">✕ failed check</span></p>'
            f"{values}</section>"
        )
    return "".join(parts) or "<p>No metrics are checked.</p>"


def events_table(events: Sequence[EventView]) -> str:
    rows = "".join(
        f'<tr class="{escape(e.type.lower())}"><td>{e.time:%H:%M:%S}</td><td>{escape(e.type)}</td>'
        f"<td>{escape(e.reason)}</td><td>{escape(e.message)}</td></tr>"
        for e in events
    )
    return (
        '<table class="events"><thead><tr><th>time (UTC)</th><th>type</th><th>reason</th>'
        f"<th>message</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _points(value: float | None) -> str:
    """A difference of shares (what the judge estimates) in percentage points."""
    return "–" if value is None else f"{value * 100:+.2f} pt"


def judge_section(history: History) -> str:
    """The judge (spec.analysis.judge): each check at the last tick (status.judge.checks),
    then each tick's decision with its lines. Empty for a canary without a judge."""
    if not (history.canary.spec.get("analysis") or {}).get("judge"):
        return ""
    checks = "".join(
        f'<tr class="{escape(c.verdict)}"><td>{escape(c.name)}</td><td>{escape(c.verdict)}</td>'
        f"<td>{escape(_points(c.estimate))}</td>"
        f"<td>{escape(_points(c.lower))} .. {escape(_points(c.upper))}</td>"
        f"<td>{escape(c.message)}</td></tr>"
        for c in history.judge_checks
    )
    ticks = "".join(
        f'<tr class="{escape(t.verdict)}"><td>{t.time:%H:%M:%S}</td><td>{escape(t.verdict)}</td>'
        f"<td>{escape(t.line)}</td></tr>"
        for t in history.judge_ticks
    )
    return (
        '<table class="judge-checks"><thead><tr><th>check</th><th>verdict</th>'
        "<th>estimate (canary − reference)</th><th>interval</th><th>line</th></tr></thead>"
        f"<tbody>{checks}</tbody></table>"
        '<table class="judge-ticks"><thead><tr><th>time (UTC)</th><th>decision</th>'
        f"<th>checks</th></tr></thead><tbody>{ticks}</tbody></table>"
    )


def _count(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def revisions_table(revisions: Sequence[RevisionSummary]) -> str:
    rows = "".join(
        f'<tr class="revision {escape(r.verdict.lower())}">'
        f"<td><code>{escape(r.short())}</code></td>"
        f"<td>{r.started:%Y-%m-%d %H:%M:%S}</td><td>{escape(r.verdict)}</td>"
        f"<td>{r.seconds:.0f} s</td><td>{r.max_weight}%</td><td>{_count(r.requests)}</td>"
        f"<td>{_count(r.errors)}</td></tr>"
        for r in reversed(revisions)
    )
    return (
        '<table class="revisions"><thead><tr><th>revision</th><th>started (UTC)</th>'
        "<th>verdict</th><th>duration</th><th>max weight</th><th>requests</th><th>errors</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def verdict_block(history: History, summary: RevisionSummary | None) -> str:
    if summary is None:
        return '<p class="verdict none">No analysis recorded yet.</p>'
    return (
        f'<p class="verdict {escape(summary.verdict.lower())}"><strong>{escape(summary.verdict)}'
        f"</strong>: {escape(history.why(summary))}</p>"
    )


def weight_section(weights: Sequence[WeightPoint]) -> str:
    return weight_chart(weights)
