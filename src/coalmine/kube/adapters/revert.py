"""Deleting a Canary with `revertOnDeletion`: the service runs on as if coalmine never came.

In the order Flagger's finalizer follows, so that no request finds nothing to serve it:
1. status Terminating, and all traffic to the primary (the last analysed release) when
   the primary runs, so that an analysis in progress stops sending users to the new release;
2. the target is scaled back up (to its replicas before coalmine scaled it down), and
   the revert waits for it to be ready, up to the progress deadline counted from the
   deletion, after which it goes on with a Warning (a deletion must end);
3. routing: the apex Service selects the target's pods, a VirtualService (or Service)
   that existed before coalmine gets its original spec back, the ones coalmine
   created are deleted;
4. the primary Deployment and its autoscaler are deleted;
5. status Terminated, and an event that says what was restored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coalmine.api.canary import Canary, Phase
from coalmine.engine.decision import Event, EventType
from coalmine.engine.observations import Routes
from coalmine.engine.ports import Notifier
from coalmine.engine.readiness import judge_readiness
from coalmine.engine.status import to_phase
from coalmine.errors import CoalmineError
from coalmine.kube.adapters.deployments import selector_labels
from coalmine.kube.adapters.store import KubeCanaryStore
from coalmine.kube.adapters.workload import KubeWorkload
from coalmine.routers.services import KubeRouter

__all__ = ["Reverter", "write_phase"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def write_phase(
    store: KubeCanaryStore, canary: Canary, phase: Phase, now: datetime
) -> Canary:
    """The Canary with its status in `phase` (written only when it changes)."""
    if canary.status.phase == phase:
        return canary
    return await store.write_status(canary, to_phase(canary.status, phase, now), supersede=True)


@dataclass(frozen=True)
class Reverter:
    workload: KubeWorkload
    router: KubeRouter
    store: KubeCanaryStore
    notifier: Notifier
    clock: Callable[[], datetime] = _utc_now
    poll_interval: float = 1.0
    """Seconds between checks of the target's readiness."""

    async def revert(self, canary: Canary, deleting_since: datetime) -> None:
        canary = await self._to(canary, Phase.TERMINATING)
        primary = await self.workload.observe_primary(canary)
        if primary is not None and primary.available > 0:
            await self.router.set_routes(canary, Routes.all_primary())
        target = await self.workload.target(canary)
        await self.workload.scale_canary(canary, up=True)
        await self._wait_for_target(canary, deleting_since)
        restored = await self.router.revert(
            canary, selector_labels(target, f"deployment {canary.target_key}")
        )
        await self.workload.delete_primary(canary)
        canary = await self._to(canary, Phase.TERMINATED)
        summary = ", ".join(f"{what} {how}" for what, how in restored.items())
        await self.notifier.event(
            canary,
            Event(f"Canary {canary.key} deleted, traffic back on {canary.target_key}: {summary}"),
        )

    async def _wait_for_target(self, canary: Canary, deleting_since: datetime) -> None:
        deadline = timedelta(seconds=canary.spec.progress_deadline_seconds)
        while True:
            state = await self.workload.observe_target(canary)
            if state is None:
                raise CoalmineError(f"deployment {canary.target_key} not found")
            now = self.clock()
            readiness = judge_readiness(
                canary.target_key, state, ready_threshold=100, deadline=deadline, now=now
            )
            if readiness.ready:
                return
            if now - deleting_since >= deadline:
                break
            await asyncio.sleep(self.poll_interval)
        message = (
            f"{canary.target_key} is not ready {deadline} after the deletion began "
            f"({readiness.message}); handing traffic back to it anyway"
        )
        await self.notifier.event(canary, Event(message, EventType.WARNING))

    async def _to(self, canary: Canary, phase: Phase) -> Canary:
        return await write_phase(self.store, canary, phase, self.clock())
