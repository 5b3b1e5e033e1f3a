"""Each check's window is scoped to the revision under analysis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.engine.builders import canary

from coalmine.api import CanaryStatus, Phase
from coalmine.engine import (
    Decision,
    MeasurementKind,
    NeedMeasurements,
    Observations,
    Routes,
    WorkloadState,
    decide,
)
from coalmine.engine.windows import scoped

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TEN = timedelta(seconds=10)
METRIC = canary(
    {"metrics": [{"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}}]}
).spec.analysis.metrics[0]


def test_an_analysis_older_than_the_interval_keeps_the_metric_as_written() -> None:
    assert scoped(METRIC, NOW - timedelta(minutes=5), NOW, TEN) is METRIC
    assert scoped(METRIC, None, NOW, TEN) is METRIC


def test_a_younger_analysis_cuts_the_window_at_its_start() -> None:
    cut = scoped(METRIC, NOW - timedelta(seconds=42, milliseconds=700), NOW, TEN)
    assert not isinstance(cut, type(None))
    assert getattr(cut, "interval", None) == "42s"
    assert METRIC.interval_or_default == "1m"


def test_a_cut_window_shorter_than_three_analysis_intervals_waits() -> None:
    assert scoped(METRIC, NOW - timedelta(seconds=3), NOW, timedelta(seconds=1)) != METRIC
    one_second = scoped(METRIC, NOW - timedelta(seconds=2), NOW, timedelta(seconds=1))
    assert getattr(one_second, "reason", "").startswith("waiting for 3s of data since")


def test_a_cut_window_shorter_than_30s_waits_at_ten_second_intervals() -> None:
    since = datetime(2026, 3, 1, 11, 59, 45, tzinfo=UTC)
    waiting = scoped(METRIC, since, NOW, TEN)
    assert getattr(waiting, "kind", None) == MeasurementKind.WAITING
    assert getattr(waiting, "reason", "") == (
        "waiting for 30s of data since 11:59:45 UTC (when the analysis of this revision began)"
    )


def test_a_short_interval_waits_for_all_of_it() -> None:
    metric = METRIC.model_copy(update={"interval": "20s"})
    assert getattr(scoped(metric, NOW - timedelta(seconds=19), NOW, TEN), "kind", None) == "waiting"
    assert scoped(metric, NOW - timedelta(seconds=20), NOW, TEN) is metric


def test_the_engine_asks_for_the_cut_window_and_holds_while_too_young() -> None:
    ready = WorkloadState(revision="new", replicas=1, updated=1, available=1)
    old = WorkloadState(revision="old", replicas=1, updated=1, available=1)
    c = canary({"interval": "10s"})

    def at(seconds: int) -> Decision | NeedMeasurements:
        status = CanaryStatus(
            phase=Phase.PROGRESSING,
            last_applied_spec="new",
            last_promoted_spec="old",
            canary_weight=20,
            analysis_start_time=NOW - timedelta(seconds=seconds),
        )
        answer = decide(c.with_status(status), Observations(ready, old, Routes(80, 20)), NOW)
        assert isinstance(answer, Decision | NeedMeasurements)
        return answer

    young = at(10)
    assert isinstance(young, Decision)
    assert young.actions == ()
    assert young.status.failed_checks == 0
    assert "waiting for 30s of data since" in young.events[0].message
    need = at(45)
    assert isinstance(need, NeedMeasurements)
    assert [m.interval for m in need.metrics] == ["45s"]
    full = at(600)
    assert isinstance(full, NeedMeasurements)
    assert [m.interval_or_default for m in full.metrics] == ["1m"]
