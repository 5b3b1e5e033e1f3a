"""A whole canary run through the real engine, with every webhook type called over HTTP.

The world is the simulation's (fake Deployments, router and metrics), but the Hooks port
is the HTTP adapter and events go through the event-webhook notifier, to a real HTTP
receiver that records what a user's webhook endpoint would see.
"""

from __future__ import annotations

from typing import Any

from coalmine.api import Canary, Phase
from coalmine.hooks import HttpHooks
from coalmine.testing import Simulation
from tests.engine.builders import canary
from tests.fixtures.hooks import Answer, Receiver, with_http_hooks

HOOK_PATHS = {
    "confirm-rollout": "/confirm-rollout",
    "pre-rollout": "/pre-rollout",
    "rollout": "/rollout",
    "confirm-traffic-increase": "/traffic",
    "confirm-promotion": "/promotion",
    "post-rollout": "/post",
    "rollback": "/rollback",
    "event": "/events",
}


def every_hook_canary(hook_endpoint: Receiver) -> Canary:
    hooks: list[dict[str, Any]] = [
        {"name": type_, "type": type_, "url": hook_endpoint.url(path)}
        for type_, path in HOOK_PATHS.items()
    ]
    hooks[1]["metadata"] = {"cmd": "hey -z 1m http://go-demo-7-canary.test/?a=1&b=2"}
    hooks[-1]["metadata"] = {"channel": "releases"}
    return canary({"maxWeight": 40, "webhooks": hooks})


async def started(c: Canary, hooks: HttpHooks) -> Simulation:
    sim = with_http_hooks(Simulation(c), hooks)
    sim.measurer.set("request-success-rate", 100.0)
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
    return sim


def gate_calls(hook_endpoint: Receiver, start: int = 0) -> list[tuple[str, str]]:
    """(path, phase) of every call but the event webhook's."""
    return [
        (call.path, call.json["phase"])
        for call in hook_endpoint.calls[start:]
        if call.path != "/events"
    ]


def event_messages(hook_endpoint: Receiver, start: int = 0) -> list[str]:
    calls = hook_endpoint.calls[start:]
    return [call.json["metadata"]["eventMessage"] for call in calls if call.path == "/events"]


async def test_every_hook_is_called_in_order_through_promotion(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    hook_endpoint.answer("/rollback", Answer(403, "Forbidden"))  # no rollback asked for
    sim = await started(every_hook_canary(hook_endpoint), http_hooks)
    before = len(hook_endpoint.calls)
    sim.deploy("0.0.2")
    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=10)

    P, S = "Progressing", "Succeeded"
    assert gate_calls(hook_endpoint, before) == [
        ("/confirm-rollout", P),  # tick 1: the gate, then the canary is scaled up
        ("/rollback", P), ("/pre-rollout", P), ("/traffic", P),  # tick 2: weight 20
        ("/rollback", P), ("/rollout", P), ("/traffic", P),  # tick 3: weight 40
        ("/rollback", P), ("/rollout", P), ("/promotion", P),  # tick 4: promote
        ("/post", S),  # ticks 5 and 6: traffic back to the primary, then Succeeded
    ]  # fmt: skip
    assert event_messages(hook_endpoint) == sim.notifier.messages
    assert "Post-rollout check post-rollout passed" in sim.notifier.messages


async def test_payloads_are_flaggers_byte_for_byte(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    hook_endpoint.answer("/rollback", Answer(403))
    sim = await started(every_hook_canary(hook_endpoint), http_hooks)
    before = len(hook_endpoint.calls)
    sim.deploy("0.0.2")
    await sim.tick()
    await sim.tick()
    calls = {call.path: call for call in reversed(hook_endpoint.calls[before:])}
    checksum = calls["/pre-rollout"].json["checksum"]
    assert calls["/pre-rollout"].body == (
        b'{"name":"go-demo-7","namespace":"test","phase":"Progressing","checksum":"'
        + checksum.encode()
        + b'","metadata":{"cmd":"hey -z 1m http://go-demo-7-canary.test/?a=1\\u0026b=2"}}'
    )
    assert calls["/traffic"].body == (
        b'{"name":"go-demo-7","namespace":"test","phase":"Progressing","checksum":"'
        + checksum.encode()
        + b'"}'
    )
    first_event = next(c for c in hook_endpoint.calls[before:] if c.path == "/events")
    timestamp = int(sim.clock.now().timestamp() * 1000) - 60_000  # one tick ago
    assert first_event.body == (
        b'{"name":"go-demo-7","namespace":"test","phase":"Progressing","checksum":"'
        + checksum.encode()
        + b'","metadata":{"channel":"releases",'
        b'"eventMessage":"New revision detected! Scaling up go-demo-7.test",'
        b'"eventType":"Normal","timestamp":"' + str(timestamp).encode() + b'"}}'
    )
    # The gate before the rollout still carries the previous revision's checksum.
    assert calls["/confirm-rollout"].json["checksum"] != checksum


async def test_a_rollback_webhook_rolls_back_and_post_rollout_sees_failed(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    hook_endpoint.answer("/rollback", Answer(403))
    sim = await started(every_hook_canary(hook_endpoint), http_hooks)
    sim.deploy("0.0.2")
    await sim.tick()
    await sim.tick()
    first_checksum = hook_endpoint.calls[-1].json["checksum"]
    before = len(hook_endpoint.calls)
    hook_endpoint.answer("/rollback", Answer(200, "roll it back"))
    await sim.tick()

    assert sim.phase == Phase.FAILED
    assert gate_calls(hook_endpoint, before) == [("/rollback", "Progressing"), ("/post", "Failed")]
    assert event_messages(hook_endpoint, before) == [
        "Rollback check rollback passed",
        "Rolling back go-demo-7.test manual webhook invoked",
        "Canary failed! Scaling down go-demo-7.test",
        "Post-rollout check post-rollout passed",
    ]
    event_types = [
        c.json["metadata"]["eventType"] for c in hook_endpoint.calls[before:] if c.path == "/events"
    ]
    assert event_types == ["Warning", "Warning", "Warning", "Normal"]
    assert hook_endpoint.calls[-1].json["checksum"] == first_checksum  # one rollout, one checksum

    hook_endpoint.answer("/rollback", Answer(403))
    sim.deploy("0.0.3")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary == 20)
    assert hook_endpoint.calls[-1].json["checksum"] != first_checksum


async def test_a_timeout_and_a_500_each_fail_the_hook_with_the_reason_in_the_event(
    hook_endpoint: Receiver, http_hooks: HttpHooks
) -> None:
    hook_endpoint.answer("/slow", Answer(delay=1))
    hook_endpoint.answer("/broken", Answer(500, "database down"))
    c = canary(
        {
            "threshold": 3,
            "webhooks": [
                {"name": "slow", "url": hook_endpoint.url("/slow"), "timeout": "200ms"},
                {"name": "broken", "url": hook_endpoint.url("/broken")},  # type defaults to rollout
            ],
        }
    )
    sim = await started(c, http_hooks)
    sim.deploy("0.0.2")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary == 20)
    shown = len(sim.notifier.messages)

    await sim.tick()
    hook_endpoint.answer("/slow", Answer(200))
    await sim.tick()

    assert sim.notifier.messages[shown:] == [
        f"Halt go-demo-7.test advancement external check slow failed "
        f"no answer from {hook_endpoint.url('/slow')} within 0.2s (timeout)",
        "Halt go-demo-7.test advancement external check broken failed HTTP 500: database down",
    ]
    assert sim.canary.status.failed_checks == 2
    assert sim.routes is not None and sim.routes.canary == 20
