"""One canary's loop, shared by the operator and local mode: read, advance once, sleep, again.

Each runtime runs one `CanaryLoop` per canary in an asyncio task (the operator's, see
`kube.runtime.daemons`; `coalmine up`'s, see `local.canaries`) and supplies
what differs between them through a `CanarySource`. Each iteration:

1. clears the wake-up first, so that a wake-up arriving during the tick (a manual
   action, the Canary deleted) asks for another tick at once instead of being lost;
2. reads the canary fresh through the source, so spec edits, a changed interval and
   the status written by the last tick are all seen: `None` (gone) ends the loop;
   `Skip(seconds)` (another replica's shard, an invalid spec, the API unreachable)
   sleeps as after a tick of that interval and reads again;
3. advances it once (`engine.tick.advance`) holding the canary's lock, which a
   deletion takes too (`between_ticks`): a deletion never runs in the middle of a
   tick, and a tick that waited for the lock while a deletion began does nothing. A
   failed tick is logged and the loop goes on at its next tick: one broken canary
   never stops the others, nor itself for good;
4. sleeps until its next tick, at the runtime's pace (`engine.slots`: the operator's
   on the canary's slots, local mode's an interval after each tick), woken early by
   `wake()`; it ends at `stop()` or when its task is cancelled.

The sleep uses `asyncio.timeout`, never `asyncio.wait_for`: in Python 3.11 `wait_for`
returns normally when the wake-up and a cancellation land in the same loop iteration,
so the cancellation is lost and the loop ticks on after it was asked to stop (a
Canary edited while the operator exits ticked forever; `coalmine up`'s exit hung).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from coalmine.api.canary import Canary
from coalmine.engine.ports import Ports
from coalmine.engine.slots import Pace, on_its_slots
from coalmine.engine.tick import advance
from coalmine.errors import CoalmineError

__all__ = ["CanaryLoop", "CanarySource", "Ending", "Skip", "Step"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skip:
    """The canary is not to be advanced now: read it again as after a tick of `seconds`."""

    seconds: float


class CanarySource(Protocol):
    """How a runtime reads its canary for the loop."""

    async def read(self) -> Canary | Skip | None:
        """The canary as stored now (spec and status); `Skip` when this runtime must
        not advance it now; None once it is gone (the loop ends)."""
        ...


@dataclass(frozen=True)
class Step:
    """What one iteration did."""

    seconds: float | None
    """The interval the loop paces its sleep by; None when the canary is gone."""
    advanced: bool = False
    """Whether the engine advanced the canary (not skipped, not gone, not deleted)."""


class Ending(enum.Enum):
    GONE = "gone"
    """The canary was deleted (or is being deleted)."""
    STOPPED = "stopped"
    """`stop()` was called."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CanaryLoop:
    """One canary's loop; `key` places its slots (the uid, or `namespace/name`), `pace`
    says how long it sleeps after a tick."""

    def __init__(
        self,
        key: str,
        source: CanarySource,
        ports: Ports,
        *,
        clock: Callable[[], datetime] = _utc_now,
        pace: Pace = on_its_slots,
    ) -> None:
        self.key = key
        self.pace = pace
        self.source = source
        self.ports = ports
        self.clock = clock
        self.wakeup = asyncio.Event()
        self.lock = asyncio.Lock()
        self.last: Canary | None = None
        """The canary as the last iteration that advanced it read it."""
        self.deleting = False
        """A deletion has begun: no tick may act any more."""
        self.stopping = False

    def wake(self) -> None:
        """Tick now instead of after the sleep (after a tick in progress, another)."""
        self.wakeup.set()

    def stop(self) -> None:
        """End the loop: at once when asleep, after the tick in progress otherwise."""
        self.stopping = True
        self.wakeup.set()

    def begin_deletion(self) -> None:
        """The canary is being deleted: no tick acts from now on, and one that waits for
        the lock does nothing once it has it."""
        self.deleting = True

    @contextlib.asynccontextmanager
    async def between_ticks(self) -> AsyncIterator[bool]:
        """Hold the canary's lock, so that no tick runs meanwhile; yields whether the
        canary may still be acted on (no deletion has begun)."""
        async with self.lock:
            yield not self.deleting

    async def run(
        self, first_wait: float = 0.0, iterate: Callable[[], Awaitable[Step]] | None = None
    ) -> Ending:
        """Sleep `first_wait`, then iterate until the canary is gone or the loop stopped.

        `iterate` is `once` unless the runtime wraps it (the operator times each tick)."""
        step = iterate or self.once
        wait = first_wait
        while not await self._slept(wait):
            started = self.clock().timestamp()
            done = await step()
            if done.seconds is None:
                return Ending.GONE
            wait = self.pace(self.key, done.seconds, started, self.clock().timestamp())
        return Ending.STOPPED

    async def once(self) -> Step:
        """One iteration: read the canary, advance it once unless skipped or gone."""
        self.wakeup.clear()  # before reading: a wake-up during the tick asks for another
        found = await self.source.read()
        if found is None:
            return Step(None)
        if isinstance(found, Skip):
            return Step(found.seconds)
        self.last = found
        async with self.between_ticks() as live:
            if not live:
                return Step(None)
            await self._advance(found)
        return Step(found.spec.analysis.interval_seconds, advanced=True)

    async def _advance(self, canary: Canary) -> None:
        extra = {"canary": canary.name, "namespace": canary.namespace}
        try:
            await advance(canary, self.ports, self.clock())
        except CoalmineError as error:  # writing the status failed: the next tick redoes it
            log.warning("tick failed: %s", error, extra=extra)
        except Exception:  # a bug must not stop this canary for good, nor the others
            log.exception("tick failed unexpectedly", extra=extra)

    async def _slept(self, seconds: float) -> bool:
        """Sleep `seconds` or until woken; True when the loop must end. A wait of zero
        or less still yields to the event loop once, so a stop requested meanwhile is seen."""
        if not self.stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(seconds, 0.0)):
                    await self.wakeup.wait()
        return self.stopping
