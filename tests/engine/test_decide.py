"""Table tests of the pure decision: plain inputs in, a Decision (or a Need) out. No fakes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.engine.builders import canary, hook

from coalmine.api import AlertSeverity, Canary, CanaryStatus, HookType, Phase
from coalmine.engine import (
    Decision,
    EventType,
    HookResult,
    Measurement,
    NeedHook,
    NeedMeasurements,
    NeedRoutes,
    Observations,
    Promote,
    ReconcileRouting,
    Routes,
    RunHooks,
    ScaleCanary,
    SetRoutes,
    WorkloadState,
    decide,
)
from coalmine.engine.decision import CreatePrimary

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALL_PRIMARY = Routes(100, 0)
OLD, NEW, NEWER = "rev-old", "rev-new", "rev-newer"


def ready(revision: str, replicas: int = 2) -> WorkloadState:
    return WorkloadState(revision=revision, replicas=replicas, updated=replicas, available=replicas)


def starting(revision: str, since: datetime | None = None) -> WorkloadState:
    return WorkloadState(
        revision=revision, replicas=2, updated=2, available=0, unavailable_since=since
    )


def at(c: Canary, phase: Phase | None, **fields: Any) -> Canary:
    defaults: dict[str, Any] = {"last_applied_spec": NEW, "last_promoted_spec": OLD}
    if phase in (None, Phase.INITIALIZING):
        defaults = {}
    return c.with_status(CanaryStatus(phase=phase, **{**defaults, **fields}))


def world(
    target: WorkloadState | None = None,
    primary: WorkloadState | None = None,
    routes: Routes | None = ALL_PRIMARY,
    hooks: dict[str, HookResult] | None = None,
    measurements: dict[str, Measurement] | None = None,
) -> Observations:
    return Observations(
        target=target or ready(NEW),
        primary=primary or ready(OLD),
        routes=routes,
        hooks=hooks or {},
        measurements=measurements,
    )


def decision(c: Canary, observed: Observations) -> Decision:
    answer = decide(c, observed, NOW)
    assert isinstance(answer, Decision), answer
    return answer


def messages(d: Decision) -> list[str]:
    return [event.message for event in d.events]


SUCCESS = {"request-success-rate": Measurement.of(100.0, "q")}


# Initialization


def test_first_sight_creates_the_primary_and_starts_initializing() -> None:
    d = decision(at(canary(), None), Observations(target=ready(OLD), primary=None))
    assert d.actions == (CreatePrimary(),)
    assert d.status.phase == Phase.INITIALIZING
    assert d.status.promoted is not None and d.status.promoted.status == "Unknown"


def test_initialization_waits_for_the_primary_to_be_ready() -> None:
    observed = Observations(target=ready(OLD), primary=starting(OLD))
    d = decision(at(canary(), Phase.INITIALIZING), observed)
    assert d.actions == ()
    assert d.status.phase == Phase.INITIALIZING
    assert d.events[0].type == EventType.WARNING
    assert messages(d) == [
        "go-demo-7-primary.test not ready: waiting for rollout to finish: "
        "0 of 2 updated replicas are available"
    ]


def test_initialization_routes_all_to_primary_before_scaling_the_target_down() -> None:
    observed = Observations(target=ready(OLD), primary=ready(OLD))
    d = decision(at(canary(), Phase.INITIALIZING), observed)
    assert d.actions == (ReconcileRouting(), SetRoutes(Routes(100, 0)), ScaleCanary(up=False))
    assert d.status.phase == Phase.INITIALIZED
    assert d.status.last_applied_spec == d.status.last_promoted_spec == OLD
    assert messages(d) == ["Initialization done! go-demo-7.test"]
    assert [a.severity for a in d.alerts] == [AlertSeverity.INFO]


# Detecting a revision


def test_routes_are_read_before_anything_else_after_initialization() -> None:
    observed = world(routes=None)
    assert decide(at(canary(), Phase.SUCCEEDED), observed, NOW) == NeedRoutes()


def test_nothing_happens_without_a_new_revision() -> None:
    c = at(canary(), Phase.SUCCEEDED, last_applied_spec=NEW, last_promoted_spec=NEW)
    d = decision(c, world(target=ready(NEW), primary=ready(NEW)))
    assert d == Decision(c.status)


def test_reverting_to_the_promoted_revision_starts_nothing() -> None:
    c = at(canary(), Phase.FAILED, last_applied_spec=NEW, last_promoted_spec=OLD)
    d = decision(c, world(target=ready(OLD)))
    assert d == Decision(c.status)


def test_a_new_revision_scales_the_canary_up_and_starts_progressing() -> None:
    c = at(canary(), Phase.SUCCEEDED, last_applied_spec=OLD, last_promoted_spec=OLD)
    d = decision(c, world(target=ready(NEW)))
    assert d.actions == (ScaleCanary(up=True),)
    assert d.status.phase == Phase.PROGRESSING
    assert d.status.last_applied_spec == NEW
    assert d.status.analysis_start_time == NOW
    assert messages(d) == ["New revision detected! Scaling up go-demo-7.test"]


def test_confirm_rollout_gate_is_asked_before_scaling_up() -> None:
    c = at(
        canary({"webhooks": [hook("approve", "confirm-rollout")]}),
        Phase.SUCCEEDED,
        last_applied_spec=OLD,
        last_promoted_spec=OLD,
    )
    need = decide(c, world(), NOW)
    assert isinstance(need, NeedHook)
    assert (need.webhook.name, need.phase) == ("approve", Phase.PROGRESSING)


@pytest.mark.parametrize("muted", [False, True])
def test_a_closed_confirm_rollout_gate_holds_the_revision_in_waiting(muted: bool) -> None:
    webhooks = [hook("approve", "confirm-rollout", muteAlert=muted)]
    c = at(canary({"webhooks": webhooks}), Phase.SUCCEEDED, last_applied_spec=OLD)
    d = decision(c, world(hooks={"approve": HookResult(False, "closed")}))
    assert d.actions == ()
    assert d.status.phase == Phase.WAITING
    assert messages(d) == ["Halt go-demo-7.test advancement waiting for approval approve"]
    assert len(d.alerts) == (0 if muted else 1)


def test_an_opened_confirm_rollout_gate_releases_the_waiting_revision() -> None:
    webhooks = [hook("approve", "confirm-rollout")]
    c = at(canary({"webhooks": webhooks}), Phase.WAITING, last_applied_spec=OLD)
    d = decision(c, world(hooks={"approve": HookResult(True)}))
    assert d.actions == (ScaleCanary(up=True),)
    assert d.status.phase == Phase.PROGRESSING
    assert messages(d)[0] == "Confirm-rollout check approve passed"


# The analysis


def test_pre_rollout_hooks_run_at_weight_zero_then_the_first_step() -> None:
    c = at(canary({"webhooks": [hook("smoke", "pre-rollout")]}), Phase.PROGRESSING)
    assert isinstance(decide(c, world(), NOW), NeedHook)
    d = decision(c, world(hooks={"smoke": HookResult(True)}))
    assert d.actions == (SetRoutes(Routes(80, 20)),)
    assert d.status.canary_weight == 20
    assert messages(d) == [
        "Starting canary analysis for go-demo-7.test, canary weight 20",
        "Pre-rollout check smoke passed",
    ]


AB_MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]
ITERATIONS = {"stepWeight": None, "maxWeight": None, "iterations": 3}


@pytest.mark.parametrize(
    ("analysis", "routes", "told"),
    [
        pytest.param({}, Routes(80, 20), "canary weight 20", id="canary"),
        pytest.param(
            {"mirror": True, "mirrorWeight": 50},
            Routes(100, 0, mirrored=True),
            "canary weight 0, mirroring traffic to the canary",
            id="canary-mirroring",
        ),
        pytest.param(
            {**ITERATIONS, "match": AB_MATCH}, Routes(0, 100), "canary iteration 1/3", id="ab"
        ),
        pytest.param(ITERATIONS, None, "canary iteration 1/3", id="blue-green"),
        pytest.param(
            {**ITERATIONS, "mirror": True},
            Routes(100, 0, mirrored=True),
            "canary iteration 1/3",
            id="blue-green-mirroring",
        ),
    ],
)
def test_the_analysis_start_and_its_first_step_are_one_event(
    analysis: dict[str, Any], routes: Routes | None, told: str
) -> None:
    """Flagger writes "Starting canary analysis" and "Advance ..." as two Events in the
    same tick; coalmine one, which says both (one API write fewer per analysis)."""
    d = decision(at(canary(analysis), Phase.PROGRESSING), world())
    assert messages(d) == [f"Starting canary analysis for go-demo-7.test, {told}"]
    assert d.actions == (() if routes is None else (SetRoutes(routes),))


def test_a_start_whose_first_step_is_held_says_so_apart() -> None:
    webhooks = [hook("more", "confirm-traffic-increase")]
    c = at(canary({"webhooks": webhooks}), Phase.PROGRESSING)
    d = decision(c, world(hooks={"more": HookResult(False)}))
    assert d.actions == ()
    assert messages(d) == [
        "Starting canary analysis for go-demo-7.test",
        "Halt go-demo-7.test advancement waiting for traffic increase approval more",
    ]


def test_after_the_start_each_step_is_an_advance() -> None:
    c = at(canary(ITERATIONS), Phase.PROGRESSING, iterations=1)
    d = decision(c, world(measurements=SUCCESS))
    assert messages(d) == ["Advance go-demo-7.test canary iteration 2/3"]


def test_a_failed_pre_rollout_hook_is_a_failed_check() -> None:
    c = at(canary({"webhooks": [hook("smoke", "pre-rollout")], "threshold": 3}), Phase.PROGRESSING)
    d = decision(c, world(hooks={"smoke": HookResult(False, "500 boom")}))
    assert d.actions == ()
    assert d.status.failed_checks == 1
    assert (
        messages(d)[-1] == "Halt go-demo-7.test advancement pre-rollout check smoke failed 500 boom"
    )


def test_metrics_are_measured_once_traffic_reaches_the_canary() -> None:
    c = at(canary(), Phase.PROGRESSING, canary_weight=20)
    need = decide(c, world(routes=Routes(80, 20)), NOW)
    assert isinstance(need, NeedMeasurements)
    assert [m.name for m in need.metrics] == ["request-success-rate"]


def test_passing_checks_advance_one_step() -> None:
    c = at(canary(), Phase.PROGRESSING, canary_weight=20)
    d = decision(c, world(routes=Routes(80, 20), measurements=SUCCESS))
    assert d.actions == (SetRoutes(Routes(60, 40)),)
    assert d.status.canary_weight == 40
    assert [(c.metric, c.value, c.passed) for c in d.checks] == [
        ("request-success-rate", 100.0, True)
    ]
    assert d.status.checks[0].value == 100.0


def test_a_failed_check_halts_and_counts() -> None:
    c = at(canary({"threshold": 3}), Phase.PROGRESSING, canary_weight=20)
    failing = {"request-success-rate": Measurement.of(92.314, "sum(rate(x[1m]))")}
    d = decision(c, world(routes=Routes(80, 20), measurements=failing))
    assert d.actions == ()
    assert d.status.failed_checks == 1
    assert d.status.canary_weight == 20
    assert messages(d) == [
        "Halt advancement go-demo-7.test request-success-rate 92.31 < 99 (query: sum(rate(x[1m])))"
    ]
    assert d.events[0].type == EventType.WARNING


@pytest.mark.parametrize(
    ("measurement", "reason"),
    [
        (Measurement.no_data("no values found"), "no values found"),
        (Measurement.of(math.nan), "the query returned NaN"),
        (Measurement.of(math.inf), "the query returned infinity"),
        (Measurement.no_data("HTTP 503 from Prometheus"), "HTTP 503 from Prometheus"),
    ],
)
def test_no_data_is_a_failed_check_with_its_reason(measurement: Measurement, reason: str) -> None:
    c = at(canary({"threshold": 3}), Phase.PROGRESSING, canary_weight=20)
    d = decision(
        c, world(routes=Routes(80, 20), measurements={"request-success-rate": measurement})
    )
    assert d.status.failed_checks == 1
    assert d.checks[0].passed is False
    assert f"request-success-rate: no data ({reason})" in messages(d)[0]
    assert d.status.checks[0].reason == reason


def test_a_value_above_max_fails() -> None:
    metrics = [{"name": "request-duration", "thresholdRange": {"max": 500}}]
    c = at(canary({"metrics": metrics, "threshold": 3}), Phase.PROGRESSING, canary_weight=20)
    slow = {"request-duration": Measurement.of(812.0)}
    d = decision(c, world(routes=Routes(80, 20), measurements=slow))
    assert messages(d) == ["Halt advancement go-demo-7.test request-duration 812.00 > 500"]


def test_reaching_the_threshold_rolls_back_in_the_same_tick() -> None:
    c = at(canary({"threshold": 2}), Phase.PROGRESSING, canary_weight=40, failed_checks=1)
    failing = {"request-success-rate": Measurement.of(80.0)}
    d = decision(c, world(routes=Routes(60, 40), measurements=failing))
    assert d.actions == (SetRoutes(Routes(100, 0)), ScaleCanary(up=False))
    assert d.status.phase == Phase.FAILED
    assert d.status.canary_weight == 0
    assert d.status.failed_checks == 2
    assert messages(d)[1:] == [
        "Rolling back go-demo-7.test failed checks threshold reached 2",
        "Canary failed! Scaling down go-demo-7.test",
    ]
    [alert] = d.alerts
    assert alert.severity == AlertSeverity.ERROR
    assert alert.check is not None and alert.check.value == 80.0


def test_rollout_hook_failure_halts_before_the_metrics() -> None:
    c = at(canary({"webhooks": [hook("check", "rollout")], "threshold": 3}), Phase.PROGRESSING)
    observed = world(routes=Routes(80, 20), hooks={"check": HookResult(False, "nope")})
    d = decision(c, observed)
    assert d.status.failed_checks == 1
    assert messages(d) == ["Halt go-demo-7.test advancement external check check failed nope"]


def test_a_rollback_webhook_saying_yes_rolls_back() -> None:
    c = at(canary({"webhooks": [hook("panic", "rollback")]}), Phase.PROGRESSING, canary_weight=20)
    need = decide(c, world(routes=Routes(80, 20)), NOW)
    assert isinstance(need, NeedHook) and need.phase == Phase.PROGRESSING
    d = decision(c, world(routes=Routes(80, 20), hooks={"panic": HookResult(True)}))
    assert d.status.phase == Phase.FAILED
    assert "Rolling back go-demo-7.test manual webhook invoked" in messages(d)


def test_a_rollback_webhook_saying_no_lets_the_analysis_go_on() -> None:
    c = at(canary({"webhooks": [hook("panic", "rollback")]}), Phase.PROGRESSING, canary_weight=20)
    observed = world(
        routes=Routes(80, 20), hooks={"panic": HookResult(False)}, measurements=SUCCESS
    )
    assert decision(c, observed).actions == (SetRoutes(Routes(60, 40)),)


def test_traffic_increase_gate_holds_the_weight_without_counting_a_failure() -> None:
    webhooks = [hook("more", "confirm-traffic-increase")]
    c = at(canary({"webhooks": webhooks}), Phase.PROGRESSING, canary_weight=20)
    observed = world(routes=Routes(80, 20), hooks={"more": HookResult(False)}, measurements=SUCCESS)
    d = decision(c, observed)
    assert d.actions == ()
    assert d.status.failed_checks == 0
    assert messages(d) == [
        "Halt go-demo-7.test advancement waiting for traffic increase approval more"
    ]


# Promotion


def test_at_max_weight_the_canary_is_copied_to_the_primary() -> None:
    c = at(canary(), Phase.PROGRESSING, canary_weight=60)
    d = decision(c, world(routes=Routes(40, 60), measurements=SUCCESS))
    assert d.actions == (Promote(NEW),)
    assert d.status.phase == Phase.PROMOTING
    assert messages(d) == ["Copying go-demo-7.test template spec to go-demo-7-primary.test"]


def test_a_closed_promotion_gate_waits_while_checks_continue() -> None:
    webhooks = [hook("ship", "confirm-promotion")]
    c = at(canary({"webhooks": webhooks}), Phase.PROGRESSING, canary_weight=60)
    observed = world(routes=Routes(40, 60), hooks={"ship": HookResult(False)}, measurements=SUCCESS)
    d = decision(c, observed)
    assert d.status.phase == Phase.WAITING_PROMOTION
    assert d.status.canary_weight == 60
    waiting = at(canary({"webhooks": webhooks}), Phase.WAITING_PROMOTION, canary_weight=60)
    again = decide(waiting, world(routes=Routes(40, 60), hooks={"ship": HookResult(False)}), NOW)
    assert isinstance(again, NeedMeasurements)


def test_promotion_waits_for_the_primary() -> None:
    c = at(canary(), Phase.PROMOTING, canary_weight=60)
    d = decision(c, world(routes=Routes(40, 60), primary=starting(NEW, NOW)))
    assert d.actions == ()
    assert messages(d)[0].startswith("go-demo-7-primary.test not ready")


def test_promotion_routes_all_traffic_back_to_the_primary() -> None:
    c = at(canary(), Phase.PROMOTING, canary_weight=60)
    d = decision(c, world(routes=Routes(40, 60), primary=ready(NEW)))
    assert d.actions == (SetRoutes(Routes(100, 0)),)
    assert d.status.phase == Phase.FINALISING
    assert messages(d) == ["Routing all traffic to primary"]


def test_step_weight_promotion_moves_traffic_back_in_steps() -> None:
    c = at(canary({"stepWeightPromotion": 30}), Phase.PROMOTING, canary_weight=60)
    d = decision(c, world(routes=Routes(40, 60), primary=ready(NEW)))
    assert d.actions == (SetRoutes(Routes(70, 30)),)
    assert d.status.phase == Phase.PROMOTING
    assert d.status.canary_weight == 30
    assert messages(d) == ["Advance go-demo-7.test primary weight 70"]


def test_finalising_scales_the_canary_down_and_succeeds() -> None:
    webhooks = [hook("tell", "post-rollout")]
    c = at(canary({"webhooks": webhooks}), Phase.FINALISING)
    d = decision(c, world(primary=ready(NEW)))
    assert d.actions == (ScaleCanary(up=False),)
    assert d.status.phase == Phase.SUCCEEDED
    assert d.status.last_promoted_spec == NEW
    assert d.status.promoted is not None and d.status.promoted.status == "True"
    assert d.followups == (RunHooks((c.spec.analysis.webhooks[0],), Phase.SUCCEEDED),)
    assert messages(d) == ["Promotion completed! Scaling down go-demo-7.test"]


# Interruptions


def test_a_new_revision_during_the_analysis_restarts_it() -> None:
    c = at(canary(), Phase.PROGRESSING, canary_weight=40, failed_checks=1)
    d = decision(c, world(target=ready(NEWER), routes=Routes(60, 40)))
    assert d.actions == (SetRoutes(Routes(100, 0)),)
    assert (d.status.phase, d.status.canary_weight, d.status.failed_checks) == (
        Phase.PROGRESSING,
        0,
        0,
    )
    assert d.status.last_applied_spec == NEWER
    assert messages(d) == ["New revision detected! Restarting analysis for go-demo-7.test"]


def test_a_canary_that_is_not_ready_halts_until_its_deadline() -> None:
    c = at(canary(), Phase.PROGRESSING)
    within = world(target=starting(NEW, NOW - timedelta(seconds=30)))
    d = decision(c, within)
    assert d.actions == ()
    assert messages(d)[0].startswith("canary deployment go-demo-7.test not ready")


def test_a_canary_past_its_progress_deadline_is_rolled_back() -> None:
    c = at(canary(progressDeadlineSeconds=60), Phase.PROGRESSING, canary_weight=20)
    late = world(target=starting(NEW, NOW - timedelta(seconds=61)), routes=Routes(80, 20))
    d = decision(c, late)
    assert d.actions == (SetRoutes(Routes(100, 0)), ScaleCanary(up=False))
    assert d.status.phase == Phase.FAILED
    assert messages(d)[0].startswith("Rolling back go-demo-7.test progress deadline exceeded")


def test_a_primary_past_its_deadline_during_the_analysis_rolls_back() -> None:
    c = at(canary(progressDeadlineSeconds=60), Phase.PROGRESSING, canary_weight=20)
    stuck = WorkloadState(OLD, replicas=2, updated=2, available=0, deadline_exceeded=True)
    d = decision(c, world(primary=stuck, routes=Routes(80, 20)))
    assert d.status.phase == Phase.FAILED


def test_suspend_pauses_without_resetting() -> None:
    c = at(canary(suspend=True), Phase.PROGRESSING, canary_weight=40, failed_checks=1)
    assert decision(c, world(routes=Routes(60, 40))) == Decision(c.status)


def test_skip_analysis_promotes_without_checks() -> None:
    c = at(canary(skipAnalysis=True), Phase.PROGRESSING)
    d = decision(c, world())
    assert d.actions == (SetRoutes(Routes(100, 0)), Promote(NEW), ScaleCanary(up=False))
    assert d.status.phase == Phase.SUCCEEDED
    assert messages(d)[-1] == "Promotion completed! Canary analysis was skipped for go-demo-7.test"


def test_hooks_of_each_type_are_only_asked_for_where_they_belong() -> None:
    every_type = [hook(t.value, t.value) for t in HookType if t != HookType.EVENT]
    c = at(canary({"webhooks": every_type}), Phase.PROGRESSING, canary_weight=20)
    asked = []
    observed = world(routes=Routes(80, 20), measurements=SUCCESS)
    answer = decide(c, observed, NOW)
    while isinstance(answer, NeedHook):
        asked.append(answer.webhook.name)
        ok = answer.webhook.type != HookType.ROLLBACK
        observed = observed.with_hook(answer.webhook.name, HookResult(ok))
        answer = decide(c, observed, NOW)
    assert asked == ["rollback", "rollout", "confirm-traffic-increase"]
