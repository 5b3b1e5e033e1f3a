"""Metric queries bounded: per-provider places and rate, a shared pool, a slow one isolated."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from coalmine.engine import Measurement
from coalmine.metrics import MeasurerSettings, MetricMeasurer, ProviderSettings
from coalmine.metrics.limits import QueryLimits, QueryLimitSettings
from tests.metrics.test_measurer import canary

SLOW, FAST = "http://slow-prometheus:9090", "http://fast-prometheus:9090"


class Gated:
    """Provider servers: SLOW answers only once the test opens its gate, FAST at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.asked: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()

    def provider(self, settings: ProviderSettings) -> Gated.Provider:
        return Gated.Provider(self, settings.address)

    class Provider:
        def __init__(self, servers: Gated, address: str) -> None:
            self.servers, self.address = servers, address

        async def query(self, query: str) -> Measurement:
            self.servers.asked[self.address] += 1
            if self.address == SLOW:
                await self.servers.gate.wait()
            self.servers.answered[self.address] += 1
            return Measurement(99.5)


async def spin(turns: int = 50) -> None:
    """Let every ready task run (no wall-clock wait)."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def slow_provider_holds_its_places(
    limits: QueryLimits,
) -> tuple[Gated, asyncio.Task[Measurement], list[asyncio.Task[Measurement]]]:
    """Ten canaries query SLOW (which hangs), then one queries FAST."""
    servers = Gated()
    settings = MeasurerSettings(ProviderSettings(SLOW))
    measurer = MetricMeasurer(settings, providers={"prometheus": servers.provider}, limits=limits)
    on_slow, on_fast = canary(), canary(metricsServer=FAST)
    metric = on_slow.spec.analysis.metrics[0]
    slow = [asyncio.create_task(measurer.measure(on_slow, metric)) for _ in range(10)]
    await spin()
    fast = asyncio.create_task(measurer.measure(on_fast, metric))
    await spin()
    return servers, fast, slow


async def test_a_slow_provider_delays_only_its_own_canaries() -> None:
    limits = QueryLimits(QueryLimitSettings(in_flight=4, per_provider=2, rate=1e6))

    servers, fast, slow = await slow_provider_holds_its_places(limits)

    assert servers.asked[SLOW] == 2, "the slow provider has its 2 places, the rest wait"
    assert fast.done() and fast.result().value == 99.5, "the other provider's canary went on"
    servers.gate.set()
    await asyncio.wait_for(asyncio.gather(*slow), 5)
    assert servers.answered[SLOW] == 10


async def test_without_a_per_provider_bound_the_slow_one_would_hold_the_pool() -> None:
    """The check above can fail: a pool no wider than one provider's share is all taken."""
    limits = QueryLimits(QueryLimitSettings(in_flight=2, per_provider=2, rate=1e6))

    servers, fast, slow = await slow_provider_holds_its_places(limits)

    assert not fast.done() and servers.asked[FAST] == 0
    servers.gate.set()
    await asyncio.wait_for(asyncio.gather(fast, *slow), 5)


async def test_each_provider_has_its_own_rate() -> None:
    now, slept = [100.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    limits = QueryLimits(
        QueryLimitSettings(rate=2.0, burst=2), monotonic=lambda: now[0], sleep=sleep
    )
    for _ in range(4):
        async with limits.query(SLOW):
            pass
    async with limits.query(FAST):
        pass
    now[0] += 10  # a quiet spell refills the bucket up to the burst
    for _ in range(3):
        async with limits.query(SLOW):
            pass

    assert slept == [0.5, 1.0, 0.5], "a burst of 2, then 2 a second; FAST waited for nothing"


def test_limits_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="per_provider"):
        QueryLimitSettings(in_flight=4, per_provider=8)
