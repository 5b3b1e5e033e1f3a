"""A tick whose actions were carried out but whose status was never written (a controller
killed, an API answer lost) must not make the next tick go back or stall."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.engine.builders import canary

from coalmine.api import CanaryStatus, Phase
from coalmine.engine import (
    Decision,
    Observations,
    Routes,
    ScaleCanary,
    SetRoutes,
    WorkloadState,
    decide,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def state(revision: str, replicas: int = 2) -> WorkloadState:
    return WorkloadState(revision=revision, replicas=replicas, updated=replicas, available=replicas)


def tick(phase: Phase, weight: int, routes: Routes, target: WorkloadState) -> Decision:
    status = CanaryStatus(
        phase=phase,
        last_applied_spec="new",
        last_promoted_spec="old",
        canary_weight=weight,
        failed_checks=1,
        analysis_start_time=NOW,
    )
    observed = Observations(target=target, primary=state("old"), routes=routes)
    answer = decide(canary().with_status(status), observed, NOW)
    assert isinstance(answer, Decision), answer
    return answer


def test_a_rollback_whose_status_was_lost_is_finished_not_restarted() -> None:
    """Traffic already back on the primary, the canary maybe at zero, the status still
    Progressing at weight 20: roll back, never start the analysis again at weight 20."""
    for target in (state("new"), state("new", replicas=0)):
        d = tick(Phase.PROGRESSING, 20, Routes.all_primary(), target)
        assert d.actions == (SetRoutes(Routes.all_primary()), ScaleCanary(up=False))
        assert d.status.phase == Phase.FAILED
        assert "finishing an interrupted rollback" in d.events[0].message


def test_finalising_with_the_canary_already_at_zero_completes() -> None:
    """The canary was scaled to zero and the status write was lost: Finalising again."""
    d = tick(Phase.FINALISING, 0, Routes.all_primary(), state("new", replicas=0))
    assert d.status.phase == Phase.SUCCEEDED
    assert d.actions == (ScaleCanary(up=False),)


def test_a_step_whose_status_was_lost_takes_the_weight_from_the_router() -> None:
    """The router is at 20, the status still at 0: the status follows the router, so a
    rollback cut short later is recognised (not restarted at the first step)."""
    d = tick(Phase.PROGRESSING, 0, Routes(80, 20), state("new"))
    assert d.status.canary_weight == 20
    assert d.status.phase == Phase.PROGRESSING
