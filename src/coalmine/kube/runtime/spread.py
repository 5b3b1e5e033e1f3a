"""When each Canary ticks: at a stable offset within its interval, so that many do not wake at once.

A thousand Canaries created together (or found together by a restarted controller) would
otherwise tick together, every interval, through one event loop: the measured tick p99
was 10 s at 1,000 canaries. Each Canary instead ticks on its own grid, the moments
`offset + k * interval` of the wall clock, where the offset is a hash of its uid:

- stable: the same uid and interval give the same moments, on any replica and after a
  restart (so a takeover keeps the rhythm);
- spread: uids are random, so the offsets are uniform over the interval;
- at most one tick per slot: the next tick is the first slot at least half an interval
  after the start of the last one, so a tick that ends just before its next slot does
  not run twice in a row, and one that started off the grid (the first) joins it.

A Canary never ticked before (no status yet) ticks at once: a new Canary is initialized
without waiting up to an interval; every later tick is on its grid.
"""

from __future__ import annotations

import hashlib
from typing import Any

from coalmine.api.common import parse_duration

__all__ = ["first_wait", "interval_of", "next_slot", "offset"]


def offset(uid: str, interval: float) -> float:
    """Seconds into each interval at which the Canary `uid` ticks, in [0, interval)."""
    digest = hashlib.sha256(uid.encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return fraction * interval


def next_slot(uid: str, interval: float, started: float) -> float:
    """The wall-clock time (seconds since the epoch) of the tick after one that began at
    `started`: the first slot of the Canary's grid after `started + interval / 2`."""
    after = started + interval / 2
    phase = offset(uid, interval)
    return after + (phase - after) % interval


def first_wait(uid: str, body: dict[str, Any], now: float) -> float:
    """Seconds before the first tick of a daemon: none for a Canary never ticked (or one
    whose interval cannot be read: validation reports it), else until its next slot."""
    if not (body.get("status") or {}).get("phase"):
        return 0.0
    interval = interval_of(body)
    if interval is None:
        return 0.0
    return (offset(uid, interval) - now) % interval


def interval_of(body: dict[str, Any]) -> float | None:
    """The Canary's analysis.interval in seconds, read without validating the Canary;
    None when it is missing or cannot be read."""
    text = ((body.get("spec") or {}).get("analysis") or {}).get("interval")
    try:
        interval = parse_duration(str(text)).total_seconds() if text else 0.0
    except ValueError:
        return None
    return interval if interval > 0 else None
