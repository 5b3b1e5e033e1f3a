"""The kopf side: which handlers run for Canaries, and the kopf settings they need.

For each Canary resource (coalmine.dev/v1beta1, and flagger.app/v1beta1 with
`--flagger-compat`):

- a deletion handler (`@kopf.on.delete`) hands the service back before the Canary
  goes (`CanaryDaemons.release`): with `revertOnDeletion` to the target
  (`kube.adapters.revert`), without it by keeping what serves (`kube.adapters.disown`);
  errors ask kopf to retry it;
- a watch handler (`@kopf.on.event`) tells the daemons about every Canary, so that its
  loop starts here when this replica may act on it (`CanaryDaemons.noticed`), and about
  deletions and edits. The loops are coalmine's own tasks, not kopf daemons: with shards,
  a replica runs only its shards' loops, which a kopf daemon's filter, re-evaluated only
  on the Canary's own events, could not follow at a takeover.

kopf watches only the Canaries, and with shards skips the status writes of the other
replicas' (`kube.runtime.kopf_events`). The Services, VirtualServices and HTTPRoutes a Canary took
over are repaired from the read cache's watch (`kube.runtime.repair`), which follows those
kinds anyway: kopf would remember every object of them, per replica.

Finalizers. kopf puts its finalizer (here `coalmine.dev/finalizer`) on an object when a
matching handler "requires" one (a deletion handler unless `optional=True`). The
deletion handler is not filtered, so every Canary carries the finalizer:
unlike Flagger, which has one only with `revertOnDeletion` and lets the garbage
collector take the primary, the Services and the VirtualService of any other Canary
(and with them the traffic). The loop is woken when the deletion begins, and ends when
it reads the deletionTimestamp (or a 404); the deletion handler holds the loop's lock, so
no tick runs while it hands the service back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from coalmine.api.common import COALMINE_GROUP
from coalmine.kube.adapters.resources import Kind
from coalmine.kube.runtime.daemons import CanaryDaemons, CanaryRef, RetryLaterNotLeader

__all__ = ["FINALIZER", "build_registry", "kopf_settings"]

FINALIZER = f"{COALMINE_GROUP}/finalizer"

KOPF_WORKER_IDLE = 0.5
"""Seconds kopf's worker for one Canary waits for its next event before it exits."""


def kopf_settings() -> Any:
    """kopf's settings: coalmine's finalizer name, bookkeeping in annotations, no events.

    kopf keeps what it handled in annotations (`coalmine.dev/...`), never in the
    status, which is the engine's; it posts no Events of its own (coalmine writes
    Flagger's). Requests have timeouts; a watch is re-opened every ten minutes.

    kopf runs a worker task per Canary with events, which keeps the last event's body
    while it waits `queueing.idle_timeout` for another (5 s by default). Every status
    write is an event, so with thousands of Canaries thousands of workers idle at once,
    and at start-up, when the listing brings every Canary within seconds, every Canary
    has one: at 5,000 Canaries that was most of a replica's memory (BENCHMARKS.md). A
    worker that exits sooner costs only a task made again at the next event.
    """
    import kopf

    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=COALMINE_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=COALMINE_GROUP, key="last-handled-configuration"
    )
    settings.posting.enabled = False
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 30
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 630
    settings.queueing.idle_timeout = KOPF_WORKER_IDLE
    return settings


def build_registry(
    daemons: CanaryDaemons, kinds: Sequence[Kind], login: Callable[[], Awaitable[Any]]
) -> Any:
    """A kopf registry with coalmine's handlers for each Canary resource in `kinds`."""
    import kopf

    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    async def log_in(**_: Any) -> Any:
        return await login()

    for kind in kinds:
        _register(registry, daemons, kind)
    return registry


def _register(registry: Any, daemons: CanaryDaemons, kind: Kind) -> None:
    import kopf

    async def release_canary(body: Any, **_: Any) -> None:
        try:
            await daemons.release(CanaryRef.of(kind, dict(body)), dict(body))
        except RetryLaterNotLeader as error:
            raise kopf.TemporaryError(str(error), delay=5) from None

    async def notice(type: str | None, body: Any, **_: Any) -> None:
        # async although it never awaits: kopf runs a plain function in its thread pool,
        # one hand-off per Canary event (every status write makes one), and `noticed`
        # sets an asyncio.Event and starts tasks, which only the event loop's thread may do
        daemons.noticed(CanaryRef.of(kind, dict(body)), type, dict(body))

    resource = (kind.group, kind.version, kind.plural)
    kopf.on.delete(*resource, id=f"release-{kind.group}", registry=registry, backoff=5)(
        release_canary
    )
    kopf.on.event(*resource, id=f"notice-{kind.group}", registry=registry)(notice)
