"""`coalmine report -o -`: the same report as Markdown, for job logs."""

from __future__ import annotations

from coalmine.history.model import History
from coalmine.report.fragments import UNITS, steps

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _points(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.2f} pt"


def _judge(part: History) -> list[str]:
    """The judge's checks at the last tick and each tick's decision (none without a judge)."""
    if not (part.canary.spec.get("analysis") or {}).get("judge"):
        return []
    lines = ["", "## Judge", "", "| check | verdict | estimate | interval | line |"]
    lines.append("|---|---|---|---|---|")
    lines += [
        f"| {_cell(c.name)} | {_cell(c.verdict)} | {_points(c.estimate)}"
        f" | {_points(c.lower)} .. {_points(c.upper)} | {_cell(c.message)} |"
        for c in part.judge_checks
    ]
    lines += ["", "| time (UTC) | decision | checks |", "|---|---|---|"]
    lines += [
        f"| {t.time:%H:%M:%S} | {_cell(t.verdict)} | {_cell(t.line)} |" for t in part.judge_ticks
    ]
    return lines


def render_markdown(history: History, revision: str | None = None) -> str:
    from coalmine.errors import NotFound

    canary = history.canary
    summary = history.revision(revision)
    if revision is not None and summary is None:
        raise NotFound(f"--revision {revision}: no analysis of it")
    part = history.only(summary) if summary else history
    lines = [f"# Canary analysis: {canary.name}.{canary.namespace}", ""]
    if summary is None:
        return "\n".join([*lines, "No analysis recorded yet.", ""])
    lines += [
        f"**{summary.verdict}** (revision `{summary.short()}`, {summary.seconds:.0f} s):"
        f" {_cell(history.why(summary))}",
        "",
        "## Steps",
        "",
        "| time (UTC) | canary weight | phase | failed checks |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {p.time:%H:%M:%S} | {p.weight}% | {_cell(p.phase)} | {p.failed_checks} |"
        for p in steps(part.weights)
    ]
    lines += [
        "",
        "## Checks",
        "",
        "| metric | range | checks | failed | values |",
        "|---|---|---|---|---|",
    ]
    for metric in part.metrics:
        unit = UNITS.get(metric.name, "")
        values = ", ".join(
            ("no data" if c.value is None else f"{c.value:.4g}{unit}") + ("" if c.passed else " ✗")
            for c in metric.canary
        )
        lines.append(
            f"| {_cell(metric.name)} | {metric.range_text()} | {len(metric.canary)}"
            f" | {metric.failed} | {_cell(values)} |"
        )
    lines += _judge(part)
    lines += ["", "## Events", ""]
    lines += [
        f"- {e.time:%H:%M:%S} {e.type} {_cell(e.reason)}: {_cell(e.message)}" for e in part.events
    ]
    lines.append("")
    return "\n".join(lines)
