"""One long-running loop per Canary: read it fresh, advance the engine once, sleep its interval.

kopf starts `CanaryDaemons.run` for every Canary (see `kube.runtime.handlers`) and signals it
to stop when the Canary is being deleted or the operator exits. Each iteration:

1. reads the Canary from the API (so spec edits, a changed interval and the status
   written by the last tick are all seen), and ends the loop when it is gone;
2. skips the tick unless this replica is the leader (see `kube.runtime.leader`), or holds the
   Canary's shard (`kube.runtime.shards`); a Canary of another replica's shard sleeps to its
   next slot, and is woken at once when this replica takes its shard over
   (`leadership_gained`). Asking again every `--min-interval` instead cost three
   replicas of a thousand Canaries 0.63 core in all against 0.40 (BENCHMARKS.md);
3. validates it: an invalid spec gets one Warning event naming every problem and is
   not advanced; it is read again after an edit (a new generation) or a minute;
4. advances it once through the engine (`coalmine.engine.advance`), holding the
   Canary's lock, which the deletion handler takes too, so a deletion never runs
   in the middle of a tick (and a tick that waited for the lock while the Canary was
   being deleted does nothing); its own duration, the metric queries left out, goes
   into `coalmine_tick_own_seconds` (`kube.runtime.tick_timing`);
5. sleeps until its next slot, `analysis.interval` on from the last one at an offset
   that is a hash of its uid (`kube.runtime.spread`), waking early when the Canary is deleted.

Between ticks, a Service or VirtualService that a Canary took over and someone changed
(a re-applied manifest resets its selector or routes) is repaired at once, on the watch
event (`routing_changed`), instead of at the next tick: the routes are reconciled, the
weights kept, and nothing else of the analysis moves.

A failure in one tick (the API unreachable, a bug) is logged and the loop goes on at
the next interval: one broken Canary never stops the others, nor itself for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from coalmine.api.canary import Canary, Phase
from coalmine.engine.decision import Event, EventType
from coalmine.engine.ports import Ports
from coalmine.engine.tick import advance
from coalmine.errors import CoalmineError, ManifestError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.disown import Disowner, disown
from coalmine.kube.adapters.events import Involved, KubeEvents
from coalmine.kube.adapters.resources import Kind
from coalmine.kube.adapters.revert import Reverter
from coalmine.kube.runtime.settings import AnalysisSettings
from coalmine.kube.runtime.spread import first_wait, interval_of, next_slot
from coalmine.kube.runtime.tick_timing import Stopwatch, TickTimer
from coalmine.kube.runtime.validation import parse_canary
from coalmine.logs import canary_logger
from coalmine.routing.virtual_service import apex_name

__all__ = [
    "AlwaysLeading",
    "CanaryDaemons",
    "CanaryRef",
    "Leadership",
    "RetryLaterNotLeader",
    "Stopped",
]

log = logging.getLogger(__name__)


class Leadership(Protocol):
    @property
    def leading(self) -> bool:
        """May this replica act now (on any Canary)?"""
        ...

    def leads(self, uid: str) -> bool:
        """May this replica act now on the Canary `uid` (its shard, see `kube.runtime.shards`)?"""
        ...


class AlwaysLeading:
    """Leader election off: this replica always acts."""

    leading = True

    def leads(self, uid: str) -> bool:
        return True


class Stopped(Protocol):
    """kopf's `stopped` flag of a daemon."""

    def __bool__(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True)
class CanaryRef:
    """One Canary object (a Canary re-created with the same name is another one)."""

    kind: Kind
    namespace: str
    name: str
    uid: str

    @classmethod
    def of(cls, kind: Kind, body: Obj) -> CanaryRef:
        meta = body.get("metadata") or {}
        return cls(kind, str(meta.get("namespace")), str(meta.get("name")), str(meta.get("uid")))


@dataclass
class _Memory:
    """What the loop of one Canary keeps between iterations."""

    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    invalid_generation: int | None = None
    """The generation found invalid; a newer one wakes the loop."""
    last: Canary | None = None
    deleting: bool = False
    """The deletion handler has begun: no tick may act any more."""
    not_ours: bool = False
    """The last tick found the Canary in a shard this replica does not hold."""


class RetryLaterNotLeader(CoalmineError):
    """This replica is not the leader; the leader reverts the Canary."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CanaryDaemons:
    def __init__(
        self,
        client: KubeClient,
        ports: Ports,
        *,
        events: KubeEvents,
        reverter: Reverter,
        disowner: Disowner,
        settings: AnalysisSettings,
        leadership: Leadership,
        forget: Callable[[Canary], None] = lambda canary: None,
        clock: Callable[[], datetime] = _utc_now,
        timer: TickTimer | None = None,
    ) -> None:
        self.client = client
        self.ports = ports
        self.events = events
        self.reverter = reverter
        self.disowner = disowner
        self.settings = settings
        self.leadership = leadership
        self.forget = forget
        """Called once a Canary is gone (the telemetry drops its series)."""
        self.clock = clock
        self.timer = timer
        """Each tick's own duration, metric queries left out (`kube.runtime.tick_timing`)."""
        self._memory: dict[str, _Memory] = {}
        self._released: set[str] = set()
        """Canaries whose release succeeded. kopf runs a deletion handler again when a
        change (the Terminated status) interrupts its wait for the daemon to exit before
        it removes the finalizer; the second run would find nothing left to keep."""
        self.ticks = 0
        """Ticks carried out by this replica, all Canaries together."""

    async def run(self, ref: CanaryRef, stopped: Stopped, body: Obj | None = None) -> None:
        """The daemon: tick, sleep, until the Canary is gone or the operator stops.

        `body` is the Canary as kopf found it: one ticked before waits for its slot."""
        memory = self._memory.setdefault(ref.uid, _Memory())
        watcher = asyncio.ensure_future(_wake_when_stopped(stopped, memory.wakeup))
        try:
            wait = first_wait(ref.uid, body or {}, self.clock().timestamp())
            while not await _slept(memory.wakeup, wait, stopped):
                started = self.clock().timestamp()
                seconds = await self.tick(ref)
                if seconds is None:
                    if memory.last is not None:
                        self.forget(memory.last)
                    return
                memory.wakeup.clear()
                wait = next_slot(ref.uid, seconds, started) - self.clock().timestamp()
        finally:
            watcher.cancel()
            self._memory.pop(ref.uid, None)

    async def tick(self, ref: CanaryRef) -> float | None:
        """One iteration; the seconds until the next one, None when the Canary is gone."""
        if self.timer is None:
            return await self._tick(ref, None)
        with self.timer.measuring() as watch:
            return await self._tick(ref, watch)

    async def _tick(self, ref: CanaryRef, watch: Stopwatch | None) -> float | None:
        memory = self._memory.setdefault(ref.uid, _Memory())
        retry = self.settings.min_interval.total_seconds()
        try:
            body = await self.client.get(ref.kind, ref.name, ref.namespace)
        except CoalmineError as error:
            log.warning("cannot read canary %s.%s: %s", ref.name, ref.namespace, error)
            return retry
        if body is None or _uid(body) != ref.uid or body["metadata"].get("deletionTimestamp"):
            return None
        memory.not_ours = not self.leadership.leads(ref.uid)
        if memory.not_ours:
            return interval_of(body) or retry
        canary = await self._validated(body, memory)
        if canary is None:
            return self.settings.invalid_recheck.total_seconds()
        memory.last = canary
        async with memory.lock:
            if memory.deleting:
                return None
            await self._advance(canary)
        if watch is not None:
            watch.counted = True
        return canary.spec.analysis.interval_seconds

    def noticed(self, ref: CanaryRef, event_type: str | None, body: Obj) -> None:
        """A watch event about a Canary: wake its loop when it went, or when an invalid
        spec was edited."""
        memory = self._memory.get(ref.uid)
        if memory is None:
            return
        generation = int(body.get("metadata", {}).get("generation") or 0)
        edited = memory.invalid_generation is not None and generation > memory.invalid_generation
        if event_type == "DELETED" or edited:
            memory.wakeup.set()

    def leadership_gained(self) -> None:
        """This replica took a shard over: wake the Canaries now its, which were asleep
        until their next slot, so that they tick at once."""
        for uid, memory in self._memory.items():
            if memory.not_ours and self.leadership.leads(uid):
                memory.not_ours = False
                memory.wakeup.set()

    async def routing_changed(self, namespace: str, name: str, kind: Kind, body: Obj) -> None:
        """The Service, VirtualService or HTTPRoute `name` changed (`body`, as kopf's watch
        saw it): repair the routing of the Canary whose apex it is (one this replica
        ticks), keeping its weights.

        The change goes into the read cache first: the cache follows its own watch,
        which may deliver the same event later, and a repair that read the old copy
        would find nothing to repair until the next tick, a whole interval later."""
        if self.client.reads is not None:
            self.client.reads.observe(kind, body)
        for memory in list(self._memory.values()):
            canary = memory.last
            if canary is None or canary.namespace != namespace or apex_name(canary) != name:
                continue
            if not self.leadership.leads(canary.metadata.uid or ""):
                return
            async with memory.lock:
                if memory.deleting:
                    return
                try:
                    await self.ports.router.reconcile(canary)
                except CoalmineError as error:  # the next tick tries again
                    logger = canary_logger(log, canary.name, canary.namespace)
                    logger.warning("cannot repair the routing of %s: %s", name, error)
            return

    async def release(self, ref: CanaryRef, body: Obj) -> None:
        """The deletion handler's work, for every Canary: with revertOnDeletion the
        target takes the traffic back (`kube.adapters.revert`), without it what serves stays
        (`kube.adapters.disown`). An invalid Canary keeps what serves too: its names cannot be
        trusted, but its owner references can."""
        if not self.leadership.leads(ref.uid):
            raise RetryLaterNotLeader()
        if ref.uid in self._released:
            return  # kopf re-ran a deletion handler that succeeded (below)
        memory = self._memory.setdefault(ref.uid, _Memory())
        memory.deleting = True
        try:
            canary = parse_canary(
                body,
                min_interval=self.settings.min_interval,
                allow_cross_namespace_refs=self.settings.allow_cross_namespace_refs,
            )
        except ManifestError as error:
            log.warning(
                "canary %s.%s is invalid; keeping what it owns: %s", ref.name, ref.namespace, error
            )
            async with memory.lock:
                await disown(self.client, ref.namespace, ref.name, ref.uid)
            return
        if await self._released_before(ref):
            self._memory.pop(ref.uid, None)
            return
        since = _deletion_time(body) or self.clock()
        async with memory.lock:
            if canary.spec.revert_on_deletion:
                await self.reverter.revert(canary, since)
            else:
                await self.disowner.keep_serving(canary)
        self._released.add(ref.uid)
        self._memory.pop(ref.uid, None)

    async def _released_before(self, ref: CanaryRef) -> bool:
        """Whether an earlier run of the deletion handler finished (status Terminated).

        kopf runs the handler again when its patch that removes the finalizer finds the
        Canary changed since kopf read it (the run's own status writes change it), with
        the body it read then. Acting again would route to the primary anew, which
        re-owns the VirtualService, and write the status again, which makes kopf's next
        patch fail the same way; so the stored Canary is read fresh."""
        fresh = await self.client.get(ref.kind, ref.name, ref.namespace, fresh=True)
        if fresh is None:
            return True
        phase = ((fresh.get("status") or {}).get("phase")) or ""
        return bool(phase == Phase.TERMINATED.value)

    async def _validated(self, body: Obj, memory: _Memory) -> Canary | None:
        try:
            canary = parse_canary(
                body,
                min_interval=self.settings.min_interval,
                allow_cross_namespace_refs=self.settings.allow_cross_namespace_refs,
            )
        except ManifestError as error:
            memory.invalid_generation = int(body["metadata"].get("generation") or 0)
            problems = "; ".join(
                f"{p.path}: {p.message}" if p.path else p.message for p in error.problems
            )
            message = f"Invalid canary spec, not advancing it: {problems}"
            await self.events.about(Involved.of_object(body), Event(message, EventType.WARNING))
            return None
        memory.invalid_generation = None
        return canary

    async def _advance(self, canary: Canary) -> None:
        logger = canary_logger(log, canary.name, canary.namespace)
        try:
            await advance(canary, self.ports, self.clock())
        except CoalmineError as error:  # writing the status failed: the next tick redoes it
            logger.warning("tick failed: %s", error)
        except Exception:  # a bug must not stop this canary for good, nor the others
            logger.exception("tick failed unexpectedly")
        self.ticks += 1


async def _slept(wakeup: asyncio.Event, seconds: float, stopped: Stopped) -> bool:
    """Sleep `seconds` or until woken; True when the daemon must stop."""
    if seconds > 0 and not stopped:
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for returns normally when the
        # wake-up and kopf's cancellation land in the same loop iteration, and the loop
        # then ticks on after the operator asked it to stop (see canaries.py).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await wakeup.wait()
    return bool(stopped)


async def _wake_when_stopped(stopped: Stopped, wakeup: asyncio.Event) -> None:
    await stopped.wait()
    wakeup.set()


def _uid(body: Obj) -> str:
    return str(body.get("metadata", {}).get("uid"))


def _deletion_time(body: Obj) -> datetime | None:
    moment = body.get("metadata", {}).get("deletionTimestamp")
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None
