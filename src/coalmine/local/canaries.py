"""Running canaries in the local runtime: one task per Canary, each running the engine's loop.

Each task runs the loop the operator runs too (`engine.loop`): it reads the Canary fresh
from the store at every tick (so spec edits and a restart of `coalmine up` are picked
up), advances it once through the engine, and sleeps for its `analysis.interval` after
the tick ends (`engine.slots.an_interval_after`, not the operator's slots: a tick's
checks read the last seconds of Envoy's traffic, which needs the whole interval). Every
canary ticks at once when `coalmine up` starts. The store adapters here are the local
side of the engine's CanaryStore, Notifier and Recorder ports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from coalmine.api.canary import Canary, CanaryStatus
from coalmine.engine.decision import Alert, Decision, Event
from coalmine.engine.loop import CanaryLoop
from coalmine.engine.ports import Ports
from coalmine.engine.slots import an_interval_after
from coalmine.local.store import Store

__all__ = ["CanaryRunner", "StoreEvents", "StoreRecorder", "StoreStatus"]

log = logging.getLogger(__name__)


class StoreStatus:
    """CanaryStore port: the status goes into the Canary's row."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        self.store.write_status("Canary", canary.namespace, canary.name, status.to_manifest())
        return canary.with_status(status)


class StoreEvents:
    """Notifier port: events into the store (what `coalmine events` shows); alerts logged."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def event(self, canary: Canary, event: Event) -> None:
        self.store.add_event(
            "Canary", canary.namespace, canary.name, event.type.value, event.reason, event.message
        )

    async def alert(self, canary: Canary, alert: Alert) -> None:
        log.info(
            "alert (%s): %s",
            alert.severity.value,
            alert.message,
            extra={"canary": canary.name, "namespace": canary.namespace},
        )


class StoreRecorder:
    """Recorder port: every tick's weights and every check's value, for reports and `describe`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None:
        status = decision.status
        revision = status.last_applied_spec or ""
        if decision.checks:
            self.store.add_checks(canary.namespace, canary.name, revision, decision.checks)
        self.store.add_tick(
            canary.namespace,
            canary.name,
            str(status.phase or ""),
            status.canary_weight,
            status.failed_checks,
            revision,
        )


Loader = Callable[[str, str], Canary | None]
"""Reads a canary (spec and status) fresh from the store; None once it is deleted."""


class StoredCanary:
    """CanarySource of the engine's loop: the canary as the store holds it now."""

    def __init__(self, load: Loader, namespace: str, name: str) -> None:
        self.load = load
        self.namespace = namespace
        self.name = name

    async def read(self) -> Canary | None:
        return self.load(self.namespace, self.name)


class CanaryRunner:
    """One asyncio task per canary; `sync` starts and stops them to match the store."""

    def __init__(
        self,
        ports: Ports,
        load: Loader,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ports = ports
        self.load = load
        self.clock = clock
        self.tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.loops: dict[tuple[str, str], CanaryLoop] = {}

    def sync(self, present: set[tuple[str, str]]) -> None:
        """Run exactly the canaries in `present` ((namespace, name) pairs)."""
        for key in present - self.tasks.keys():
            namespace, name = key
            source = StoredCanary(self.load, namespace, name)
            loop = CanaryLoop(
                f"{namespace}/{name}", source, self.ports, clock=self.clock, pace=an_interval_after
            )
            self.loops[key] = loop
            task = asyncio.create_task(self._run(loop), name=f"canary {name}.{namespace}")
            self.tasks[key] = task
        for key in self.tasks.keys() - present:
            self.tasks.pop(key).cancel()
            self.loops.pop(key, None)

    def wake(self, namespace: str, name: str) -> None:
        """Tick now instead of at the end of the interval (after a manual action)."""
        loop = self.loops.get((namespace, name))
        if loop is not None:
            loop.wake()

    async def forget(self, namespace: str, name: str) -> None:
        """Stop one canary's task and wait until it has stopped (before it is deleted)."""
        task = self.tasks.pop((namespace, name), None)
        self.loops.pop((namespace, name), None)
        if task is not None:
            task.cancel()
            _, pending = await asyncio.wait([task], timeout=15.0)
            if pending:
                log.error("canary task %s did not stop 15s after it was cancelled", task)

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Cancel every canary task and wait for them, at most `timeout_s` (a task that
        still runs then is logged and left behind, never waited for forever)."""
        tasks = list(self.tasks.values())
        self.tasks.clear()
        self.loops.clear()
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            log.error("canary task %s did not stop %gs after it was cancelled", task, timeout_s)

    async def _run(self, loop: CanaryLoop) -> None:
        await loop.run()
