"""The operator's side of the per-Canary loop: its task, shards, validation, deletion, repairs.

Each Canary's loop is an asyncio task of this replica's (`CanaryDaemons.start`), started
from kopf's watch events on the Canaries (`noticed`, see `kube.runtime.handlers`) for
every Canary this replica may act on, and stopped when the operator exits or steps down
(`stop_all`). With shards, a replica runs the loops of the shards it holds only: a loop
ends when its Canary's shard is lost, and the loops of a shard taken over start at once
(`leadership_gained`, from the Canaries seen by the watch). kopf's daemons did this job
before, one per Canary on every replica: each replica then held a daemon (a task, about
twenty coroutines, kopf's stop flags and a copy of the body) for every Canary of every
shard, two thirds of them asleep with three replicas (BENCHMARKS.md). The loop itself (read
fresh, advance once under the Canary's lock, sleep to the next slot, wake-ups) is the
engine's, shared with local mode (`engine.loop`); this module is what is Kubernetes-only
around it, the `CanarySource` it reads through:

1. the Canary is read from the API (the watch cache): gone, replaced (another uid) or
   being deleted ends the loop; an unreadable API is waited out `--min-interval`;
2. the tick is skipped unless this replica is the leader (see `kube.runtime.leader`), or holds
   the Canary's shard (`kube.runtime.shards`). A Canary of a shard held elsewhere (or
   given up here) ends its loop here, and it starts again if this replica takes the shard
   (back). A lapse (the renew deadline passed, a renewal still in flight) only skips
   ticks to the next slot: the renewal that lands late gives no takeover to restart
   from, and ending the loops then left Canaries without one (7 of 5,000 for 7 minutes,
   BENCHMARKS.md);
3. an invalid spec gets one Warning event naming every problem and is not advanced; it
   is read again after an edit (a new generation) or a minute;
4. the deletion handler (`release`) takes the loop's lock, so a deletion never runs in
   the middle of a tick (and a tick that waited for the lock while the Canary was
   being deleted does nothing); each tick's own duration, the metric queries left out,
   goes into `coalmine_tick_own_seconds` (`kube.runtime.tick_timing`);
5. a Canary ticked before (the watch event's body has a status) waits for its slot
   (`kube.runtime.spread`) before its first tick; one taken over ticks at once.

Between ticks, a Service or VirtualService that a Canary took over and someone changed
(a re-applied manifest resets its selector or routes) is repaired at once, on the watch
event (`routing_changed`), instead of at the next tick: the routes are reconciled, the
weights kept, and nothing else of the analysis moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from coalmine.api.canary import Canary, Phase
from coalmine.engine.decision import Event, EventType
from coalmine.engine.loop import CanaryLoop, Ending, Skip, Step
from coalmine.engine.ports import Ports
from coalmine.errors import CoalmineError, ManifestError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.disown import Disowner, disown
from coalmine.kube.adapters.events import Involved, KubeEvents
from coalmine.kube.adapters.resources import Kind
from coalmine.kube.adapters.revert import Reverter
from coalmine.kube.runtime.settings import AnalysisSettings
from coalmine.kube.runtime.spread import first_wait, interval_of
from coalmine.kube.runtime.tick_timing import TickTimer
from coalmine.kube.runtime.validation import LastParse, parse_canary
from coalmine.logs import canary_logger
from coalmine.routing.virtual_service import apex_name

__all__ = [
    "AlwaysLeading",
    "CanaryDaemons",
    "CanaryRef",
    "Leadership",
    "RetryLaterNotLeader",
    "WatchedCanary",
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

    def elsewhere(self, uid: str) -> bool:
        """Is the Canary `uid` another replica's to tick (its shard held there, or given
        up here)? Its loop here ends. A lapse (a renewal late) is not elsewhere: the loop
        only skips its ticks until the Lease is renewed or lost."""
        ...


class AlwaysLeading:
    """Leader election off: this replica always acts."""

    leading = True

    def leads(self, uid: str) -> bool:
        return True

    def elsewhere(self, uid: str) -> bool:
        return False


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


class WatchedCanary:
    """One Canary's loop and what the operator keeps about it between iterations; the
    loop's `CanarySource`."""

    def __init__(self, daemons: CanaryDaemons, ref: CanaryRef) -> None:
        self.daemons = daemons
        self.ref = ref
        self.loop = CanaryLoop(ref.uid, self, daemons.ports, clock=daemons.clock)
        self.invalid_generation: int | None = None
        """The generation found invalid; a newer one wakes the loop."""
        self.not_ours = False
        """The last read found the Canary in a shard this replica does not hold."""
        settings = daemons.settings
        self.parsed = LastParse(
            min_interval=settings.min_interval,
            allow_cross_namespace_refs=settings.allow_cross_namespace_refs,
        )

    async def read(self) -> Canary | Skip | None:
        ref, daemons = self.ref, self.daemons
        retry = daemons.settings.min_interval.total_seconds()
        try:
            body = await daemons.client.get(ref.kind, ref.name, ref.namespace)
            if body is None or _uid(body) != ref.uid:
                # The read cache follows its own watch, at times behind kopf's: a Canary
                # just created can start its daemon before the cache holds it, and taking
                # it for gone would end its loop for good. Only the API says it is gone.
                body = await daemons.client.get(ref.kind, ref.name, ref.namespace, fresh=True)
        except CoalmineError as error:
            log.warning("cannot read canary %s.%s: %s", ref.name, ref.namespace, error)
            return Skip(retry)
        if body is None or _uid(body) != ref.uid or body["metadata"].get("deletionTimestamp"):
            return None
        self.not_ours = not daemons.leadership.leads(ref.uid)
        if self.not_ours:
            if daemons.leadership.elsewhere(ref.uid):
                return None  # another replica's shard: its loop runs there
            return Skip(interval_of(body) or retry)  # a lapse: renewed, or lost, soon
        canary = await self._validated(body)
        if canary is None:
            return Skip(daemons.settings.invalid_recheck.total_seconds())
        return canary

    async def _validated(self, body: Obj) -> Canary | None:
        try:
            canary = self.parsed.parse(body)
        except ManifestError as error:
            self.invalid_generation = int(body["metadata"].get("generation") or 0)
            problems = "; ".join(
                f"{p.path}: {p.message}" if p.path else p.message for p in error.problems
            )
            message = f"Invalid canary spec, not advancing it: {problems}"
            event = Event(message, EventType.WARNING)
            await self.daemons.events.about(Involved.of_object(body), event)
            return None
        self.invalid_generation = None
        return canary


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
        stop_grace: float = 5.0,
        reads_ready: Callable[[], Awaitable[object]] | None = None,
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
        self.stop_grace = stop_grace
        self.reads_ready = reads_ready
        """Awaited by a loop before its first tick: the read cache has listed (bounded by
        the controller). Ticks before it read every object from the API: at 5,000
        canaries the first ticks of a replica's 1,667 loops did, and starved the very
        lists that would have answered them (BENCHMARKS.md)."""
        """Seconds a loop has to finish its tick when the operator stops, before it is
        cancelled (every action of a tick is safe to repeat: the next tick redoes it)."""
        self._loops: dict[str, asyncio.Task[None]] = {}
        """By uid: the loops running here."""
        self._seen: dict[str, CanaryRef] = {}
        """By uid: every Canary the watch showed and that is not gone, for a takeover."""
        self.accepting = True
        """Loops may start; `stop_all` ends it until the operator runs again (a leader
        that stepped down and won the Lease back)."""
        self._watched: dict[str, WatchedCanary] = {}
        """By uid: the Canaries whose loop runs here, or that a tick or deletion touched."""
        self._released: set[str] = set()
        """Canaries whose release succeeded. kopf runs a deletion handler again when a
        change (the Terminated status) interrupts its wait for the daemon to exit before
        it removes the finalizer; the second run would find nothing left to keep."""
        self.ticks = 0
        """Ticks carried out by this replica, all Canaries together."""

    def start(self, ref: CanaryRef, body: Obj | None = None) -> None:
        """Start the Canary's loop unless it runs, the operator stops, or the Canary is
        another replica's. `body` is the Canary as the watch showed it: one ticked before
        waits for its slot; without it (a takeover) the first tick is at once."""
        if not self.accepting or ref.uid in self._loops or not self.leadership.leads(ref.uid):
            return
        wait = first_wait(ref.uid, body or {}, self.clock().timestamp())
        task = asyncio.create_task(self.run(ref, wait), name=f"canary {ref.namespace}/{ref.name}")
        self._loops[ref.uid] = task
        task.add_done_callback(lambda done: self._ended(ref.uid, done))

    def _ended(self, uid: str, task: asyncio.Task[None]) -> None:
        if self._loops.get(uid) is task:
            del self._loops[uid]
        if not task.cancelled() and task.exception() is not None:
            log.error("the loop of canary %s ended with an error", uid, exc_info=task.exception())

    def running(self) -> set[str]:
        """The uids of the Canaries whose loop runs here."""
        return set(self._loops)

    async def run(self, ref: CanaryRef, wait: float = 0.0) -> None:
        """The loop: sleep `wait`, then tick and sleep until the Canary is gone (or, with
        shards, another replica's) or the operator stops."""
        watched = self.watched(ref)
        try:
            if self.reads_ready is not None:
                await self.reads_ready()
            ending = await watched.loop.run(wait, iterate=lambda: self._step(watched))
            if ending is Ending.GONE and watched.loop.last is not None:
                self.forget(watched.loop.last)
        finally:
            if self._watched.get(ref.uid) is watched:
                del self._watched[ref.uid]

    async def stop_all(self) -> None:
        """Stop every loop and start none (the operator exits or steps down): a tick in
        progress has `stop_grace` seconds to finish, then it is cancelled. Setting
        `accepting` again lets the next watch events start them (kopf lists every Canary
        when it starts)."""
        self.accepting = False
        await self._end(set(self._loops), self.stop_grace)

    async def leadership_lost(self, grace: float) -> None:
        """Shards are being given up (`ShardLeadership.losing`): the loops of their
        Canaries (now `elsewhere`, the one rule by which a loop ends) end after the tick
        in progress, which has `grace` seconds before it is cancelled, so that the next
        holder starts alone."""
        await self._end({uid for uid in self._loops if self.leadership.elsewhere(uid)}, grace)

    async def _end(self, uids: set[str], grace: float) -> None:
        for uid in uids:
            if uid in self._watched:
                self._watched[uid].loop.stop()
        loops = [task for uid, task in self._loops.items() if uid in uids]
        if not loops:
            return
        _, late = await asyncio.wait(loops, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def watched(self, ref: CanaryRef) -> WatchedCanary:
        """The Canary's loop and state, made on first use (a tick, a deletion)."""
        watched = self._watched.get(ref.uid)
        if watched is None:
            watched = self._watched[ref.uid] = WatchedCanary(self, ref)
        return watched

    async def tick(self, ref: CanaryRef) -> float | None:
        """One iteration; the seconds until the next one, None when the Canary is gone."""
        return (await self._step(self.watched(ref))).seconds

    async def _step(self, watched: WatchedCanary) -> Step:
        """One iteration of the shared loop, timed (`kube.runtime.tick_timing`) and counted."""
        if self.timer is None:
            step = await watched.loop.once()
        else:
            with self.timer.measuring() as watch:
                step = await watched.loop.once()
                watch.counted = step.advanced
        if step.advanced:
            self.ticks += 1
        return step

    def noticed(self, ref: CanaryRef, event_type: str | None, body: Obj) -> None:
        """A watch event about a Canary (None: kopf's listing): start its loop if none
        runs; wake it when the Canary went or is being deleted, or an invalid spec was
        edited."""
        metadata = body.get("metadata") or {}
        going = event_type == "DELETED" or bool(metadata.get("deletionTimestamp"))
        if event_type == "DELETED":
            self._seen.pop(ref.uid, None)
        else:
            self._seen[ref.uid] = ref
        if not going:
            self.start(ref, body)
        watched = self._watched.get(ref.uid)
        if watched is None:
            return
        generation = int(metadata.get("generation") or 0)
        invalid = watched.invalid_generation
        edited = invalid is not None and generation > invalid
        if going or edited:
            watched.loop.wake()

    def known(self, uid: str) -> bool:
        """Has the watch shown the Canary `uid` (and not its deletion)?"""
        return uid in self._seen

    def settled(self, uid: str, generation: int) -> bool:
        """Would `noticed` do nothing with an ordinary change (not a deletion) of the
        Canary `uid` now at `generation`? Its loop runs here, and waits for no edit of an
        invalid spec (`kube.runtime.kopf_events`)."""
        if uid not in self._loops:
            return False
        watched = self._watched.get(uid)
        invalid = watched.invalid_generation if watched is not None else None
        return invalid is None or generation <= invalid

    def leadership_gained(self) -> None:
        """This replica took a shard over: start the loops of its Canaries, which tick at
        once, and wake those asleep to their next slot because their shard was not held."""
        for uid, watched in self._watched.items():
            if watched.not_ours and self.leadership.leads(uid):
                watched.not_ours = False
                watched.loop.wake()
        for ref in list(self._seen.values()):
            self.start(ref)

    async def routing_changed(self, namespace: str, name: str, kind: Kind, body: Obj) -> None:
        """The Service, VirtualService or HTTPRoute `name` changed (`body`, as the read
        cache's watch delivered it, `kube.runtime.repair`): repair the routing of the
        Canary whose apex it is (one this replica ticks), keeping its weights.

        The change goes into the read cache first (a no-op when the cache delivered it):
        a repair that read an older copy would find nothing to repair until the next
        tick, a whole interval later."""
        if self.client.reads is not None:
            self.client.reads.observe(kind, body)
        for watched in list(self._watched.values()):
            canary = watched.loop.last
            if canary is None or canary.namespace != namespace or apex_name(canary) != name:
                continue
            if not self.leadership.leads(canary.metadata.uid or ""):
                return
            async with watched.loop.between_ticks() as live:
                if not live:
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
        loop = self.watched(ref).loop
        loop.begin_deletion()
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
            async with loop.between_ticks():
                await disown(self.client, ref.namespace, ref.name, ref.uid)
            return
        if await self._released_before(ref):
            self._watched.pop(ref.uid, None)
            return
        since = _deletion_time(body) or self.clock()
        async with loop.between_ticks():
            if canary.spec.revert_on_deletion:
                await self.reverter.revert(canary, since)
            else:
                await self.disowner.keep_serving(canary)
        self._released.add(ref.uid)
        self._watched.pop(ref.uid, None)

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


def _uid(body: Obj) -> str:
    return str(body.get("metadata", {}).get("uid"))


def _deletion_time(body: Obj) -> datetime | None:
    moment = body.get("metadata", {}).get("deletionTimestamp")
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None
