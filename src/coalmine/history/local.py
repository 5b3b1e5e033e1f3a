"""A local canary's rows, straight from `coalmine up`'s store."""

from __future__ import annotations

from coalmine.history.records import CheckRow, Records, SampleRow, TickRow
from coalmine.local.store import Store

__all__ = ["store_records"]

LIMIT = 20000
"""Rows of each kind read at most (the newest): about a day of 5 s ticks."""


def store_records(
    store: Store, namespace: str, name: str, *, ticks_only: int | None = None
) -> Records:
    """Every kind of row (the newest LIMIT of each); with `ticks_only`, that many ticks."""
    ticks = tuple(
        TickRow(t.time, t.phase, t.canary_weight, t.failed_checks, t.revision)
        for t in store.ticks(namespace, name, limit=ticks_only or LIMIT)
    )
    if ticks_only is not None:
        return Records(ticks=ticks)
    return Records(
        ticks=ticks,
        checks=tuple(
            CheckRow(c.time, c.revision, c.metric, c.value, c.min, c.max, c.passed, c.reason)
            for c in store.checks(namespace, name, limit=LIMIT)
        ),
        samples=tuple(
            SampleRow(s.time, s.revision, s.role, s.metric, s.value, s.seconds)
            for s in store.samples(namespace, name, limit=LIMIT)
        ),
    )
