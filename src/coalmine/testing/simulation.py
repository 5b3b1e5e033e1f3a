"""A canary driven tick by tick against the in-memory ports, on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

from coalmine.api.canary import Canary, Phase
from coalmine.engine.observations import Routes
from coalmine.engine.ports import Ports
from coalmine.engine.tick import TickOutcome, advance
from coalmine.testing.clock import FakeClock
from coalmine.testing.fakes import (
    FakeHooks,
    FakeMeasurer,
    FakeObserver,
    FakeRouter,
    FakeWorkload,
    InMemoryStore,
    RecordingNotifier,
    RecordingRecorder,
)

__all__ = ["Simulation"]


class Simulation:
    """One canary and a world made of fakes. `await sim.tick()` is one analysis interval.

    The target Deployment is created at version "0.0.1" unless `deploy` says otherwise.
    """

    def __init__(self, canary: Canary, *, version: str = "0.0.1", replicas: int = 1) -> None:
        self.canary = canary
        self.clock = FakeClock()
        self.workload = FakeWorkload(self.clock)
        self.router = FakeRouter()
        self.measurer = FakeMeasurer()
        self.hooks = FakeHooks()
        self.notifier = RecordingNotifier()
        self.recorder = RecordingRecorder()
        self.store = InMemoryStore()
        self.observer = FakeObserver()
        self.ports = Ports(
            workload=self.workload,
            router=self.router,
            measurer=self.measurer,
            hooks=self.hooks,
            notifier=self.notifier,
            recorder=self.recorder,
            store=self.store,
            observer=self.observer,
        )
        self.workload.deploy(canary.spec.target_ref.name, version, replicas=replicas)
        self.last: TickOutcome | None = None

    @property
    def target(self) -> str:
        return self.canary.spec.target_ref.name

    @property
    def phase(self) -> Phase | None:
        return self.canary.status.phase

    @property
    def routes(self) -> Routes | None:
        return self.router.routes.get(self.canary.key)

    def deploy(self, version: str, *, healthy: bool = True) -> None:
        self.workload.deploy(self.target, version, healthy=healthy)

    async def tick(self) -> TickOutcome:
        """Let one interval pass, then advance the canary once."""
        self.clock.advance(self.canary.spec.analysis.interval_seconds)
        self.last = await advance(self.canary, self.ports, self.clock.now())
        self.canary = self.last.canary
        return self.last

    async def run_until(
        self, done: Callable[[Simulation], bool], *, max_ticks: int = 100
    ) -> list[TickOutcome]:
        """Tick until `done` holds; raises if it does not within max_ticks."""
        outcomes = []
        for _ in range(max_ticks):
            outcomes.append(await self.tick())
            if done(self):
                return outcomes
        raise AssertionError(f"not done after {max_ticks} ticks; phase {self.phase}")

    async def run_until_phase(self, *phases: Phase, max_ticks: int = 100) -> list[TickOutcome]:
        return await self.run_until(lambda sim: sim.phase in phases, max_ticks=max_ticks)
