"""read_history: a canary's History from wherever it runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from coalmine.history.build import build_history
from coalmine.history.cluster import event_ticks
from coalmine.history.model import History
from coalmine.history.records import Records
from coalmine.targets.base import CanaryView, EventView, Target

__all__ = ["EVENTS_READ", "read_history"]

EVENTS_READ = 1000


async def read_history(
    target: Target, namespace: str, name: str, *, metrics_server: str | None = None
) -> History:
    """Local: the store's rows. Cluster: the status and Events (`history.cluster`), and
    with `metrics_server` the weights, checks and the primary's values from Prometheus."""
    canary = await target.canary(namespace, name)
    events = await target.events(namespace, name, limit=EVENTS_READ)
    records = await _records(target, canary, events, metrics_server)
    return build_history(canary, records, events)


async def _records(
    target: Target, canary: CanaryView, events: Sequence[EventView], metrics_server: str | None
) -> Records:
    from coalmine.targets.local import LocalTarget

    if isinstance(target, LocalTarget):
        return Records.from_json(target.client.history(canary.namespace, canary.name))
    if metrics_server is None:
        return Records(ticks=event_ticks(canary, events, datetime.now(UTC)))
    from coalmine.history.kube import prometheus_records

    return await prometheus_records(canary, metrics_server, events)
