"""Where the dashboard reads from and acts on: the Source protocol, and TargetSource."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from coalmine.errors import CoalmineError
from coalmine.history.model import History, WeightPoint
from coalmine.targets.asking import refusal, said
from coalmine.targets.base import Asked, CanaryView, EventView, Target
from coalmine.targets.local import LocalTarget

__all__ = ["SPARK_TICKS", "Source", "TargetSource", "Weights", "ask_checked"]

log = logging.getLogger(__name__)

Weights = Mapping[tuple[str, str], Sequence[WeightPoint]]
"""(namespace, name) -> recent weights, oldest first."""


@runtime_checkable
class AllEvents(Protocol):
    """A target that lists every Canary's Events in one call (a cluster's KubeTarget)."""

    async def canary_events(
        self, namespace: str | None, limit: int = 50
    ) -> dict[tuple[str, str], list[EventView]]: ...


SPARK_TICKS = 120
"""Ticks drawn in an overview row's weight history."""


class Source(Protocol):
    description: str
    """Said on the page: "coalmine up (.coalmine)", "Kubernetes at https://..."."""
    period: float
    """Seconds between two `version()` polls: how soon after a tick a page learns of it."""

    async def canaries(self) -> list[CanaryView]: ...

    async def weights(self, canaries: Sequence[CanaryView]) -> Weights:
        """Each canary's recent weights (an overview row's history), read for all of them
        at once; a canary's may be empty."""
        ...

    async def history(self, namespace: str, name: str) -> History: ...

    async def ask(self, namespace: str, name: str, asked: Asked, by: str) -> str:
        """Apply the CLI's rule, then ask; answers what happens next. Refusals raise
        CoalmineError with the reason."""
        ...

    async def version(self) -> str:
        """Changes whenever anything shown may have changed; cheap to poll."""
        ...


async def ask_checked(target: Target, canary: CanaryView, asked: Asked, by: str) -> str:
    """The CLI's `_act` without the terminal: refuse or ask, and say what was done."""
    refused = refusal(canary, asked)
    if refused:
        raise CoalmineError(refused)
    await target.ask(canary, asked, by)
    return said(canary, asked, by, "")


class TargetSource:
    """Any Target, as `coalmine dashboard` uses it: a running `coalmine up` (its API) or a
    cluster (the kubeconfig's credentials; weights and checks over time from Prometheus
    when a metrics server is given). The local target's calls are short blocking HTTP
    calls to 127.0.0.1, made on the dashboard's loop (one person's dashboard)."""

    def __init__(self, target: Target, metrics_server: str | None = None) -> None:
        self.target = target
        self.metrics_server = metrics_server
        self.description = target.description
        self.period = 0.5 if target.kind == "local" else 1.0
        """A cluster's API server is asked for every Canary at each poll: once a second."""

    async def canaries(self) -> list[CanaryView]:
        return await self.target.canaries(None)

    async def weights(self, canaries: Sequence[CanaryView]) -> Weights:
        """Local: each canary's last ticks from the runtime's API. Cluster: one range
        query to Prometheus for all canaries, or (without one, or when it fails) one list
        of every Canary's Events."""
        if isinstance(self.target, LocalTarget):
            return {(c.namespace, c.name): self._local_weights(self.target, c) for c in canaries}
        if not isinstance(self.target, AllEvents):
            return {}
        from coalmine.history.recent import event_weights, prometheus_weights

        if self.metrics_server is not None:
            try:
                return await prometheus_weights(canaries, self.metrics_server)
            except CoalmineError as error:
                log.warning("the overview's weights from the events: %s", error)
        try:
            events = await self.target.canary_events(None)
        except CoalmineError as error:  # e.g. no right to list Events: the status alone
            log.warning("the overview's weights from the status only: %s", error)
            events = {}
        return event_weights(canaries, events, datetime.now(UTC))

    @staticmethod
    def _local_weights(target: LocalTarget, canary: CanaryView) -> Sequence[WeightPoint]:
        from coalmine.history.records import Records

        data = target.client.history(canary.namespace, canary.name, ticks=SPARK_TICKS)
        return tuple(
            WeightPoint(t.time, t.weight, t.phase, t.failed_checks, t.revision)
            for t in Records.from_json(data).ticks
        )

    async def history(self, namespace: str, name: str) -> History:
        from coalmine.history.reading import read_history

        return await read_history(self.target, namespace, name, metrics_server=self.metrics_server)

    async def ask(self, namespace: str, name: str, asked: Asked, by: str) -> str:
        return await ask_checked(self.target, await self.target.canary(namespace, name), asked, by)

    async def version(self) -> str:
        """A digest of every canary's spec and status, and of the newest events."""
        found = await self.target.canaries(None)
        state = [(c.namespace, c.name, c.spec, c.status) for c in found]
        return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()
