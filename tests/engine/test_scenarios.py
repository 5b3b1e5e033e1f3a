"""Whole canary lives, tick by tick, against the in-memory ports and a fake clock.

Each row is what a user would see after one tick:
(phase, canary weight on the router, failed checks, canary replicas, primary version).
"""

from __future__ import annotations

from typing import Any

from tests.engine.builders import canary, hook

from coalmine.api import Canary, Phase
from coalmine.engine import Routes
from coalmine.testing import Simulation

Row = tuple[str, int, int, int, str]


async def started(c: Canary, **measurements: float | None) -> Simulation:
    """A simulation with 0.0.1 initialized as the primary and the given metric values."""
    sim = Simulation(c, replicas=2)
    for name, value in {"request-success-rate": 100.0, **measurements}.items():
        sim.measurer.set(name.replace("_", "-"), value)
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
    return sim


def row(sim: Simulation) -> Row:
    routes = sim.routes or Routes(100, 0)
    return (
        str(sim.phase),
        routes.canary,
        sim.canary.status.failed_checks,
        sim.workload.replicas(sim.target),
        sim.workload.version(f"{sim.target}-primary"),
    )


async def trace(sim: Simulation, ticks: int) -> list[Row]:
    rows = []
    for _ in range(ticks):
        await sim.tick()
        rows.append(row(sim))
    return rows


def events_since(sim: Simulation, start: int) -> list[str]:
    return sim.notifier.messages[start:]


async def test_initialization() -> None:
    sim = Simulation(canary(), replicas=2)
    await sim.tick()
    assert sim.phase == Phase.INITIALIZING
    assert sim.workload.version("go-demo-7-primary") == "0.0.1"
    assert sim.routes is None  # nothing routed before the primary is ready
    sim.workload.set_healthy("go-demo-7-primary", False)
    await sim.tick()
    assert sim.phase == Phase.INITIALIZING
    assert sim.notifier.events[-1].type == "Warning"
    sim.workload.set_healthy("go-demo-7-primary", True)
    await sim.tick()
    assert row(sim) == ("Initialized", 0, 0, 0, "0.0.1")
    assert sim.canary.status.last_promoted_spec == sim.workload.deployments["go-demo-7"].revision
    assert sim.notifier.messages[-1] == "Initialization done! go-demo-7.test"


async def test_a_good_release_is_promoted_step_by_step() -> None:
    sim = await started(canary())
    sim.deploy("0.0.2")
    assert await trace(sim, 8) == [
        ("Progressing", 0, 0, 2, "0.0.1"),
        ("Progressing", 20, 0, 2, "0.0.1"),
        ("Progressing", 40, 0, 2, "0.0.1"),
        ("Progressing", 60, 0, 2, "0.0.1"),
        ("Promoting", 60, 0, 2, "0.0.2"),
        ("Finalising", 0, 0, 2, "0.0.2"),
        ("Succeeded", 0, 0, 0, "0.0.2"),
        ("Succeeded", 0, 0, 0, "0.0.2"),
    ]
    assert sim.router.history[sim.canary.key] == [
        Routes(100, 0),  # initialization
        Routes(80, 20),
        Routes(60, 40),
        Routes(40, 60),
        Routes(100, 0),  # promotion
    ]
    assert "Promotion completed! Scaling down go-demo-7.test" in sim.notifier.messages


async def test_a_failing_release_is_rolled_back_at_the_threshold() -> None:
    sim = await started(canary({"threshold": 3}))
    sim.deploy("0.0.3")
    mark = len(sim.notifier.events)
    rows = await trace(sim, 3)
    sim.measurer.set("request-success-rate", 80.0)
    rows += await trace(sim, 4)
    assert rows == [
        ("Progressing", 0, 0, 2, "0.0.1"),
        ("Progressing", 20, 0, 2, "0.0.1"),
        ("Progressing", 40, 0, 2, "0.0.1"),
        ("Progressing", 40, 1, 2, "0.0.1"),
        ("Progressing", 40, 2, 2, "0.0.1"),
        ("Failed", 0, 3, 0, "0.0.1"),
        ("Failed", 0, 3, 0, "0.0.1"),
    ]
    assert events_since(sim, mark)[-3:] == [
        "Halt advancement go-demo-7.test request-success-rate 80.00 < 99"
        " (query: fake:request-success-rate)",
        "Rolling back go-demo-7.test failed checks threshold reached 3",
        "Canary failed! Scaling down go-demo-7.test",
    ]


async def test_a_fixed_release_rolls_forward_after_a_failed_one() -> None:
    sim = await started(canary())
    sim.measurer.set("request-success-rate", 50.0)
    sim.deploy("0.0.3")
    await sim.run_until_phase(Phase.FAILED)
    sim.measurer.set("request-success-rate", 100.0)
    sim.deploy("0.0.4")
    await sim.run_until_phase(Phase.SUCCEEDED)
    assert sim.workload.version("go-demo-7-primary") == "0.0.4"
    assert sim.canary.status.failed_checks == 0


async def test_a_rollback_webhook_rolls_back_on_demand() -> None:
    sim = await started(canary({"webhooks": [hook("panic", "rollback")]}))
    sim.hooks.answer("panic", ok=False)
    sim.deploy("0.0.2")
    await trace(sim, 3)
    assert row(sim) == ("Progressing", 40, 0, 2, "0.0.1")
    sim.hooks.answer("panic", ok=True)
    assert await trace(sim, 1) == [("Failed", 0, 0, 0, "0.0.1")]
    assert "Rolling back go-demo-7.test manual webhook invoked" in sim.notifier.messages


async def test_a_canary_that_never_becomes_ready_is_rolled_back_at_its_deadline() -> None:
    sim = await started(canary({"interval": "30s"}, progressDeadlineSeconds=60))
    sim.deploy("0.0.2", healthy=False)
    rows = await trace(sim, 4)
    assert rows == [
        ("Progressing", 0, 0, 2, "0.0.1"),
        ("Progressing", 0, 0, 2, "0.0.1"),
        ("Progressing", 0, 0, 2, "0.0.1"),
        ("Failed", 0, 0, 0, "0.0.1"),
    ]
    assert any("progress deadline exceeded" in m for m in sim.notifier.messages)
    assert sim.notifier.alerts[-1].severity == "error"


async def test_a_new_revision_mid_analysis_restarts_it() -> None:
    sim = await started(canary({"threshold": 5}))
    sim.deploy("0.0.2")
    await trace(sim, 3)
    sim.measurer.set("request-success-rate", 90.0)
    await trace(sim, 1)
    assert row(sim) == ("Progressing", 40, 1, 2, "0.0.1")
    sim.measurer.set("request-success-rate", 100.0)
    sim.deploy("0.0.3")
    assert await trace(sim, 1) == [("Progressing", 0, 0, 2, "0.0.1")]
    await sim.run_until_phase(Phase.SUCCEEDED)
    assert sim.workload.version("go-demo-7-primary") == "0.0.3"


async def test_reverting_the_target_to_the_promoted_release_starts_nothing() -> None:
    sim = await started(canary())
    sim.measurer.set("request-success-rate", 10.0)
    sim.deploy("0.0.2")
    await sim.run_until_phase(Phase.FAILED)
    writes = sim.store.writes
    sim.deploy("0.0.1")
    assert await trace(sim, 3) == [("Failed", 0, 2, 0, "0.0.1")] * 3
    assert sim.store.writes == writes


async def test_step_weights() -> None:
    sim = await started(canary({"stepWeight": None, "maxWeight": None, "stepWeights": [5, 25, 50]}))
    sim.deploy("0.0.2")
    rows = await trace(sim, 5)
    assert [r[:2] for r in rows] == [
        ("Progressing", 0),
        ("Progressing", 5),
        ("Progressing", 25),
        ("Progressing", 50),
        ("Promoting", 50),
    ]


async def test_step_weight_promotion() -> None:
    sim = await started(canary({"stepWeightPromotion": 25}))
    sim.deploy("0.0.2")
    await sim.run_until_phase(Phase.PROMOTING)
    rows = await trace(sim, 4)
    assert [r[:2] for r in rows] == [
        ("Promoting", 35),
        ("Promoting", 10),
        ("Finalising", 0),
        ("Succeeded", 0),
    ]


async def test_ab_testing_routes_matching_requests_for_each_iteration() -> None:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    ab = canary({"stepWeight": None, "maxWeight": None, "iterations": 3, "match": match})
    sim = await started(ab)
    sim.deploy("0.0.2")
    rows = await trace(sim, 6)
    assert rows == [
        ("Progressing", 0, 0, 2, "0.0.1"),
        ("Progressing", 100, 0, 2, "0.0.1"),
        ("Progressing", 100, 0, 2, "0.0.1"),
        ("Progressing", 100, 0, 2, "0.0.1"),
        ("Promoting", 100, 0, 2, "0.0.2"),
        ("Finalising", 0, 0, 2, "0.0.2"),
    ]
    assert "Advance go-demo-7.test canary iteration 3/3" in sim.notifier.messages


async def test_blue_green_keeps_traffic_on_the_primary_then_switches() -> None:
    bg = canary({"stepWeight": None, "maxWeight": None, "iterations": 2})
    sim = await started(bg)
    sim.deploy("0.0.2")
    rows = await trace(sim, 6)
    assert [r[:2] for r in rows] == [
        ("Progressing", 0),
        ("Progressing", 0),
        ("Progressing", 0),
        ("Progressing", 100),
        ("Promoting", 100),
        ("Finalising", 0),
    ]
    assert "Routing all traffic to canary" in sim.notifier.messages


async def test_blue_green_with_mirroring_mirrors_during_the_iterations() -> None:
    bg = canary({"stepWeight": None, "maxWeight": None, "iterations": 2, "mirror": True})
    sim = await started(bg)
    sim.deploy("0.0.2")
    await trace(sim, 2)
    assert sim.routes == Routes(100, 0, mirrored=True)
    await sim.run_until_phase(Phase.SUCCEEDED)
    assert "Stop traffic mirroring and route all traffic to canary" in sim.notifier.messages


async def test_canary_with_mirroring_mirrors_first_then_shifts() -> None:
    sim = await started(canary({"mirror": True, "mirrorWeight": 50}))
    sim.deploy("0.0.2")
    await trace(sim, 2)
    assert sim.routes == Routes(100, 0, mirrored=True)
    await trace(sim, 1)
    assert sim.routes == Routes(80, 20, mirrored=False)
    await sim.run_until_phase(Phase.SUCCEEDED)


async def test_skip_analysis_promotes_at_once() -> None:
    sim = await started(canary(skipAnalysis=True))
    sim.measurer.set("request-success-rate", 0.0)
    sim.deploy("0.0.2")
    assert await trace(sim, 2) == [
        ("Progressing", 0, 0, 2, "0.0.1"),
        ("Succeeded", 0, 0, 0, "0.0.2"),
    ]


async def test_suspend_pauses_and_resume_carries_on() -> None:
    sim = await started(canary())
    sim.deploy("0.0.2")
    await trace(sim, 3)
    sim.canary = sim.canary.model_copy(
        update={"spec": sim.canary.spec.model_copy(update={"suspend": True})}
    )
    assert await trace(sim, 3) == [("Progressing", 40, 0, 2, "0.0.1")] * 3
    sim.canary = sim.canary.model_copy(
        update={"spec": sim.canary.spec.model_copy(update={"suspend": False})}
    )
    assert (await trace(sim, 1))[0][:2] == ("Progressing", 60)


async def test_no_data_never_passes() -> None:
    sim = await started(canary({"threshold": 2}))
    sim.measurer.set("request-success-rate", None)
    sim.deploy("0.0.2")
    rows = await trace(sim, 4)
    assert rows[-1] == ("Failed", 0, 2, 0, "0.0.1")
    assert any("no data (no value for request-success-rate)" in m for m in sim.notifier.messages)


async def test_confirm_rollout_gate() -> None:
    sim = await started(canary({"webhooks": [hook("approve", "confirm-rollout")]}))
    sim.hooks.answer("approve", ok=False)
    sim.deploy("0.0.2")
    assert await trace(sim, 2) == [("Waiting", 0, 0, 0, "0.0.1")] * 2
    sim.hooks.answer("approve", ok=True)
    assert await trace(sim, 1) == [("Progressing", 0, 0, 2, "0.0.1")]


async def test_confirm_traffic_increase_gate() -> None:
    sim = await started(canary({"webhooks": [hook("more", "confirm-traffic-increase")]}))
    sim.deploy("0.0.2")
    await trace(sim, 2)
    sim.hooks.answer("more", ok=False)
    assert [r[:3] for r in await trace(sim, 2)] == [("Progressing", 20, 0)] * 2
    sim.hooks.answer("more", ok=True)
    assert (await trace(sim, 1))[0][:2] == ("Progressing", 40)


async def test_confirm_promotion_gate() -> None:
    sim = await started(canary({"webhooks": [hook("ship", "confirm-promotion")]}))
    sim.hooks.answer("ship", ok=False)
    sim.deploy("0.0.2")
    rows = await trace(sim, 6)
    assert [r[:2] for r in rows[3:]] == [("Progressing", 60)] + [("WaitingPromotion", 60)] * 2
    assert sim.measurer.calls.count("request-success-rate") == 4  # checks go on while waiting
    sim.hooks.answer("ship", ok=True)
    assert (await trace(sim, 1))[0][:2] == ("Promoting", 60)


async def test_pre_rollout_gate_failure_counts_as_a_failed_check() -> None:
    sim = await started(canary({"webhooks": [hook("smoke", "pre-rollout")], "threshold": 2}))
    sim.hooks.answer("smoke", ok=False)
    sim.deploy("0.0.2")
    assert [r[:3] for r in await trace(sim, 3)] == [
        ("Progressing", 0, 0),
        ("Progressing", 0, 1),
        ("Failed", 0, 2),
    ]


async def test_rollout_hook_failure_halts_the_step() -> None:
    sim = await started(canary({"webhooks": [hook("check", "rollout")], "threshold": 5}))
    sim.deploy("0.0.2")
    await trace(sim, 2)
    sim.hooks.answer("check", ok=False, message="503 not yet")
    assert [r[:3] for r in await trace(sim, 1)] == [("Progressing", 20, 1)]
    assert sim.notifier.messages[-1] == (
        "Halt go-demo-7.test advancement external check check failed 503 not yet"
    )


async def test_post_rollout_hooks_run_after_success_and_after_failure() -> None:
    sim = await started(canary({"webhooks": [hook("tell", "post-rollout")]}))
    sim.deploy("0.0.2")
    await sim.run_until_phase(Phase.SUCCEEDED)
    sim.measurer.set("request-success-rate", 1.0)
    sim.deploy("0.0.3")
    await sim.run_until_phase(Phase.FAILED)
    calls = [(c.name, c.phase) for c in sim.hooks.calls]
    assert calls == [("tell", Phase.SUCCEEDED), ("tell", Phase.FAILED)]
    assert sim.notifier.messages.count("Post-rollout check tell passed") == 2


async def test_an_action_that_fails_leaves_the_status_for_the_next_tick() -> None:
    sim = await started(canary())
    sim.deploy("0.0.2")
    await trace(sim, 1)
    broken: dict[str, Any] = {}

    async def refuse(canary: Canary, routes: Routes) -> None:
        broken["tried"] = routes
        from coalmine.errors import AdapterError

        raise AdapterError("VirtualService go-demo-7 conflict")

    original = sim.router.set_routes
    sim.router.set_routes = refuse  # type: ignore[method-assign]
    outcome = await sim.tick()
    assert outcome.decision is None
    assert outcome.error == (
        "setting weights primary 80 canary 20 failed: VirtualService go-demo-7 conflict"
    )
    assert row(sim) == ("Progressing", 0, 0, 2, "0.0.1")
    sim.router.set_routes = original  # type: ignore[method-assign]
    await sim.tick()
    assert row(sim) == ("Progressing", 20, 0, 2, "0.0.1")
