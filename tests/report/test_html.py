"""The report from a history made by hand: hostile text is escaped, nothing is fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coalmine.history import build_history
from coalmine.history.records import CheckRow, Records, SampleRow, TickRow
from coalmine.report import render_html, render_markdown
from coalmine.targets.base import CanaryView, EventView
from tests.report.test_report_local import assert_self_contained

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def hostile_history() -> tuple[CanaryView, Records, list[EventView]]:
    canary = CanaryView(
        namespace="ns",
        name=HOSTILE,
        spec={
            "targetRef": {"name": HOSTILE},
            "analysis": {
                "interval": "1s",
                "stepWeight": 20,
                "maxWeight": 40,
                "metrics": [{"name": HOSTILE, "thresholdRange": {"max": 5}}],
            },
        },
        status={},
    )
    ticks = [
        TickRow(at(0), "Progressing", 20, 0, "r1"),
        TickRow(at(1), "Progressing", 40, 1, "r1"),
        TickRow(at(2), "Failed", 0, 1, "r1"),
    ]
    checks = [
        CheckRow(at(0), "r1", HOSTILE, 1.0, None, 5.0, True, ""),
        CheckRow(at(1), "r1", HOSTILE, 9.0, None, 5.0, False, HOSTILE),
    ]
    samples = [
        SampleRow(at(0), "r1", "canary", "request-rate", 10.0, 1.0),
        SampleRow(at(0), "r1", "canary", "error-rate", 50.0, 1.0),
        SampleRow(at(1), "r1", "canary", "request-rate", 20.0, 1.0),
        SampleRow(at(1), "r1", "primary", HOSTILE, 2.0, 1.0),
    ]
    events = [EventView("1", at(2), "Warning", HOSTILE, f"Rolling back {HOSTILE}")]
    return canary, Records(tuple(ticks), tuple(checks), tuple(samples)), events


def test_hostile_names_and_messages_are_escaped_everywhere() -> None:
    history = build_history(*hostile_history())
    html = render_html(history)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert_self_contained(html)


def test_requests_and_errors_served_are_summed_from_each_tick() -> None:
    history = build_history(*hostile_history())
    [revision] = history.revisions
    assert (revision.requests, revision.errors) == (30, 5)
    assert revision.verdict == "Failed" and revision.seconds == 2
    assert history.metrics[0].failed == 1
    assert "rolled back after 20%, 40%" in history.why(revision)
    assert "**Failed**" in render_markdown(history)


def judged_history(message: str) -> tuple[CanaryView, Records, list[EventView]]:
    canary, records, _ = hostile_history()
    key = f"{HOSTILE}.ns"
    canary = CanaryView(
        namespace="ns",
        name=HOSTILE,
        spec={**canary.spec, "analysis": {**canary.spec["analysis"], "judge": {"errors": {}}}},
        status={
            "judge": {
                "checks": [
                    {
                        "name": "errors",
                        "verdict": "rollback",
                        "estimate": 0.0191,
                        "lower": 0.012,
                        "upper": 0.026,
                        "message": message,
                    }
                ]
            }
        },
    )
    events = [
        EventView("1", at(0), "Normal", "Synced", f"Holding {key} at canary weight 20: {HOSTILE}"),
        EventView("2", at(1), "Normal", "Synced", "Judge: errors: canary 0.10 % advance"),
        EventView("3", at(2), "Warning", "Synced", f"Rolling back {key}: {message}"),
        EventView("4", at(2), "Warning", "Synced", f"Rolling back {key} failed checks threshold"),
    ]
    return canary, records, events


def test_the_judges_checks_and_each_ticks_decision_are_shown_escaped() -> None:
    line = f"errors: canary 2.31 % vs primary 0.40 % {HOSTILE} > 0.5 pt: rollback"
    history = build_history(*judged_history(line))
    assert [(t.verdict, t.line) for t in history.judge_ticks] == [
        ("hold", HOSTILE),
        ("advance", "errors: canary 0.10 % advance"),
        ("rollback", line),
    ]  # the threshold's rollback is not the judge's
    html = render_html(history)
    assert "<h2>Judge: canary against primary</h2>" in html
    assert "<script" not in html and "<img" not in html
    assert "+1.91 pt" in html and "+1.20 pt .. +2.60 pt" in html
    assert html.count('<tr class="rollback">') == 2  # the last check, and its tick
    assert '<tr class="hold"><td>00:00:00</td><td>hold</td>' in html
    markdown = render_markdown(history)
    assert "## Judge" in markdown and "| errors | rollback | +1.91 pt | +1.20 pt .. +2.60 pt |" in (
        markdown
    )


def test_a_canary_without_a_judge_has_no_judge_section() -> None:
    history = build_history(*hostile_history())
    assert "Judge" not in render_html(history) and "## Judge" not in render_markdown(history)
