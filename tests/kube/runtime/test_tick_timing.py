"""A tick's own duration: its wall time less the (overlapping) time awaiting metric queries;
the time awaiting API requests apart.

The clock is the test's: each stand-in step moves it on by a set amount, so the figures
are exact and nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from coalmine.api.canary import Canary, CanaryMetric
from coalmine.engine.observations import Measurement
from coalmine.errors import Unavailable
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import DEPLOYMENTS
from coalmine.kube.runtime.settings import ControllerSettings
from coalmine.kube.runtime.tick_timing import TickTimer, TimedMeasurer, awaiting_api
from coalmine.kube.runtime.wiring import wire
from tests.fixtures.operator import NAMESPACE
from tests.kube_emulator import KubeEmulator


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SlowMeasurer:
    """Every query takes `seconds` of the test's clock, awaited concurrently."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds

    async def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement:
        await asyncio.sleep(0)  # every concurrent query has begun before the clock moves
        self.clock.now += self.seconds / 2
        await asyncio.sleep(0)
        return Measurement.of(1.0, query=metric.name)

    async def unavailable(self, canary: Canary) -> str | None:
        self.clock.now += self.seconds
        return None


def own_seconds(registry: CollectorRegistry) -> tuple[float, float]:
    count = registry.get_sample_value("coalmine_tick_own_seconds_count")
    total = registry.get_sample_value("coalmine_tick_own_seconds_sum")
    return count or 0.0, total or 0.0


METRIC = CanaryMetric.model_validate(
    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}}
)


async def test_concurrent_queries_are_left_out_once_and_the_rest_is_counted() -> None:
    clock, registry = Clock(), CollectorRegistry()
    timer = TickTimer(registry, clock=clock)
    measurer = TimedMeasurer(SlowMeasurer(clock, seconds=10.0))
    canary: Canary = None  # type: ignore[assignment]  # (the stand-in never reads it)

    with timer.measuring() as watch:
        clock.now += 0.02  # the engine and the cache read
        await asyncio.gather(*(measurer.measure(canary, METRIC) for _ in range(3)))
        clock.now += 0.03  # the API writes
        assert await measurer.unavailable(canary) is None
        watch.counted = True

    count, total = own_seconds(registry)
    assert count == 1
    assert abs(total - 0.05) < 1e-9, "three queries overlapping, then one more, left out"
    assert abs(watch.awaiting_metrics - (3 * 5.0 + 10.0)) < 1e-9


async def test_a_tick_that_did_not_advance_is_not_recorded() -> None:
    registry = CollectorRegistry()
    timer = TickTimer(registry, clock=Clock())
    with timer.measuring():
        pass  # not this replica's shard: nothing done, nothing counted
    assert own_seconds(registry) == (0.0, 0.0)


async def test_queries_outside_a_tick_are_passed_through() -> None:
    clock = Clock()
    measurer = TimedMeasurer(SlowMeasurer(clock, seconds=2.0))
    canary: Canary = None  # type: ignore[assignment]
    found = await measurer.measure(canary, METRIC)
    assert found.value == 1.0


async def test_api_requests_are_timed_apart_from_the_rest_of_the_own_time() -> None:
    """Two API requests in flight together, then one alone: their wall time goes into
    coalmine_tick_api_seconds, and the own time less it into ..._own_less_api_seconds."""
    clock, registry = Clock(), CollectorRegistry()
    timer = TickTimer(registry, clock=clock)

    async def answered_after(seconds: float) -> dict[str, object]:
        await asyncio.sleep(0)  # every concurrent request has been sent before the clock moves
        clock.now += seconds
        return {}

    with timer.measuring() as watch:
        clock.now += 0.02  # the engine
        await asyncio.gather(awaiting_api(answered_after(0.1)), awaiting_api(answered_after(0.1)))
        clock.now += 0.01  # the event recorder's own work
        await awaiting_api(answered_after(0.3))
        watch.counted = True

    api = registry.get_sample_value("coalmine_tick_api_seconds_sum")
    rest = registry.get_sample_value("coalmine_tick_own_less_api_seconds_sum")
    own = registry.get_sample_value("coalmine_tick_own_seconds_sum")
    assert api is not None and rest is not None and own is not None
    assert abs(api - 0.5) < 1e-9, "the two overlapping requests counted as their wall time"
    assert abs(rest - 0.03) < 1e-9
    assert abs(own - 0.53) < 1e-9


async def test_the_operators_client_times_its_requests_for_the_tick(
    kube_client: KubeClient,
) -> None:
    wiring = wire(kube_client, ControllerSettings(), CollectorRegistry())
    try:
        assert kube_client.timing is awaiting_api
        with wiring.timer.measuring() as watch:
            await kube_client.get(DEPLOYMENTS, "absent", NAMESPACE)
            watch.counted = True
        assert watch.api.seconds > 0
    finally:
        await wiring.close()


async def test_each_request_is_timed_waiting_for_a_slot_then_awaiting_its_answer(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    """With one slot and the first answer 0.3 s late, the second request waits that long
    for the slot: the queue and the answer, told apart (`coalmine_kube_request_*`)."""
    registry = CollectorRegistry()
    wiring = wire(kube_client, ControllerSettings(), registry)
    kube_client._in_flight = asyncio.Semaphore(1)
    kube_emulator.faults.configure(rate=1.0, kinds=("timeout",), seed=1)
    kube_emulator.faults.hang_s = 0.3
    try:
        for answer in await asyncio.gather(
            kube_client.get(DEPLOYMENTS, "absent", NAMESPACE),
            kube_client.get(DEPLOYMENTS, "absent", NAMESPACE),
            return_exceptions=True,
        ):
            assert isinstance(answer, Unavailable), "the fault's 504"
    finally:
        kube_emulator.faults.configure(rate=0.0, seed=1)
        await wiring.close()

    def sample(name: str) -> float:
        value = registry.get_sample_value(name)
        assert value is not None
        return value

    assert sample("coalmine_kube_request_seconds_count") == 2
    assert sample("coalmine_kube_request_seconds_sum") >= 0.6, "each answered 0.3 s late"
    assert sample("coalmine_kube_request_queue_seconds_count") == 2
    assert sample("coalmine_kube_request_queue_seconds_sum") >= 0.3, "one waited for the other"
