"""Building a History from rows: revisions, their verdicts, and one revision's part."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coalmine.history import build_history
from coalmine.history.kube import _running_starts
from coalmine.history.records import CheckRow, Records, SampleRow, TickRow
from coalmine.targets.base import CanaryView, EventView

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CANARY = CanaryView("ns", "app", {"analysis": {"metrics": [{"name": "m"}]}}, {})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_each_run_of_ticks_is_a_revision_ending_at_its_verdict() -> None:
    ticks = (
        TickRow(at(0), "Initializing", 0, 0, ""),
        TickRow(at(1), "Initialized", 0, 0, "a"),
        TickRow(at(2), "Progressing", 20, 0, "b"),
        TickRow(at(3), "Progressing", 40, 0, "b"),
        TickRow(at(4), "Succeeded", 0, 0, "b"),
        TickRow(at(9), "Succeeded", 0, 0, "b"),  # idle ticks after the verdict
        TickRow(at(10), "Progressing", 20, 1, "c"),
    )
    checks = (
        CheckRow(at(2), "b", "m", 1.0, None, 5.0, True, ""),
        CheckRow(at(10), "c", "m", 9.0, None, 5.0, False, "too high"),
    )
    samples = (SampleRow(at(2.1), "b", "primary", "m", 2.0, 4.0),)
    events = [
        EventView("2", at(10), "Warning", "Synced", "Halt"),
        EventView("1", at(3), "Normal", "Synced", "Advance"),
    ]
    history = build_history(CANARY, Records(ticks, checks, samples), events)

    first, promoted, running = history.revisions
    assert (first.revision, first.verdict) == ("a", "Initialized")
    assert (promoted.verdict, promoted.seconds, promoted.max_weight) == ("Succeeded", 2, 40)
    assert (running.verdict, running.finished) == ("Progressing", False)
    assert [e.key for e in history.events] == ["1", "2"]
    part = history.only(promoted)
    assert [w.weight for w in part.weights] == [20, 40, 0, 0]
    [metric] = part.metrics
    assert [c.value for c in metric.canary] == [1.0] and [p.value for p in metric.primary] == [2.0]
    assert (metric.min, metric.max, metric.range_text()) == (None, 5.0, "<= 5")
    assert [e.message for e in part.events] == ["Advance"]
    assert history.why(promoted) == "promoted after 20%, 40%; every check within its range"
    assert history.why(running) == "in progress (Progressing) at 20%"
    assert history.revision("c") == running and history.revision("zz") is None


def test_a_cluster_revision_starts_where_the_status_turns_to_running() -> None:
    status = {0.0: 1.0, 10.0: 0.0, 20.0: 0.0, 30.0: 1.0, 40.0: 0.0, 50.0: 2.0}
    epoch = datetime.fromtimestamp(0, UTC)
    assert _running_starts(status) == [epoch + timedelta(seconds=s) for s in (10, 40)]


def test_counted_requests_are_summed_and_preferred_to_the_rates_estimate() -> None:
    ticks = (TickRow(at(0), "Progressing", 20, 0, "b"), TickRow(at(4), "Succeeded", 0, 0, "b"))
    rates = (
        SampleRow(at(1), "b", "canary", "request-rate", 10.0, 2.0),
        SampleRow(at(1), "b", "canary", "error-rate", 50.0, 2.0),
    )
    counted = (
        SampleRow(at(1), "b", "canary", "requests", 7.0, 1.0),
        SampleRow(at(1), "b", "canary", "errors", 1.0, 1.0),
        SampleRow(at(3), "b", "canary", "requests", 5.0, 2.0),
        SampleRow(at(3), "b", "canary", "errors", 0.0, 2.0),
    )
    [estimated] = build_history(CANARY, Records(ticks, (), rates), []).revisions
    assert (estimated.requests, estimated.errors) == (20, 10)
    [exact] = build_history(CANARY, Records(ticks, (), rates + counted), []).revisions
    assert (exact.requests, exact.errors) == (12, 1)
