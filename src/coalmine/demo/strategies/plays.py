"""The three ways of shipping the faulty release, each on its own namespace of the runtime.

Each play sets up the good release, ships the faulty one, and returns once it is undone:
by hand for big-bang and rolling (a rollback the demo applies `detection_delay` seconds
after users saw the first failed request), by coalmine's analysis for the canary.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from coalmine.api.canary import Phase
from coalmine.api.workloads import Deployment, pod_template_hash
from coalmine.demo.strategies import manifests as m
from coalmine.demo.strategies.options import CompareSettings, Strategy
from coalmine.demo.strategies.watch import Outcomes, until
from coalmine.errors import CoalmineError
from coalmine.local.runtime import LocalRuntime

__all__ = ["PLAYS", "Play", "Undo"]

Print = Callable[[str], None]

SET_UP_TIMEOUT = 90.0
"""Seconds the good release may take to serve (five processes on a busy machine)."""
FIRST_FAILURE_TIMEOUT = 60.0
UNDO_TIMEOUT = 120.0
"""Seconds a rollback may take to finish (rolling: replicas replaced one by one)."""


@dataclass(frozen=True)
class Undo:
    found: str
    found_at: float
    """When the rollback began (monotonic)."""
    undone: str
    undone_at: float
    """When the gateway no longer sent anything to the faulty release (monotonic)."""
    problem: str | None = None


class Play(ABC):
    strategy: ClassVar[Strategy]
    story: ClassVar[str]

    def __init__(self, runtime: LocalRuntime, settings: CompareSettings, out: Print) -> None:
        self.runtime = runtime
        self.settings = settings
        self.out = out
        self.shipped: float | None = None

    @property
    def namespace(self) -> str:
        return self.strategy.value

    def say(self, text: str) -> None:
        """A timeline line: seconds after shipping (or `setup` before)."""
        stamp = "setup " if self.shipped is None else f"{time.monotonic() - self.shipped:+5.1f}s"
        self.out(f"  {stamp}  {text}")

    async def apply(self, text: str) -> None:
        await self.runtime.apply(text, f"demo --strategy {self.strategy.value}")

    def objects(self) -> str:
        """Every object the play applies before shipping (deleted afterwards)."""
        return m.objects(self.strategy, self.settings.interval)

    @abstractmethod
    async def set_up(self) -> None:
        """The good release serves through the gateway."""

    @abstractmethod
    async def ship(self) -> None:
        """Start shipping the faulty release."""

    @abstractmethod
    async def undo(self, outcomes: Outcomes) -> Undo:
        """Return once the faulty release gets no more traffic."""

    async def tear_down(self) -> None:
        await self.runtime.delete(self.objects(), f"demo --strategy {self.strategy.value}")

    async def until_deployments_complete(self, what: str, within: float) -> None:
        """Every Deployment of the namespace has rolled out (no replica left terminating),
        and Envoy serves exactly their ready replicas."""

        def complete() -> bool:
            mine = [s for s in self.runtime.processes.statuses() if s.namespace == self.namespace]
            return bool(mine) and all(
                s.complete and len(s.replica_details) == s.replicas for s in mine
            )

        await until(complete, within, what)
        await self.runtime.sync_dataplane()


class ManualPlay(Play):
    """Rolled back by hand: the rollback is applied a fixed delay after the first failure."""

    rollback: ClassVar[str]

    @abstractmethod
    async def roll_back(self) -> None:
        """Apply the rollback and return once it is complete."""

    async def undo(self, outcomes: Outcomes) -> Undo:
        await until(
            lambda: outcomes.first_failure is not None,
            FIRST_FAILURE_TIMEOUT,
            f"the first failed request from {m.BAD.version}",
        )
        assert outcomes.first_failure is not None
        self.say("users see the first failed request")
        delay = self.settings.detection_delay
        await asyncio.sleep(max(0.0, outcomes.first_failure + delay - time.monotonic()))
        found_at = time.monotonic()
        self.say(f"rollback by hand ({delay:g}s after the first failure): {self.rollback}")
        await self.roll_back()
        self.say(f"rolled back: no traffic goes to {m.BAD.version} any more")
        return Undo(
            found=f"by hand, {delay:g}s after the first failed request",
            found_at=found_at,
            undone=self.rollback,
            undone_at=time.monotonic(),
        )


class BigBang(ManualPlay):
    strategy = Strategy.BIG_BANG
    story = (
        f"all traffic moves to {m.BAD.version} at once "
        f"(the Service's selector switches from one Deployment to the other)"
    )
    rollback = f"the Service selects {m.GOOD.version} again (all traffic back at once)"

    async def set_up(self) -> None:
        self.say(f"{m.GOOD.version} serving, {m.BAD.version} started beside it with no traffic")
        await self.apply(self.objects())
        await self.until_deployments_complete("both releases' replicas", SET_UP_TIMEOUT)

    async def ship(self) -> None:
        await self.apply(m.service(self.namespace, version=m.BAD.version))
        self.say(f"shipped: the Service selects {m.BAD.version}; Envoy serves the switch")

    async def roll_back(self) -> None:
        await self.apply(m.service(self.namespace, version=m.GOOD.version))


class Rolling(ManualPlay):
    strategy = Strategy.ROLLING
    story = (
        f"the Deployment's rolling update replaces its {m.REPLICAS} replicas one by one "
        f"(maxSurge 1, maxUnavailable 0, minReadySeconds {m.MIN_READY_SECONDS})"
    )
    rollback = (
        f"kubectl rollout undo: the template back to {m.GOOD.version}, "
        f"replicas replaced one by one again"
    )

    async def set_up(self) -> None:
        self.say(f"{m.GOOD.version} serving with {m.REPLICAS} replicas")
        await self.apply(self.objects())
        await self.until_deployments_complete(f"{m.GOOD.version}'s replicas", SET_UP_TIMEOUT)

    async def ship(self) -> None:
        await self.apply(m.deployment(self.namespace, m.BAD))
        self.say(f"shipped: the Deployment's template now runs {m.BAD.version}")

    async def roll_back(self) -> None:
        await self.apply(m.deployment(self.namespace, m.GOOD))
        await self.until_deployments_complete(
            f"the rollback to {m.GOOD.version} to roll out", UNDO_TIMEOUT
        )


class CanaryPlay(Play):
    setup_events = 0
    """The id of the last event of the set-up (the canary's initialization): not shown."""
    strategy = Strategy.CANARY
    story = (
        "a coalmine Canary: 20 % of traffic to the new release, success rate and p99 "
        "duration checked every interval, rolled back after 3 failed checks"
    )

    async def set_up(self) -> None:
        self.say(f"{m.GOOD.version} serving as the primary of a Canary")
        await self.apply(self.objects())
        await until(
            lambda: self._phase() == Phase.INITIALIZED, SET_UP_TIMEOUT, "the Canary to initialize"
        )
        await self.until_deployments_complete(f"{m.GOOD.version}'s replicas", SET_UP_TIMEOUT)
        newest = self.runtime.store.events(self.namespace, m.APP, limit=1)
        self.setup_events = newest[-1].id if newest else 0

    async def ship(self) -> None:
        await self.apply(m.deployment(self.namespace, m.BAD))
        self.say(f"shipped: the Deployment's template now runs {m.BAD.version}")

    async def undo(self, outcomes: Outcomes) -> Undo:
        revision = self._target_revision()
        followed = _Events(self, after=self.setup_events)
        deadline = time.monotonic() + UNDO_TIMEOUT
        while not (self._status().get("lastAppliedSpec") == revision and self._final()):
            if time.monotonic() > deadline:
                raise CoalmineError(
                    f"gave up after {UNDO_TIMEOUT:g}s waiting for the canary's verdict"
                )
            followed.catch_up()
            await asyncio.sleep(0.1)
        found_at = time.monotonic()
        followed.catch_up()
        await self.runtime.sync_dataplane()
        phase = self._phase()
        problem = None if phase == Phase.FAILED else f"the canary ended {phase}, not Failed"
        return Undo(
            found=f"coalmine's analysis: {followed.first_failed_check or 'no failed check'}, "
            f"{self._status().get('failedChecks', 0)} failed checks at "
            f"{followed.top_weight} % of traffic",
            found_at=found_at,
            undone=f"by coalmine itself: all traffic to the primary ({m.GOOD.version}), "
            f"the canary scaled to zero",
            undone_at=time.monotonic(),
            problem=problem,
        )

    def _final(self) -> bool:
        return self._phase() in (Phase.FAILED, Phase.SUCCEEDED)

    def _status(self) -> dict[str, object]:
        stored = self.runtime.store.get("Canary", self.namespace, m.APP)
        return dict(stored.status or {}) if stored else {}

    def _phase(self) -> Phase | None:
        phase = self._status().get("phase")
        return Phase(phase) if isinstance(phase, str) else None

    def _target_revision(self) -> str:
        stored = self.runtime.store.get("Deployment", self.namespace, m.APP)
        assert stored is not None
        return pod_template_hash(Deployment.model_validate(stored.manifest).spec.template)


class _Events:
    """Prints the canary's events as they come; keeps the first failed check and the top weight."""

    def __init__(self, play: CanaryPlay, *, after: int) -> None:
        self.play = play
        self.last_event = after
        self.top_weight = 0
        self.first_failed_check: str | None = None

    def catch_up(self) -> None:
        play = self.play
        weight = play._status().get("canaryWeight", 0)
        if isinstance(weight, int):
            self.top_weight = max(self.top_weight, weight)
        store = play.runtime.store
        for event in store.events(play.namespace, m.APP, after=self.last_event):
            self.last_event = event.id
            message = event.message.split(" (query: ")[0]
            play.say(("! " if event.type == "Warning" else "") + message)
        if self.first_failed_check is None:
            failed = [c for c in store.checks(play.namespace, m.APP) if not c.passed]
            if failed:
                first = failed[-1]  # newest first
                value = "no data" if first.value is None else f"{first.value:.1f}"
                limit = f">= {first.min:g}" if first.min is not None else f"<= {first.max:g}"
                self.first_failed_check = f"{first.metric} {value} (needs {limit})"


PLAYS: dict[Strategy, type[Play]] = {
    Strategy.BIG_BANG: BigBang,
    Strategy.ROLLING: Rolling,
    Strategy.CANARY: CanaryPlay,
}
