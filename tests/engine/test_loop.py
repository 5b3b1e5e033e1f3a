"""The per-canary loop both runtimes run: when it ticks, when it sleeps, when it ends.

The engine's real `advance` runs on the in-memory ports of `coalmine.testing`; the
target's workload can hold a tick in progress (a gate) or fail it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from tests.engine.builders import canary

from coalmine.api.canary import Canary, CanaryStatus, Phase
from coalmine.engine.loop import CanaryLoop, Ending, Skip
from coalmine.engine.ports import Ports
from coalmine.engine.slots import Pace, an_interval_after, next_slot, on_its_slots
from coalmine.errors import CoalmineError
from coalmine.testing import (
    FakeClock,
    FakeHooks,
    FakeMeasurer,
    FakeRouter,
    FakeWorkload,
    InMemoryStore,
    RecordingNotifier,
    RecordingRecorder,
)

NOW = datetime(2027, 1, 15, 12, 0, 0, tzinfo=UTC)
KEY = "test/go-demo-7"
T = TypeVar("T")


class Workload(FakeWorkload):
    """Counts the ticks (each reads the target first); can hold one or make it fail."""

    def __init__(self) -> None:
        super().__init__(FakeClock())
        self.observed = 0
        self.gate: asyncio.Event | None = None
        self.failure: BaseException | None = None

    async def observe_target(self, canary: Canary) -> object:
        self.observed += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        return await super().observe_target(canary)


class Store(InMemoryStore):
    """Status writes, one of which can fail (the API unreachable)."""

    def __init__(self) -> None:
        super().__init__()
        self.failure: CoalmineError | None = None

    async def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        return await super().write_status(canary, status)


class World:
    """The CanarySource: the canary as last stored (its status the engine's writes)."""

    def __init__(self) -> None:
        self.workload = Workload()
        self.workload.deploy("go-demo-7", "1")
        self.store = Store()
        self.ports = Ports(
            self.workload,
            FakeRouter(),
            FakeMeasurer(),
            FakeHooks(),
            RecordingNotifier(),
            RecordingRecorder(),
            self.store,
        )
        self.canary = canary()  # interval 1m: a slot is 30 s to 90 s away
        self.gone = False
        self.skip: Skip | None = None
        self.reads = 0

    async def read(self) -> Canary | Skip | None:
        self.reads += 1
        if self.gone:
            return None
        if self.skip is not None:
            return self.skip
        return self.store.canaries.get(self.canary.key, self.canary)


class Loop(CanaryLoop):
    """The loop, with the seconds of each sleep it began recorded."""

    def __init__(self, world: World, pace: Pace = on_its_slots) -> None:
        super().__init__(KEY, world, world.ports, clock=lambda: NOW, pace=pace)
        self.waits: list[float] = []

    async def _slept(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return await super()._slept(seconds)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def asleep_after(loop: Loop, ticks: int, world: World) -> None:
    """Until the loop has ticked `ticks` times and begun its sleep after the last."""
    await until(lambda: world.workload.observed >= ticks and len(loop.waits) > ticks)


async def ended(task: asyncio.Task[T]) -> T:
    async with asyncio.timeout(5):
        return await task


async def test_a_tick_advances_the_canary_and_sleeps_to_its_next_slot() -> None:
    world = World()
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await asleep_after(loop, 1, world)

    assert world.store.canaries[world.canary.key].status.phase == Phase.INITIALIZING
    assert loop.waits == [0.0, next_slot(KEY, 60, NOW.timestamp()) - NOW.timestamp()]
    assert 30 <= loop.waits[1] < 90
    loop.stop()
    assert await ended(running) is Ending.STOPPED


async def test_local_modes_pace_sleeps_an_interval_after_each_tick() -> None:
    world = World()
    loop = Loop(world, pace=an_interval_after)
    running = asyncio.create_task(loop.run())
    await asleep_after(loop, 1, world)

    assert loop.waits == [0.0, 60.0]
    loop.stop()
    assert await ended(running) is Ending.STOPPED


async def test_a_wake_up_during_a_tick_asks_for_another_tick() -> None:
    world = World()
    world.workload.gate = asyncio.Event()
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await until(lambda: world.workload.observed == 1)  # the tick is in progress

    loop.wake()
    world.workload.gate.set()

    await until(lambda: world.workload.observed == 2)  # at once, not 30 s or more later
    loop.stop()
    assert await ended(running) is Ending.STOPPED
    assert world.workload.observed == 2


async def test_a_wake_up_while_asleep_ticks_at_once() -> None:
    world = World()
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await asleep_after(loop, 1, world)

    loop.wake()

    await asleep_after(loop, 2, world)
    loop.stop()
    assert await ended(running) is Ending.STOPPED


@pytest.mark.parametrize(
    ("fail", "logged"),
    [
        (lambda w: setattr(w.store, "failure", CoalmineError("status: 503")), "tick failed"),
        (
            lambda w: setattr(w.workload, "failure", RuntimeError("a bug")),
            "tick failed unexpectedly",
        ),
    ],
    ids=["coalmine-error", "bug"],
)
async def test_a_failing_tick_is_logged_and_the_loop_goes_on(
    fail: Callable[[World], None], logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    fail(world)
    loop = Loop(world)
    with caplog.at_level(logging.WARNING, logger="coalmine.engine.loop"):
        running = asyncio.create_task(loop.run())
        await asleep_after(loop, 1, world)

    assert not running.done()
    assert logged in caplog.text
    records = [r for r in caplog.records if r.name == "coalmine.engine.loop"]
    assert [r.canary for r in records] == ["go-demo-7"]  # type: ignore[attr-defined]
    assert world.canary.key not in world.store.canaries, "the failed tick wrote nothing"
    assert 30 <= loop.waits[1] < 90, "the next try is at the next slot"

    loop.wake()
    await asleep_after(loop, 2, world)
    assert world.canary.key in world.store.canaries, "the next tick advanced it"
    loop.stop()
    assert await ended(running) is Ending.STOPPED


async def test_the_loop_ends_when_the_canary_is_gone() -> None:
    world = World()
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await asleep_after(loop, 1, world)

    world.gone = True
    loop.wake()

    assert await ended(running) is Ending.GONE
    assert world.workload.observed == 1
    assert loop.last is not None, "the runtime forgets the canary it last advanced"


async def test_a_skipped_canary_is_not_advanced_and_read_again_at_the_slot_of_the_skip() -> None:
    """Another replica's shard, an invalid spec, the API unreachable."""
    world = World()
    world.skip = Skip(10.0)
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await until(lambda: len(loop.waits) == 2)

    assert world.workload.observed == 0
    assert loop.waits[1] == next_slot(KEY, 10.0, NOW.timestamp()) - NOW.timestamp()
    world.skip = None
    loop.wake()
    await asleep_after(loop, 1, world)
    loop.stop()
    assert await ended(running) is Ending.STOPPED
    assert world.reads == 2


async def test_stop_while_asleep_returns_at_once() -> None:
    world = World()
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await asleep_after(loop, 1, world)

    loop.stop()

    for _ in range(20):  # loop iterations, not time: the sleep had 30 s or more to go
        await asyncio.sleep(0)
    assert running.done() and running.result() is Ending.STOPPED
    assert world.workload.observed == 1


async def test_stop_during_a_tick_ends_the_loop_after_that_tick() -> None:
    world = World()
    world.workload.gate = asyncio.Event()
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await until(lambda: world.workload.observed == 1)

    loop.stop()
    world.workload.gate.set()

    assert await ended(running) is Ending.STOPPED
    assert world.store.canaries[world.canary.key].status.phase == Phase.INITIALIZING
    assert world.workload.observed == 1


async def test_stop_before_the_first_tick_ticks_nothing() -> None:
    world = World()
    loop = Loop(world)
    loop.stop()

    assert await ended(asyncio.create_task(loop.run())) is Ending.STOPPED
    assert world.reads == 0


@pytest.mark.parametrize("during", ["sleep", "tick"])
async def test_a_cancelled_loop_stops_within_its_timeout(during: str) -> None:
    world = World()
    if during == "tick":
        world.workload.gate = asyncio.Event()  # never opened: a tick that hangs
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    if during == "tick":
        await until(lambda: world.workload.observed == 1)
    else:
        await asleep_after(loop, 1, world)

    running.cancel()

    done, _ = await asyncio.wait([running], timeout=5)
    assert running in done and running.cancelled()


async def test_a_cancellation_that_lands_with_a_wake_up_ends_the_loop() -> None:
    """In Python 3.11, `asyncio.wait_for` returns normally when what it waits for completes
    in the same loop iteration as a cancellation: a loop that slept that way took the
    cancellation for its wake-up and ticked on (the operator's exit, `coalmine up`'s)."""
    world = World()
    loop = Loop(world)
    running = asyncio.create_task(loop.run())
    await asleep_after(loop, 1, world)

    loop.wake()  # the wake-up completes the wait in this iteration ...
    running.cancel()  # ... and the cancellation lands in it
    for _ in range(20):  # loop iterations, not time: a lost cancellation never ends it
        await asyncio.sleep(0)
    ended_ = running.cancelled()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert ended_, "the loop took its cancellation for a wake-up and went on"
    assert world.workload.observed == 1


async def test_a_tick_that_waited_for_a_deletion_does_nothing() -> None:
    """A deletion holds the canary's lock: a tick that read the canary before it began and
    waited for the lock must not advance it afterwards."""
    world = World()
    loop = Loop(world)
    async with loop.between_ticks() as live:
        assert live
        waiting = asyncio.create_task(loop.once())
        await until(lambda: world.reads == 1)  # read, and waiting for the lock
        loop.begin_deletion()

    step = await ended(waiting)
    assert step.seconds is None and not step.advanced
    assert world.workload.observed == 0
    async with loop.between_ticks() as live:
        assert not live, "a repair between ticks is told the canary is going"
