"""A metrics source that is down or too young holds the analysis: neither pass nor fail.

Table tests of the pure decision, as in test_decide: plain inputs, a Decision out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.engine.builders import canary

from coalmine.api import AlertSeverity, Canary, CanaryStatus, Phase
from coalmine.api.canary import MetricsHold
from coalmine.engine import (
    Decision,
    EventType,
    Measurement,
    Observations,
    Routes,
    ScaleCanary,
    SetRoutes,
    WorkloadState,
    decide,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PROMETHEUS = "Prometheus at http://prometheus:9090"
DOWN = Measurement.outage(PROMETHEUS, "cannot reach Prometheus at http://prometheus:9090")
GOOD = Measurement.of(100.0)


def ready(revision: str) -> WorkloadState:
    return WorkloadState(revision=revision, replicas=1, updated=1, available=1)


def progressing(c: Canary, **fields: Any) -> Canary:
    status = CanaryStatus(
        phase=Phase.PROGRESSING,
        last_applied_spec="new",
        last_promoted_spec="old",
        canary_weight=20,
        analysis_start_time=NOW - timedelta(minutes=10),
        **fields,
    )
    return c.with_status(status)


def tick(c: Canary, measurement: Measurement, now: datetime = NOW) -> Decision:
    observed = Observations(
        target=ready("new"),
        primary=ready("old"),
        routes=Routes(80, 20),
        measurements={"request-success-rate": measurement},
    )
    answer = decide(c, observed, now)
    assert isinstance(answer, Decision), answer
    return answer


def warnings(d: Decision) -> list[str]:
    return [e.message for e in d.events if e.type == EventType.WARNING]


def test_an_outage_holds_without_a_failed_check_and_announces_itself_once() -> None:
    c = progressing(canary({"threshold": 1}))
    d = tick(c, DOWN)
    assert d.actions == ()
    assert d.status.failed_checks == 0
    assert d.status.canary_weight == 20
    assert d.status.metrics_hold is not None
    assert (d.status.metrics_hold.kind, d.status.metrics_hold.since) == ("outage", NOW)
    assert warnings(d) == [
        "Halt advancement go-demo-7.test metrics source outage: Prometheus at"
        " http://prometheus:9090: cannot reach Prometheus at http://prometheus:9090; holding"
        " the analysis (rollback if it lasts past the progress deadline of 600s)"
    ]
    assert [(a.severity, PROMETHEUS in a.message) for a in d.alerts] == [(AlertSeverity.WARN, True)]

    later = tick(c.with_status(d.status), DOWN, NOW + timedelta(seconds=30))
    assert later.events == ()
    assert later.alerts == ()
    assert later.status.metrics_hold == d.status.metrics_hold
    assert later.status.failed_checks == 0


def test_the_analysis_resumes_when_the_source_is_back() -> None:
    hold = MetricsHold(
        kind="outage", source=PROMETHEUS, reason="down", since=NOW - timedelta(seconds=40)
    )
    d = tick(progressing(canary(), metrics_hold=hold), GOOD)
    assert d.actions == (SetRoutes(Routes(60, 40)),)
    assert d.status.metrics_hold is None
    assert d.events[0].message == (
        f"Metrics source {PROMETHEUS} is back after 40s; resuming the analysis of go-demo-7.test"
    )


def test_an_outage_past_the_progress_deadline_rolls_back_naming_it() -> None:
    c = canary(progressDeadlineSeconds=60)
    hold = MetricsHold(
        kind="outage", source=PROMETHEUS, reason="timeout", since=NOW - timedelta(seconds=60)
    )
    held = tick(progressing(c, metrics_hold=hold), DOWN)
    assert held.actions == ()
    d = tick(progressing(c, metrics_hold=hold), DOWN, NOW + timedelta(seconds=1))
    assert d.actions == (SetRoutes(Routes.all_primary()), ScaleCanary(up=False))
    assert d.status.phase == Phase.FAILED
    assert d.status.failed_checks == 0
    assert d.status.metrics_hold is None
    reason = (
        "metrics source outage for 61s, longer than the progress deadline of 60s:"
        f" {PROMETHEUS}: {DOWN.reason}"
    )
    assert f"Rolling back go-demo-7.test {reason}" in warnings(d)
    assert [(a.severity, a.message) for a in d.alerts] == [
        (AlertSeverity.ERROR, f"Rolling back: {reason}")
    ]


def test_a_young_source_waits_and_says_for_how_much_data() -> None:
    since = NOW - timedelta(seconds=5)
    young = Measurement.waiting(
        "Envoy stats of cluster test_go-demo-7-canary", since, "waiting for 60s of data since x"
    )
    d = tick(progressing(canary({"threshold": 1})), young)
    assert d.actions == ()
    assert d.status.failed_checks == 0
    assert d.status.metrics_hold is not None
    assert d.status.metrics_hold.kind == "waiting"
    assert [e.message for e in d.events] == [
        "Halt advancement go-demo-7.test request-success-rate waiting for 60s of data since x"
    ]
    assert d.events[0].type == EventType.NORMAL
    assert d.alerts == ()


def test_a_wait_that_never_ends_is_bounded() -> None:
    c = canary(progressDeadlineSeconds=60)
    since = NOW - timedelta(seconds=121)
    hold = MetricsHold(kind="waiting", source="s", reason="r", since=since)
    young = Measurement.waiting("s", NOW, "r")
    d = tick(progressing(c, metrics_hold=hold), young)
    assert d.status.phase == Phase.FAILED
    assert any("not enough data for 121s" in m for m in warnings(d))


def test_evidence_of_a_bad_release_counts_even_while_another_source_is_down() -> None:
    c = canary(
        {
            "threshold": 5,
            "metrics": [
                {"name": "request-success-rate", "thresholdRange": {"min": 99}},
                {"name": "request-duration", "thresholdRange": {"max": 500}},
            ],
        }
    )
    observed = Observations(
        target=ready("new"),
        primary=ready("old"),
        routes=Routes(80, 20),
        measurements={"request-success-rate": DOWN, "request-duration": Measurement.of(900)},
    )
    d = decide(progressing(c), observed, NOW)
    assert isinstance(d, Decision)
    assert d.status.failed_checks == 1
    assert [check.metric for check in d.checks] == ["request-duration"]


def test_no_requests_keeps_flaggers_meaning_a_failed_check() -> None:
    d = tick(progressing(canary({"threshold": 3})), Measurement.no_data("no requests"))
    assert d.status.failed_checks == 1
    assert d.status.metrics_hold is None


def test_a_held_metric_keeps_its_last_status() -> None:
    c = canary()
    first = tick(progressing(c), GOOD)
    d = tick(c.with_status(first.status.model_copy(update={"canary_weight": 20})), DOWN)
    assert [(s.name, s.value, s.passed) for s in d.status.checks] == [
        ("request-success-rate", 100.0, True)
    ]


def test_a_new_revision_clears_the_hold() -> None:
    hold = MetricsHold(kind="outage", source=PROMETHEUS, reason="down", since=NOW)
    c = progressing(canary(), metrics_hold=hold)
    observed = Observations(target=ready("newer"), primary=ready("old"), routes=Routes(80, 20))
    d = decide(c, observed, NOW)
    assert isinstance(d, Decision)
    assert d.status.metrics_hold is None
    assert d.status.analysis_start_time == NOW
