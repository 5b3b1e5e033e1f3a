"""The judge inside the engine's Decision/Need loop: rollback the same tick, hold without
a failed check, advance on evidence, time out with a reason; thresholds still apply."""

from __future__ import annotations

from typing import Any

from tests.engine.builders import canary

from coalmine.api import Canary, Phase
from coalmine.engine import Routes
from coalmine.engine.decision import ScaleBaseline, ScaleCanary, SetRoutes
from coalmine.judge import Side, TickObservation
from coalmine.testing import Simulation

GOOD = TickObservation(Side(40000, 40), Side(10000, 10))
BAD = TickObservation(Side(40000, 40), Side(10000, 600))
THIN = TickObservation(Side(24, 0), Side(6, 0))


def judged(**judge: Any) -> Canary:
    return canary(
        {
            "threshold": 2,
            "judge": {"errors": {"maxIncrease": 0.5}, "maxAnalysisTime": "5m", **judge},
        }
    )


async def started(c: Canary, ticks: list[TickObservation]) -> Simulation:
    sim = Simulation(c)
    sim.measurer.set("request-success-rate", 100.0)
    sim.observer.ticks = ticks
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
    sim.deploy("0.0.2")
    await sim.tick()  # scale up: Progressing at weight 0
    await sim.tick()  # first step: weight 20
    assert sim.canary.status.canary_weight == 20
    return sim


async def test_a_bad_canary_is_rolled_back_in_the_first_judged_tick_with_the_reason() -> None:
    sim = await started(judged(), [BAD])
    await sim.tick()
    assert sim.phase == Phase.FAILED
    assert sim.routes is not None and sim.routes.canary == 0
    assert sim.canary.status.failed_checks == 0  # the judge's rollback needs no threshold
    judge = sim.canary.status.judge
    assert judge is not None and judge.checks[0].verdict == "rollback"
    assert judge.checks[0].lower is not None and judge.checks[0].lower > 0.005
    message = next(m for m in sim.notifier.messages if m.startswith("Rolling back"))
    assert "errors: canary 6.00 % vs primary 0.10 % (+5.9 pt, 99 % interval" in message
    assert "> 0.5 pt: rollback" in message
    assert any("Rolling back: errors: canary 6.00 %" in a.message for a in sim.notifier.alerts)


async def test_a_good_canary_advances_step_by_step_and_is_promoted() -> None:
    sim = await started(judged(), [GOOD])
    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=10)
    weights = [routes.canary for routes in sim.router.history[sim.canary.key]]
    assert weights[:4] == [0, 20, 40, 60]
    assert any(m.startswith("Judge: errors: canary 0.10 %") for m in sim.notifier.messages)


async def test_without_evidence_it_holds_then_rolls_back_at_max_analysis_time() -> None:
    sim = await started(judged(), [THIN])
    await sim.tick()
    assert sim.phase == Phase.PROGRESSING
    assert sim.canary.status.canary_weight == 20
    assert sim.canary.status.failed_checks == 0  # holding is not a failed check
    assert sim.notifier.messages[-1].startswith("Holding go-demo-7.test at canary weight 20:")
    await sim.run_until_phase(Phase.FAILED, max_ticks=6)
    assert "no verdict after maxAnalysisTime 5m" in sim.notifier.messages[-2]


async def test_fixed_range_metrics_still_count_failures_alongside_the_judge() -> None:
    sim = await started(judged(), [GOOD])
    sim.measurer.set("request-success-rate", 90.0)
    await sim.tick()
    assert sim.canary.status.failed_checks == 1
    await sim.tick()
    assert sim.phase == Phase.FAILED


async def test_a_runtime_without_counts_holds_and_says_why() -> None:
    sim = await started(judged(), [GOOD])
    sim.ports = type(sim.ports)(**{**sim.ports.__dict__, "observer": None})
    await sim.tick()
    assert sim.phase == Phase.PROGRESSING
    assert "this runtime cannot count requests per side yet" in sim.notifier.messages[-1]


async def test_a_new_revision_starts_the_evidence_afresh() -> None:
    sim = await started(judged(), [THIN])
    await sim.tick()
    assert sim.canary.status.judge is not None
    sim.deploy("0.0.3")
    await sim.tick()
    assert sim.canary.status.judge is None


# judge.baseline ---------------------------------------------------------------------------

BASELINE_GOOD = TickObservation(Side(30000, 3000), Side(10000, 10), Side(10000, 10))
"""The primary has an incident of its own; the canary is as good as the baseline."""
BASELINE_BAD = TickObservation(Side(30000, 30), Side(10000, 600), Side(10000, 10))


def with_baseline(**analysis: Any) -> Canary:
    return canary(
        {
            "threshold": 2,
            "stepWeight": 20,
            "maxWeight": 80,
            "judge": {"errors": {"maxIncrease": 0.5}, "baseline": True},
            **analysis,
        }
    )


async def test_a_baseline_is_made_from_the_primary_and_shares_the_canary_weight() -> None:
    sim = await started(with_baseline(), [BASELINE_GOOD])
    baseline = sim.workload.deployments["go-demo-7-baseline"]
    assert baseline.template == sim.workload.deployments["go-demo-7-primary"].template
    assert sim.workload.version("go-demo-7-baseline") == "0.0.1"  # the primary's revision
    assert sim.routes == Routes(primary=60, canary=20, baseline=20)
    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=12)
    history = [(r.primary, r.canary, r.baseline) for r in sim.router.history[sim.canary.key]]
    # capped at 50 so that primary 100 - 2w stays >= 0; then all to the primary
    assert history[:5] == [(100, 0, 0), (60, 20, 20), (20, 40, 40), (0, 50, 50), (100, 0, 0)]
    assert "go-demo-7-baseline" not in sim.workload.deployments  # removed at the end
    judge = sim.canary.status.judge
    assert judge is not None and "vs baseline" in judge.checks[0].message


async def test_a_bad_canary_is_rolled_back_against_the_baseline_traffic_first() -> None:
    sim = await started(with_baseline(), [BASELINE_BAD])
    outcome = await sim.tick()
    assert sim.phase == Phase.FAILED
    assert outcome.decision is not None
    assert outcome.decision.actions == (
        SetRoutes(Routes.all_primary()),
        ScaleCanary(up=False),
        ScaleBaseline(up=False),
    )
    assert "go-demo-7-baseline" not in sim.workload.deployments
    message = next(m for m in sim.notifier.messages if m.startswith("Rolling back"))
    assert "vs baseline 0.10 %" in message


async def test_counts_without_the_baseline_side_hold_rather_than_compare_with_the_primary() -> None:
    sim = await started(with_baseline(), [BAD])
    await sim.tick()
    assert sim.phase == Phase.PROGRESSING
    assert "no counts for the baseline" in sim.notifier.messages[-1]


async def test_a_removed_baseline_is_made_again_and_a_new_revision_keeps_it() -> None:
    sim = await started(with_baseline(), [BASELINE_GOOD])
    del sim.workload.deployments["go-demo-7-baseline"]
    outcome = await sim.tick()
    assert outcome.decision is not None and ScaleBaseline(up=True) in outcome.decision.actions
    assert sim.canary.status.canary_weight == 20  # held, not advanced, while it was missing
    assert "go-demo-7-baseline" in sim.workload.deployments
    sim.deploy("0.0.3")
    await sim.tick()  # a new revision: traffic back to the primary, the baseline stays
    assert sim.routes == Routes.all_primary()
    assert sim.workload.version("go-demo-7-baseline") == "0.0.1"


async def test_an_unready_baseline_gets_no_traffic() -> None:
    sim = await started(with_baseline(), [BASELINE_GOOD])
    sim.workload.set_healthy("go-demo-7-baseline", False)
    await sim.tick()
    assert sim.canary.status.canary_weight == 20
    assert "baseline deployment go-demo-7-baseline.test not ready" in sim.notifier.messages[-1]
