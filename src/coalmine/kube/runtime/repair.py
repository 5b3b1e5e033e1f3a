"""Repairs on the read cache's watch: a taken-over Service, VirtualService or HTTPRoute that
changes behind the controller's back is repaired at once, not at the next tick.

Re-applying the user's manifest resets the apex Service's selector (or the routes): left
until the next tick, the Service would point at the scaled-down target for up to one
analysis interval. The objects a Canary took over carry the `coalmine.dev/original-spec`
annotation; every MODIFIED event of one of them, as the read cache's watch delivers it,
asks the daemons to repair (`CanaryDaemons.routing_changed`).

Why the cache's watch and not kopf's: kopf keeps a memory of every object of a kind it
watches and runs its whole handling (throttler, loggers, patch) for each event, though only
the few annotated objects matter; the cache watches these kinds anyway. At 5,000 canaries
that was 20,000 Services and VirtualServices remembered twice per replica (BENCHMARKS.md).

The repairs of one object run one after another, in the order of its events (as kopf ran
them); a repair that fails is logged, and the next tick repairs the same fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from coalmine.errors import CoalmineError
from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.ownership import ORIGINAL_SPEC
from coalmine.kube.adapters.resources import HTTP_ROUTES, SERVICES, VIRTUAL_SERVICES, Kind

__all__ = ["REPAIRED_KINDS", "RoutingRepairs"]

log = logging.getLogger(__name__)

REPAIRED_KINDS = (SERVICES, VIRTUAL_SERVICES, HTTP_ROUTES)

Repair = Callable[[str, str, Kind, Obj], Awaitable[None]]
"""`CanaryDaemons.routing_changed`: (namespace, name, kind, the object as changed)."""

_ObjectKey = tuple[str, str, str]


class RoutingRepairs:
    """The read cache's `on_modified` listener: a repair task per change of a taken-over object."""

    def __init__(self, repair: Repair) -> None:
        self.repair = repair
        self._latest: dict[_ObjectKey, asyncio.Task[None]] = {}
        """By (plural, namespace, name): the last repair asked for, which waits for the one
        before it."""
        self._running: set[asyncio.Task[None]] = set()

    def modified(self, kind: Kind, obj: Obj) -> None:
        """A MODIFIED watch event (called on the event loop, by the cache)."""
        meta = obj.get("metadata") or {}
        if kind not in REPAIRED_KINDS or ORIGINAL_SPEC not in (meta.get("annotations") or {}):
            return
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        key = (kind.plural, namespace, name)
        before = self._latest.get(key)
        task = asyncio.create_task(
            self._after(before, namespace, name, kind, obj), name=f"repair {kind.plural} {name}"
        )
        self._latest[key] = task
        self._running.add(task)
        task.add_done_callback(lambda done: self._done(key, done))

    async def _after(
        self, before: asyncio.Task[None] | None, namespace: str, name: str, kind: Kind, obj: Obj
    ) -> None:
        if before is not None:
            await asyncio.wait([before])
        try:
            await self.repair(namespace, name, kind, obj)
        except CoalmineError as error:  # the next tick repairs the same fields
            log.warning("cannot repair %s %s.%s: %s", kind.plural, name, namespace, error)

    def _done(self, key: _ObjectKey, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._latest.get(key) is task:
            del self._latest[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("a repair of %s ended with an error", key, exc_info=task.exception())

    def pending(self) -> int:
        """Repairs not yet finished."""
        return len(self._running)

    async def stop(self) -> None:
        """Cancel the repairs in progress (the operator exits)."""
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._running.clear()  # (their done callbacks may not have run yet)
        self._latest.clear()
