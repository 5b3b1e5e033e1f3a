"""Flagger's check of the metrics servers at initialization (`scheduler.go`: at every
tick while the phase is "" or Initializing, unless skipAnalysis): a Warning event when
one is offline, a Normal one when all answer; the canary initializes either way."""

from __future__ import annotations

from tests.engine.builders import canary

from coalmine.api import Phase
from coalmine.engine.decision import Event, EventType
from coalmine.engine.tick import ALL_PROVIDERS_AVAILABLE
from coalmine.testing import Simulation

OFFLINE = "prometheus at http://prometheus:9090 (built-in request-success-rate) is not available"


def provider_events(sim: Simulation) -> list[Event]:
    return [
        e
        for e in sim.notifier.events
        if e.message == ALL_PROVIDERS_AVAILABLE or "metric providers" in e.message
    ]


async def test_an_offline_server_is_a_warning_at_each_initializing_tick_and_no_stop() -> None:
    sim = Simulation(canary(), replicas=2)
    sim.measurer.offline = OFFLINE
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
    events = provider_events(sim)
    assert len(events) == len(sim.recorder.ticks) >= 2  # one per tick while initializing
    assert {(e.type, e.message) for e in events} == {
        (EventType.WARNING, f"Error checking metric providers: {OFFLINE}")
    }
    sim.deploy("0.0.2")
    sim.measurer.set("request-success-rate", 100.0)
    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=20)
    assert len(provider_events(sim)) == len(events)  # asked at initialization only


async def test_all_servers_online_is_said_once_per_initializing_tick() -> None:
    sim = Simulation(canary(), replicas=2)
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
    events = provider_events(sim)
    assert events and all(e == Event(ALL_PROVIDERS_AVAILABLE) for e in events)


async def test_skip_analysis_and_suspend_ask_nothing() -> None:
    for spec in ({"skipAnalysis": True}, {"suspend": True}):
        sim = Simulation(canary(**spec), replicas=2)
        sim.measurer.offline = OFFLINE
        for _ in range(3):
            await sim.tick()
        assert provider_events(sim) == [], spec
