"""The judge inside the engine's Decision/Need loop: rollback the same tick, hold without
a failed check, advance on evidence, time out with a reason; thresholds still apply."""

from __future__ import annotations

from typing import Any

from tests.engine.builders import canary

from coalmine.api import Canary, Phase
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
