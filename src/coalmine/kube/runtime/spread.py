"""When a Canary's loop first ticks, read from the body the watch showed it with.

Each Canary ticks at a stable offset within its interval, on its own grid of the wall
clock, so that many do not wake at once: the grid is `engine.slots` (the offset is a hash
of the uid), shared with local mode; the loop that sleeps to it is `engine.loop`.

A loop starts from the Canary's body as kopf's watch showed it, not yet validated: a
Canary never ticked before (no status yet) ticks at once, so a new Canary is initialized
without waiting up to an interval; one found by a restarted controller waits for its
slot, so the rhythm is kept across restarts. A replica taking a shard over ticks its
Canaries at once (their holder died: their slot may have passed unticked).
"""

from __future__ import annotations

from typing import Any

from coalmine.api.common import parse_duration
from coalmine.engine.slots import wait_for_slot

__all__ = ["first_wait", "interval_of"]


def first_wait(uid: str, body: dict[str, Any], now: float) -> float:
    """Seconds before the first tick of a loop: none for a Canary never ticked (or one
    whose interval cannot be read: validation reports it), else until its next slot."""
    ticked = bool((body.get("status") or {}).get("phase"))
    return wait_for_slot(uid, interval_of(body), ticked, now)


def interval_of(body: dict[str, Any]) -> float | None:
    """The Canary's analysis.interval in seconds, read without validating the Canary;
    None when it is missing or cannot be read."""
    text = ((body.get("spec") or {}).get("analysis") or {}).get("interval")
    try:
        interval = parse_duration(str(text)).total_seconds() if text else 0.0
    except ValueError:
        return None
    return interval if interval > 0 else None
