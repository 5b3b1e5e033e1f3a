"""The dashboard's two pages and their live parts, as HTML strings.

A page is a shell with named parts; the same functions render each part for the first
answer and for every server-sent update, so a live page and a reloaded one are the
same. Every value from the store or the cluster goes through `html.escape`; URLs are
built with `urllib.parse.quote`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote, urlencode

from coalmine.history.model import History, WeightPoint
from coalmine.report.charts import sparkline, weight_chart
from coalmine.report.fragments import (
    checks_section,
    events_table,
    judge_section,
    revisions_table,
    spec_brief,
    steps_table,
    verdict_block,
)
from coalmine.targets.asking import ASKED, refusal
from coalmine.targets.base import CanaryView

__all__ = ["PHASES", "canary_page", "canary_parts", "overview_page", "overview_parts"]

PHASES = (
    "Initializing",
    "Initialized",
    "Waiting",
    "Progressing",
    "WaitingPromotion",
    "Promoting",
    "Finalising",
    "Succeeded",
    "Failed",
    "Terminating",
    "Terminated",
)


def canary_url(canary: CanaryView) -> str:
    return f"/canaries/{quote(canary.namespace, safe='')}/{quote(canary.name, safe='')}"


def _shell(title: str, csrf: str, stream: str, source: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/static/dashboard.css">'
        '<script src="/static/dashboard.js" defer></script></head>'
        f'<body data-stream="{escape(stream)}" data-csrf="{escape(csrf)}">'
        '<header><a href="/" class="home">coalmine</a>'
        f'<span class="source">{escape(source)}</span>'
        '<span id="live" class="live" title="updates arrive as they happen">connecting…</span>'
        f"</header><main>{body}</main></body></html>"
    )


# The overview ---------------------------------------------------------------------------


def _transition(canary: CanaryView) -> str:
    text = canary.last_transition or ""
    try:
        return f"{datetime.fromisoformat(text.replace('Z', '+00:00')):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return text


def _row(canary: CanaryView, weights: Sequence[WeightPoint]) -> str:
    phase = canary.phase or "—"
    failed = f"{canary.failed_checks}/{canary.threshold}"
    paused = ' <span class="paused">paused</span>' if canary.suspended else ""
    return (
        f'<tr class="canary phase-{escape(phase.lower())}" data-name="{escape(canary.name)}">'
        f"<td>{escape(canary.namespace)}</td>"
        f'<td><a href="{escape(canary_url(canary))}">{escape(canary.name)}</a>{paused}</td>'
        f'<td class="phase">{escape(phase)}</td><td class="weight">{canary.weight}%</td>'
        f'<td class="failed">{escape(failed)}</td>'
        f"<td><code>{escape((canary.last_applied or '')[:8])}</code></td>"
        f"<td>{escape(_transition(canary))}</td><td>{sparkline(weights)}</td></tr>"
    )


def overview_parts(
    canaries: Sequence[CanaryView],
    weights: Mapping[tuple[str, str], Sequence[WeightPoint]],
    namespace: str | None,
    phase: str | None,
) -> dict[str, str]:
    shown = [
        c
        for c in canaries
        if (not namespace or c.namespace == namespace) and (not phase or c.phase == phase)
    ]
    rows = "".join(_row(c, weights.get((c.namespace, c.name), ())) for c in shown)
    empty = '<tr><td colspan="8" class="muted">No canaries match.</td></tr>'
    return {"canaries": rows or empty, "count": f"{len(shown)} of {len(canaries)}"}


def _select(name: str, label: str, options: Sequence[str], chosen: str | None) -> str:
    items = [f'<option value="">all {escape(label)}</option>'] + [
        f'<option value="{escape(o)}"{" selected" if o == chosen else ""}>{escape(o)}</option>'
        for o in options
    ]
    return f'<label>{escape(label)} <select name="{name}">{"".join(items)}</select></label>'


def overview_page(
    parts: dict[str, str],
    namespaces: Sequence[str],
    namespace: str | None,
    phase: str | None,
    *,
    csrf: str,
    source: str,
) -> str:
    query = urlencode({k: v for k, v in (("namespace", namespace), ("phase", phase)) if v})
    form = (
        '<form class="filters" method="get" action="/">'
        f"{_select('namespace', 'namespaces', namespaces, namespace)}"
        f"{_select('phase', 'phases', PHASES, phase)}"
        '<button type="submit">filter</button>'
        f' <span id="count" class="muted">{escape(parts["count"])}</span></form>'
    )
    table = (
        '<table class="overview"><thead><tr><th>namespace</th><th>name</th><th>phase</th>'
        "<th>weight</th><th>failed checks</th><th>revision</th><th>last transition (UTC)</th>"
        f'<th>weight history</th></tr></thead><tbody id="canaries">{parts["canaries"]}'
        "</tbody></table>"
    )
    stream = "/stream" + (f"?{query}" if query else "")
    return _shell("coalmine: canaries", csrf, stream, source, f"<h1>Canaries</h1>{form}{table}")


# One canary -----------------------------------------------------------------------------


def _actions(canary: CanaryView) -> str:
    buttons = []
    for asked in ASKED:
        refused = refusal(canary, asked)
        state = f' disabled title="{escape(refused)}"' if refused else ""
        buttons.append(
            f'<button type="button" class="ask {asked}" data-ask="{asked}"{state}>{asked}</button>'
        )
    return "".join(buttons)


def _status(canary: CanaryView) -> str:
    paused = " (paused)" if canary.suspended else ""
    return (
        f'<span class="phase">{escape(canary.phase or "not initialized")}{paused}</span>'
        f' · canary weight <strong class="weight">{canary.weight}%</strong>'
        f" · failed checks {canary.failed_checks}/{canary.threshold}"
        f" · revision <code>{escape((canary.last_applied or '')[:8])}</code>"
    )


def canary_parts(history: History, revision: str | None) -> dict[str, str]:
    summary = history.revision(revision)
    part = history.only(summary) if summary else history
    return {
        "status": _status(history.canary),
        "actions": _actions(history.canary),
        "verdict": verdict_block(history, summary),
        "weights": weight_chart(part.weights) + steps_table(part.weights),
        "checks": checks_section(part.metrics, table=False),
        "judge": judge_section(part),
        "events": events_table(tuple(reversed(history.events))[:200]),
        "revisions": revisions_table(history.revisions),
    }


def canary_page(
    history: History, revision: str | None, parts: dict[str, str], *, csrf: str, source: str
) -> str:
    canary = history.canary
    url = canary_url(canary)
    query = f"?{urlencode({'revision': revision})}" if revision else ""
    body = (
        f'<h1 data-url="{escape(url)}">{escape(canary.name)} '
        f'<span class="muted">in {escape(canary.namespace)}</span></h1>'
        f'<p id="status" class="status">{parts["status"]}</p>'
        f'<div id="actions" class="actions" data-url="{escape(url)}">{parts["actions"]}</div>'
        '<p id="said" class="said" role="status"></p>'
        f'<div id="verdict">{parts["verdict"]}</div>'
        f'<h2>Canary weight</h2><div id="weights">{parts["weights"]}</div>'
        f'<h2>Checks: canary against primary</h2><div id="checks">{parts["checks"]}</div>'
        + (f'<h2>Judge</h2><div id="judge">{parts["judge"]}</div>' if parts["judge"] else "")
        + f'<h2>Events</h2><div id="events">{parts["events"]}</div>'
        f'<h2>Revisions</h2><div id="revisions">{parts["revisions"]}</div>'
        f"<h2>Spec in brief</h2>{spec_brief(canary)}"
    )
    stream = f"/stream{url}{query}"
    return _shell(f"coalmine: {canary.name}", csrf, stream, source, body)
