"""The Notifier port as Kubernetes Events (core v1) about the Canary, as Flagger writes them.

Every engine event becomes an Event with reason `Synced`, type Normal or Warning,
involvedObject the Canary and reporting component `coalmine`, so that
`kubectl describe canary podinfo` shows the rollout as it happens, and the line is
logged too. Repeats are aggregated the way kubectl expects: one Event per
(component, canary, type, reason, message), client-go's aggregation key (tools/record
`getEventKey`: source, involved object, type, reason, message; not the replica), its
`count` and `lastTimestamp` bumped on each repeat. The Event's name is derived from
that key (client-go's recorder names Events by a timestamp and finds repeats in its
memory only), so a restarted controller, a new leader or a replica under another pod
name finds it again and counts up instead of piling up copies. `reportingInstance`
stays the replica that wrote the Event first.

Writing an Event never fails a tick: an API error is logged and dropped.
Alerts are not Events; they go to the alert providers (coalmine.notify).

`KubeEvents` writes an Event before it returns (the CLI, which exits after). The operator
uses `BackgroundKubeEvents`, which writes them as client-go's recorder does: the event is
logged and queued with its timestamp, and tasks of their own write it, so a tick does
not wait for the API to record what it did (one of a progressing tick's three writes,
BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coalmine.api.canary import Canary
from coalmine.engine.decision import Alert, Event, EventType
from coalmine.errors import CoalmineError, Conflict, NotFound
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import EVENTS
from coalmine.logs import CanaryLogger, canary_logger

__all__ = [
    "COMPONENT",
    "MAX_MESSAGE",
    "BackgroundKubeEvents",
    "Involved",
    "KubeEvents",
    "event_name",
]

log = logging.getLogger(__name__)

COMPONENT = "coalmine"
MAX_MESSAGE = 1024
"""Characters of a message kept (the events.k8s.io limit; longer ones are cut)."""
REMEMBERED = 4096
"""Events whose count this replica keeps in memory; older ones are re-read when repeated."""


@dataclass(frozen=True)
class Involved:
    """The Canary an Event is about (also one whose spec did not validate)."""

    api_version: str
    name: str
    namespace: str
    uid: str

    @classmethod
    def of_canary(cls, canary: Canary) -> Involved:
        meta = canary.metadata
        return cls(canary.api_version, meta.name, meta.namespace, meta.uid or "")

    @classmethod
    def of_object(cls, obj: dict[str, Any]) -> Involved:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion")),
            str(meta.get("name")),
            str(meta.get("namespace")),
            str(meta.get("uid")),
        )


def event_name(involved: Involved, event: Event) -> str:
    """`<canary>.<16 hex digits>`, the same for every repeat of the same event, whichever
    replica or process writes it."""
    key = "\n".join(
        (
            COMPONENT,
            involved.api_version,
            involved.namespace,
            involved.name,
            involved.uid,
            event.type,
            event.reason,
            event.message,
        )
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{involved.name}.{digest}"


def _now() -> datetime:
    return datetime.now(UTC)


class KubeEvents:
    def __init__(
        self, client: KubeClient, *, instance: str, clock: Callable[[], datetime] = _now
    ) -> None:
        self.client = client
        self.instance = instance
        """This replica (reportingInstance), so that two replicas' Events stay apart."""
        self.clock = clock
        self._counts: OrderedDict[str, int] = OrderedDict()

    async def event(self, canary: Canary, event: Event) -> None:
        await self.about(Involved.of_canary(canary), event)

    async def about(self, involved: Involved, event: Event) -> None:
        """Log the event and record it as a Kubernetes Event; never raises for an API error."""
        level = logging.WARNING if event.type == EventType.WARNING else logging.INFO
        _logger(involved).log(level, "%s", event.message)
        await self._write(involved, event, _timestamp(self.clock()))

    async def alert(self, canary: Canary, alert: Alert) -> None:
        """Alerts reach people through the alert providers; nothing to record here."""

    async def written(self) -> None:
        """Return once every Event recorded so far is written (or failed): at once here."""

    async def close(self) -> None:
        """Nothing is left to write (each Event was written before `about` returned)."""

    async def _write(self, involved: Involved, event: Event, moment: str) -> None:
        try:
            await self._record(involved, event, moment)
        except CoalmineError as error:
            _logger(involved).warning("cannot record the event %r: %s", event.message, error)

    async def _record(self, involved: Involved, event: Event, moment: str) -> None:
        name, namespace = event_name(involved, event), involved.namespace
        count = self._counts.get(name)
        if count is not None:
            try:
                await self._bump(namespace, name, count + 1, moment)
                return
            except NotFound:  # expired (Events live an hour) or deleted: write it anew
                pass
        try:
            await self.client.create(EVENTS, namespace, self._body(involved, event, name, moment))
            self._remember(name, 1)
        except Conflict:  # written before this replica's memory began
            stored = await self.client.get(EVENTS, name, namespace)
            await self._bump(namespace, name, int((stored or {}).get("count") or 1) + 1, moment)

    async def _bump(self, namespace: str, name: str, count: int, moment: str) -> None:
        patch = {"count": count, "lastTimestamp": moment}
        await self.client.merge_patch(EVENTS, name, namespace, patch)
        self._remember(name, count)

    def _remember(self, name: str, count: int) -> None:
        self._counts[name] = count
        self._counts.move_to_end(name)
        while len(self._counts) > REMEMBERED:
            self._counts.popitem(last=False)

    def _body(self, involved: Involved, event: Event, name: str, moment: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": involved.namespace},
            "involvedObject": {
                "apiVersion": involved.api_version,
                "kind": "Canary",
                "name": involved.name,
                "namespace": involved.namespace,
                "uid": involved.uid,
            },
            "reason": event.reason,
            "message": event.message[:MAX_MESSAGE],
            "type": event.type.value,
            "count": 1,
            "firstTimestamp": moment,
            "lastTimestamp": moment,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
        }


class BackgroundKubeEvents(KubeEvents):
    """Events queued by `about` and written by tasks of their own (see the module's
    docstring). An Event goes to one of `writers` queues by its name, so the repeats of
    one Event are written in turn and its count goes up by one each. A full queue (the
    API down for long) drops the Event, as client-go's broadcaster does, with a warning
    for the first of a run of drops; the event is in the log either way."""

    def __init__(
        self,
        client: KubeClient,
        *,
        instance: str,
        clock: Callable[[], datetime] = _now,
        writers: int = 4,
        capacity: int = 10_000,
        close_timeout: float = 5.0,
    ) -> None:
        super().__init__(client, instance=instance, clock=clock)
        self.close_timeout = close_timeout
        """Seconds `close` waits for the queued Events to be written."""
        self._queues: list[asyncio.Queue[tuple[Involved, Event, str]]] = [
            asyncio.Queue(maxsize=max(1, capacity // writers)) for _ in range(writers)
        ]
        self._writers: list[asyncio.Task[None]] = []
        self.dropped = 0
        """Events not written because their queue was full."""
        self._dropping = False

    def start(self) -> None:
        """Start the writers, or those that ended. The operator starts them before kopf:
        kopf takes every task created after its start for its own, and at its stop (a
        leader stepping down) waits 5 s for them, then cancels them (docs/kubernetes.md);
        written Events would have stopped there. Started on first use otherwise."""
        running = {n: writer for n, writer in enumerate(self._writers) if not writer.done()}
        self._writers = [
            running.get(n) or asyncio.create_task(self._writer(queue), name=f"coalmine events {n}")
            for n, queue in enumerate(self._queues)
        ]

    async def _write(self, involved: Involved, event: Event, moment: str) -> None:
        if not self._writers or any(writer.done() for writer in self._writers):
            self.start()
        queue = self._queues[hash((involved, event)) % len(self._queues)]  # (as its name)
        try:
            queue.put_nowait((involved, event, moment))
            self._dropping = False
        except asyncio.QueueFull:
            self.dropped += 1
            if not self._dropping:
                log.warning("the Events queue is full (the API slow or down): dropping Events")
            self._dropping = True

    async def _writer(self, queue: asyncio.Queue[tuple[Involved, Event, str]]) -> None:
        while True:
            involved, event, moment = await queue.get()
            try:
                await super()._write(involved, event, moment)
            finally:
                queue.task_done()

    async def written(self) -> None:
        await asyncio.gather(*(queue.join() for queue in self._queues))

    async def close(self) -> None:
        """Write what is queued (for up to `close_timeout` seconds), then stop."""
        if not self._writers:
            return
        try:
            await asyncio.wait_for(self.written(), self.close_timeout)
        except TimeoutError:
            left = sum(queue.qsize() for queue in self._queues)
            log.warning("%d Events not written: the API did not take them in time", left)
        for writer in self._writers:
            writer.cancel()
        await asyncio.gather(*self._writers, return_exceptions=True)
        self._writers = []


def _logger(involved: Involved) -> CanaryLogger:
    return canary_logger(log, involved.name, involved.namespace)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
