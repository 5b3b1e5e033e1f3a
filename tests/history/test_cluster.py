"""A cluster canary's analyses from its Events, aggregated as Kubernetes aggregates them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coalmine.history.build import build_history
from coalmine.history.cluster import event_ticks, marks, merge_starts, starts
from coalmine.history.records import Records
from coalmine.targets.base import CanaryView, EventView

T = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
CURRENT, PROMOTED = "d" * 16, "b" * 16


def at(seconds: int) -> datetime:
    return T + timedelta(seconds=seconds)


def event(message: str, last: int, first: int | None = None, count: int = 1) -> EventView:
    """One Event as the API serves it: repeats of a message are one Event."""
    first_time = at(first) if first is not None else None
    return EventView(message, at(last), "Normal", "Synced", message, first_time, count)


def podinfo(**status: object) -> CanaryView:
    return CanaryView("test", "podinfo", {"targetRef": {"name": "podinfo"}}, dict(status))


# Four revisions: initialized at T, promoted (T+60), rolled back (T+180: its "New
# revision detected" and its step to 20 are hidden inside aggregated Events), and the
# current one (T+300) at 20 %.
EVENTS = [
    event("Initialization done! podinfo.test", 0),
    event("New revision detected! Scaling up podinfo.test", 300, 60, count=3),
    event("Starting canary analysis for podinfo.test, canary weight 20", 310, 70, count=3),
    event("Advance podinfo.test canary weight 40", 80),
    event("Promotion completed! Scaling down podinfo.test", 100),
    event("Rolling back podinfo.test failed checks threshold reached 2", 200),
    event("Canary failed! Scaling down podinfo.test", 205),
    event("Halt advancement podinfo.test request-success-rate 80 < 99", 190),
]


def test_past_revisions_are_named_by_time_or_hash_and_judged_by_their_events() -> None:
    canary = podinfo(
        phase="Progressing", canaryWeight=20, lastAppliedSpec=CURRENT, lastPromotedSpec=PROMOTED
    )
    history = build_history(canary, Records(ticks=event_ticks(canary, EVENTS, at(330))), EVENTS)

    described = [(r.revision, r.verdict, r.started, r.max_weight) for r in history.revisions]
    assert described == [
        ("2026-12-02T05:00:00Z", "Initialized", at(0), 0),
        (PROMOTED, "Succeeded", at(60), 40),  # the last promoted before the current one
        ("2026-12-02T05:03:20Z", "Failed", at(200), 0),  # begun no later than its rollback
        (CURRENT, "Progressing", at(300), 20),
    ]
    promoted = history.revisions[1]
    assert promoted.ended == at(100) and promoted.seconds == 40
    assert history.why(promoted) == "promoted after 20%, 40%; every check within its range"
    assert history.revision("2026-12-02T05:03").verdict == "Failed"  # type: ignore[union-attr]


def test_an_idle_canary_reads_its_own_phase_not_succeeded() -> None:
    initialized = podinfo(phase="Initialized", canaryWeight=0, lastAppliedSpec=CURRENT)
    told = [event("Initialization done! podinfo.test", 0)]
    history = build_history(
        initialized, Records(ticks=event_ticks(initialized, told, at(60))), told
    )
    [only] = history.revisions
    assert (only.revision, only.verdict, only.started) == (CURRENT, "Initialized", at(0))

    expired = build_history(initialized, Records(ticks=event_ticks(initialized, [], at(60))), [])
    [only] = expired.revisions
    assert (only.revision, only.verdict) == (CURRENT, "Initialized")


def test_a_rollback_is_one_ending_and_an_aggregated_start_is_found_again() -> None:
    found = marks(
        [
            event("Rolling back podinfo.test failed checks threshold reached 2", 20, 5, count=2),
            event("Canary failed! Scaling down podinfo.test", 21, 6, count=2),
        ]
    )
    assert [(m.time, m.kind, m.closes) for m in found] == [
        (at(5), "Failed", False),
        (at(6), "Failed", True),
        (at(20), "Failed", False),
        (at(21), "Failed", True),
    ]
    assert starts(found) == [at(20)]  # the second analysis' start, hidden by aggregation


def test_a_start_only_the_events_tell_is_added_to_those_measured() -> None:
    within = timedelta(seconds=30)
    merged = merge_starts([at(0), at(300)], [at(10), at(150), at(320)], within)
    assert merged == [at(0), at(150), at(300)]
