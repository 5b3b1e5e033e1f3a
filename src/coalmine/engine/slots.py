"""When each canary ticks: at a stable offset within its interval, so that many do not wake at once.

A thousand canaries created together (or found together by a restarted controller) would
otherwise tick together, every interval, through one event loop: the measured tick p99
was 10 s at 1,000 canaries. Each canary instead ticks on its own grid, the moments
`offset + k * interval` of the wall clock, where the offset is a hash of its key (the
uid on a cluster, `namespace/name` in local mode, which has no uids):

- stable: the same key and interval give the same moments, on any replica and after a
  restart (so a takeover keeps the rhythm);
- spread: uids are random, so the offsets are uniform over the interval;
- at most one tick per slot: the next tick is the first slot at least half an interval
  after the start of the last one, so a tick that ends just before its next slot does
  not run twice in a row, and one that started off the grid (the first, or one woken
  early) joins it.

A canary never ticked before (no status yet) ticks at once: a new canary is initialized
without waiting up to an interval; every later tick is on its grid.

That is the operator's pace (`on_its_slots`). Local mode keeps its own,
`an_interval_after`: a whole interval after each tick ends. A grid makes the gap between
the end of one tick and the start of the next `interval - duration` in the steady state
and as little as half an interval after a long tick, and local ticks are long (they wait
for Envoy to serve the new weights) while their checks read only the last seconds of
Envoy's traffic (`analysis.interval: 2s`, windows of 4 s in the tests and the demo): on
slots, a check right after a weight change found no canary request completed yet (a
release answering in 1.5 s had "no data" instead of its latency) and failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from coalmine.api.canary import Canary

__all__ = [
    "Pace",
    "an_interval_after",
    "first_wait",
    "next_slot",
    "offset",
    "on_its_slots",
    "wait_for_slot",
]

Pace = Callable[[str, float, float, float], float]
"""`pace(key, interval, started, ended)`: the seconds a loop sleeps after a tick of the
canary `key` that began at `started` and ended at `ended` (wall-clock seconds)."""


def offset(key: str, interval: float) -> float:
    """Seconds into each interval at which the canary `key` ticks, in [0, interval)."""
    digest = hashlib.sha256(key.encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return fraction * interval


def next_slot(key: str, interval: float, started: float) -> float:
    """The wall-clock time (seconds since the epoch) of the tick after one that began at
    `started`: the first slot of the canary's grid after `started + interval / 2`."""
    after = started + interval / 2
    phase = offset(key, interval)
    return after + (phase - after) % interval


def wait_for_slot(key: str, interval: float | None, ticked: bool, now: float) -> float:
    """Seconds before the first tick of a loop: none for a canary never ticked (or one
    whose interval cannot be read: validation reports it), else until its next slot."""
    if not ticked or interval is None or interval <= 0:
        return 0.0
    return (offset(key, interval) - now) % interval


def first_wait(key: str, canary: Canary, now: float) -> float:
    """`wait_for_slot` for a canary model: ticked when its status has a phase."""
    ticked = bool(canary.status.phase)
    return wait_for_slot(key, canary.spec.analysis.interval_seconds, ticked, now)


def on_its_slots(key: str, interval: float, started: float, ended: float) -> float:
    """The operator's pace: until the canary's next slot (no wait when it is past)."""
    return next_slot(key, interval, started) - ended


def an_interval_after(key: str, interval: float, started: float, ended: float) -> float:
    """Local mode's pace: a whole interval after the tick ended, so that a tick's checks
    read an interval of traffic at the weights the tick before set."""
    return interval
