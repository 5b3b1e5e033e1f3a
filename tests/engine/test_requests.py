"""Manual requests: promote now, roll back now, acted upon once."""

from __future__ import annotations

from tests.engine.builders import canary, hook

from coalmine.api import Canary, Phase
from coalmine.engine import Routes
from coalmine.engine.requests import REQUEST_ANNOTATION, pending_request, request_annotation
from coalmine.testing import Simulation


def ask(sim: Simulation, request_id: str, action: str, by: str = "alice") -> None:
    annotations = request_annotation(request_id, action, by)  # type: ignore[arg-type]
    metadata = sim.canary.metadata.model_copy(update={"annotations": annotations})
    sim.canary = sim.canary.model_copy(update={"metadata": metadata})


async def progressing(c: Canary, ticks: int = 3) -> Simulation:
    sim = Simulation(c, replicas=2)
    sim.measurer.set("request-success-rate", 100.0)
    await sim.run_until_phase(Phase.INITIALIZED)
    sim.deploy("0.0.2")
    for _ in range(ticks):
        await sim.tick()
    return sim


async def test_promote_skips_the_rest_of_the_analysis() -> None:
    sim = await progressing(canary({"webhooks": [hook("ship", "confirm-promotion")]}))
    sim.hooks.answer("ship", ok=False)  # the gate would hold it; a person overrides it
    assert sim.routes == Routes(60, 40)
    ask(sim, "r1", "promote")
    await sim.tick()
    assert sim.phase == Phase.PROMOTING
    assert sim.workload.version("go-demo-7-primary") == "0.0.2"
    assert sim.notifier.messages[-2:] == [
        "Promotion requested by alice: skipping the rest of the analysis of go-demo-7.test",
        "Copying go-demo-7.test template spec to go-demo-7-primary.test",
    ]
    await sim.run_until_phase(Phase.SUCCEEDED)


async def test_abort_rolls_back_now() -> None:
    sim = await progressing(canary())
    ask(sim, "r2", "abort", by="bob")
    await sim.tick()
    assert sim.phase == Phase.FAILED
    assert sim.routes == Routes(100, 0)
    assert sim.workload.replicas("go-demo-7") == 0
    assert "Rolling back go-demo-7.test aborted by bob" in sim.notifier.messages
    assert sim.notifier.alerts[-1].message == "Rolling back: aborted by bob"


async def test_a_request_is_acted_upon_once() -> None:
    sim = await progressing(canary())
    ask(sim, "r3", "abort")
    await sim.tick()
    assert sim.canary.status.handled_request == "r3"
    assert pending_request(sim.canary) is None
    sim.deploy("0.0.3")  # the old annotation stays; it must not abort the next release
    await sim.run_until_phase(Phase.SUCCEEDED)


async def test_abort_while_waiting_for_approval_rejects_the_revision() -> None:
    sim = Simulation(canary({"webhooks": [hook("go", "confirm-rollout")]}), replicas=2)
    await sim.run_until_phase(Phase.INITIALIZED)
    sim.hooks.answer("go", ok=False)
    sim.deploy("0.0.2")
    await sim.tick()
    assert sim.phase == Phase.WAITING
    ask(sim, "r4", "abort")
    await sim.tick()
    assert sim.phase == Phase.FAILED
    for _ in range(3):  # the rejected revision is judged: it does not come back
        await sim.tick()
    assert sim.phase == Phase.FAILED


async def test_requests_that_make_no_sense_are_ignored_with_a_warning() -> None:
    sim = Simulation(canary(), replicas=2)
    await sim.run_until_phase(Phase.INITIALIZED)
    ask(sim, "r5", "promote")
    await sim.tick()
    assert sim.phase == Phase.INITIALIZED
    assert sim.notifier.events[-1].type == "Warning"
    assert sim.notifier.messages[-1] == (
        "Request to promote from alice ignored: go-demo-7.test is Initialized"
    )


async def test_a_promotion_is_refused_while_the_canary_is_not_ready() -> None:
    sim = await progressing(canary())
    sim.workload.set_healthy("go-demo-7", False)
    ask(sim, "r6", "promote")
    await sim.tick()
    assert sim.phase == Phase.PROGRESSING
    assert sim.notifier.messages[-1].startswith(
        "Promotion requested by alice refused: waiting for rollout to finish"
    )


def test_an_annotation_that_is_not_a_request_is_reported_once() -> None:
    c = canary()
    metadata = c.metadata.model_copy(update={"annotations": {REQUEST_ANNOTATION: "nonsense"}})
    request = pending_request(c.model_copy(update={"metadata": metadata}))
    assert request is not None
    assert request.action is None
    assert request.id == "nonsense"
