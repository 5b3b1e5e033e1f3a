"""A cluster canary's analyses, from its Events and status (pure).

The operator keeps no history of its own, but its Events say when each revision's
analysis began ("New revision detected!", "Initialization done!" for the first), how far
the weight went ("Advance <canary> canary weight N", the first step joined to the start:
"Starting canary analysis for <target>, canary weight N") and how it ended ("Promotion
completed!", "Rolling back ...", "Canary failed!"). Kubernetes aggregates repeats of one
message into one Event: of N repeats the first and the latest are known
(firstTimestamp, lastTimestamp), those between are not, and Events expire (an hour by
default). What is known is used; Prometheus (`history.kube`) fills in the rest.

Revisions are named: the current one by its hash (`status.lastAppliedSpec`); the last
promoted one before it, when the current one is not promoted yet, by
`status.lastPromotedSpec`; any other by the time its analysis began
(`2026-12-02T05:10:03Z`), the only name a cluster keeps of it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from coalmine.history.records import TickRow
from coalmine.targets.base import CanaryView, EventView

__all__ = ["Mark", "Revisions", "event_ticks", "marks", "merge_starts", "revisions", "starts"]

ADVANCE = re.compile(r"^(?:Advance \S+|Starting canary analysis for \S+,) canary weight (\d+)")
STARTS = ("start", "Initialized")
"""Marks that begin a revision's analysis."""
ENDS = ("Succeeded", "Failed", "Initialized")


@dataclass(frozen=True)
class Mark:
    """One moment an Event tells of: a start, a weight, or a verdict."""

    time: datetime
    kind: str
    """"start", "weight", or the phase it ended in: Succeeded, Failed, Initialized."""
    weight: int = 0
    closes: bool = False
    """The analysis is over ("Rolling back" is not yet: "Canary failed!" follows)."""


def _kind(message: str) -> tuple[str, int, bool] | None:
    if message.startswith("New revision detected"):
        return "start", 0, False
    advance = ADVANCE.match(message)
    if advance:
        return "weight", int(advance.group(1)), False
    if message.startswith("Promotion completed"):
        return "Succeeded", 0, True
    if message.startswith("Rolling back"):
        return "Failed", 0, False
    if message.startswith("Canary failed"):
        return "Failed", 0, True
    if message.startswith("Initialization done"):
        return "Initialized", 0, True
    return None


def marks(events: Sequence[EventView]) -> list[Mark]:
    """Every moment the Events tell of, oldest first (an aggregated Event: its first and
    its latest occurrence)."""
    found = []
    for event in events:
        kind = _kind(event.message)
        if kind is None:
            continue
        times = {event.time} | ({event.first_time} if event.first_time else set())
        found += [Mark(time, *kind) for time in times]
    return sorted(found, key=_order)


def _order(mark: Mark) -> tuple[datetime, int]:
    """Within one second (Events' resolution): steps, then the end, then a new start."""
    return mark.time, 2 if mark.kind == "start" else 1 if mark.closes else 0


def starts(found: Sequence[Mark]) -> list[datetime]:
    """When analyses began: each start the Events tell, and, where an aggregated Event
    hid one, the first mark after an analysis was over (a revision ends once, so a step
    or a verdict after the end belongs to a newer one, begun no later than that)."""
    found_starts: list[datetime] = []
    over = False
    for mark in found:
        if mark.kind in STARTS or over:
            found_starts.append(mark.time)
        over = mark.closes
    return found_starts


def merge_starts(
    measured: Sequence[datetime], told: Sequence[datetime], within: timedelta
) -> list[datetime]:
    """Starts seen in Prometheus (`measured`, where the status turns to running), and
    those only the Events tell (`told`, e.g. an analysis restarted by a newer revision),
    a told one within `within` of a measured one being the same start."""
    extra = [t for t in told if all(abs(t - m) > within for m in measured)]
    return sorted([*measured, *extra])


@dataclass(frozen=True)
class Revisions:
    """The revisions whose analysis began at `starts`, named and judged."""

    starts: tuple[datetime, ...]
    names: tuple[str, ...]
    verdicts: tuple[str | None, ...]
    """How each ended, from the Events (None: they do not say)."""
    before: str
    """The phase before the first start (from the Events), "Unknown" if they do not say."""

    def index(self, at: datetime) -> int:
        """Which revision `at` belongs to; -1 before the first start."""
        return bisect_right(self.starts, at) - 1

    def name(self, at: datetime) -> str:
        found = self.index(at)
        return self.names[found] if found >= 0 else ""


def revisions(canary: CanaryView, begun: Sequence[datetime], found: Sequence[Mark]) -> Revisions:
    ordered = tuple(sorted(set(begun)))
    verdicts = []
    for index, start in enumerate(ordered):
        end = ordered[index + 1] if index + 1 < len(ordered) else None
        inside = [
            m for m in found if m.kind in ENDS and start <= m.time and (end is None or m.time < end)
        ]
        verdicts.append(inside[-1].kind if inside else None)
    earlier = [m for m in found if m.kind in ENDS and (not ordered or m.time < ordered[0])]
    return Revisions(
        starts=ordered,
        names=_names(canary, ordered, verdicts),
        verdicts=tuple(verdicts),
        before=earlier[-1].kind if earlier else "Unknown",
    )


def _names(
    canary: CanaryView, starts: Sequence[datetime], verdicts: Sequence[str | None]
) -> tuple[str, ...]:
    names = [f"{start:%Y-%m-%dT%H:%M:%SZ}" for start in starts]
    if not names:
        return ()
    current, promoted = canary.last_applied or names[-1], canary.last_promoted
    names[-1] = current
    if promoted and promoted != current:
        succeeded = [i for i, v in enumerate(verdicts[:-1]) if v == "Succeeded"]
        if succeeded:
            names[succeeded[-1]] = promoted
    return tuple(names)


def event_ticks(
    canary: CanaryView, events: Sequence[EventView], now: datetime
) -> tuple[TickRow, ...]:
    """A tick per moment the Events tell of, and one for now from the status: the history
    of a cluster canary when no Prometheus is known."""
    found = marks(events)
    named = revisions(canary, starts(found), found)
    label: Callable[[datetime], str] = named.name
    if not named.starts:
        current = canary.last_applied or ""

        def label(_: datetime) -> str:
            return current

    rows = []
    for mark in found:
        phase = "Progressing" if mark.kind in ("start", "weight") else mark.kind
        rows.append(TickRow(mark.time, phase, mark.weight, 0, label(mark.time)))
    if canary.phase:
        rows.append(TickRow(now, canary.phase, canary.weight, canary.failed_checks, label(now)))
    return tuple(rows)
