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
"""

from __future__ import annotations

import hashlib

from coalmine.api.canary import Canary

__all__ = ["first_wait", "next_slot", "offset", "wait_for_slot"]


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
